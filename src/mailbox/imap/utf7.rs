//! IMAP's modified UTF-7 for folder names (RFC 3501 §5.1.3): printable ASCII stands for itself (`&` is
//! written `&-`), anything else is UTF-16BE in base64 with `,` for `/`, unpadded, between `&` and `-`.
//! `Lang/Français` on the server is `Lang/Fran&AOc-ais`. Used only for names sent to or read from IMAP.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// The server's spelling of a folder name (one hierarchy level or a whole path: `/` is ASCII).
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut wide: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut wide);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            wide.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut wide);
    out
}

fn flush(out: &mut String, wide: &mut Vec<u16>) {
    if wide.is_empty() {
        return;
    }
    let bytes: Vec<u8> = wide.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out.push('-');
    wide.clear();
}

/// The folder name a server spelling stands for; a spelling that is not valid modified UTF-7 is taken
/// as it is.
pub fn decode(name: &str) -> String {
    try_decode(name).unwrap_or_else(|| name.to_owned())
}

fn try_decode(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            out.push_str(&decode_run(encoded)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn decode_run(encoded: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut n = 0u32;
    let mut bytes = Vec::new();
    for b in encoded.bytes() {
        let v = ALPHABET.iter().position(|&a| a == b)?;
        bits = bits << 6 | u32::try_from(v).ok()?;
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push(u8::try_from(bits >> n & 0xff).ok()?);
        }
    }
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn names_round_trip_through_modified_utf7() -> anyhow::Result<()> {
        for (plain, wire) in [
            ("Lang/Français", "Lang/Fran&AOc-ais"),
            ("Q&A", "Q&-A"),
            ("Triage", "Triage"),
            ("日本語", "&ZeVnLIqe-"),
            ("Grüße & Co", "Gr&APwA3w-e &- Co"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode(plain), wire, "{plain}");
            assert_eq!(decode(wire), plain, "{wire}");
        }
        Ok(())
    }

    #[test]
    fn invalid_spellings_are_taken_literally() -> anyhow::Result<()> {
        assert_eq!(decode("a&b"), "a&b");
        assert_eq!(decode("&!!-"), "&!!-");
        Ok(())
    }
}
