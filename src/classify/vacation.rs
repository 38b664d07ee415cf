//! Vacation (RFC 5230) as Pigeonhole decides it. sieve-rs already refuses to answer an empty sender, its
//! own address, list headers (`List-*`), `Auto-Submitted` other than `no`, `X-Auto-Response-Suppress`
//! All/OOF, `Precedence: bulk`, and mail whose To/Cc/Bcc/Resent-* do not name the recipient; Pigeonhole
//! 0.5 also refuses `Precedence: junk`/`list`, system senders (`MAILER-DAEMON`, `LISTSERV`,
//! `majordomo`, `owner-*`, `*-request`), applied here. It also reads the reply sieve-rs built into a
//! `Vacation` the worker can queue. It must not send anything.

use super::{Envelope, Vacation};

/// The Pigeonhole checks sieve-rs does not make; true when a reply may go out.
pub(crate) fn would_reply(parsed: &mail_parser::Message<'_>, envelope: &Envelope) -> bool {
    if is_system_address(&envelope.from) || envelope.from.is_empty() {
        return false;
    }
    let precedence = parsed
        .header_values("Precedence")
        .filter_map(|v| v.as_text())
        .any(|v| {
            ["junk", "bulk", "list"]
                .iter()
                .any(|p| v.trim().eq_ignore_ascii_case(p))
        });
    // sieve-rs looks for `Auto-Submitted` as an unknown header, but mail-parser 0.11 knows it
    // (`HeaderName::AutoSubmitted`), so sieve-rs never sees it: checked here (RFC 5230 4.6).
    let auto_submitted = parsed
        .header_values(mail_parser::HeaderName::AutoSubmitted)
        .any(|v| {
            v.as_text()
                .is_none_or(|t| !t.trim().eq_ignore_ascii_case("no"))
        });
    !precedence && !auto_submitted
}

/// Pigeonhole's `sieve_address_is_system`-like check on the local part.
fn is_system_address(address: &str) -> bool {
    let local = address
        .rsplit_once('@')
        .map_or(address, |(l, _)| l)
        .to_ascii_lowercase();
    ["mailer-daemon", "listserv", "majordomo"].contains(&local.as_str())
        || local.starts_with("owner-")
        || local.ends_with("-request")
}

/// Reads the reply sieve-rs built (`From`, `Subject`, body) and the vacation test's duplicate id
/// (`_v` + sender + handle-or-reason, and the period).
pub(crate) fn from_created(
    created: &[u8],
    recipient: String,
    meta: Option<(String, u64)>,
    sender: &str,
    origin: Option<String>,
) -> Vacation {
    let text = String::from_utf8_lossy(created);
    let header_value = |name: &str| {
        text.split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(name).map(str::to_string))
    };
    const PLAIN: &str = "Content-type: text/plain; charset=utf-8\r\n\r\n";
    let (mime, body) = match text.split_once(PLAIN) {
        Some((_, body)) => (false, body.to_string()),
        None => (
            true,
            text.split_once("Auto-Submitted: auto-replied\r\n")
                .map_or(String::new(), |(_, b)| b.to_string()),
        ),
    };
    let (handle, period_seconds) = match meta {
        Some((id, expiry)) => {
            let rest = id.strip_prefix("_v").unwrap_or(&id);
            let rest = rest
                .strip_prefix(sender.to_ascii_lowercase().as_str())
                .unwrap_or(rest);
            ((rest != body).then(|| rest.to_string()), expiry)
        }
        None => (None, 0),
    };
    Vacation {
        recipient,
        from: header_value("From: "),
        subject: header_value("Subject: ").unwrap_or_default(),
        body,
        mime,
        handle,
        period_seconds,
        origin,
    }
}

#[cfg(test)]
mod tests {
    use super::is_system_address;

    #[test]
    fn system_senders_are_recognised_like_pigeonhole() {
        for a in [
            "MAILER-DAEMON@x.org",
            "listserv@x.org",
            "Majordomo@x.org",
            "owner-list@x.org",
            "list-request@x.org",
        ] {
            assert!(is_system_address(a), "{a}");
        }
        for a in ["mailer-daemonx@x.org", "bob@x.org", "requests@x.org"] {
            assert!(!is_system_address(a), "{a}");
        }
    }
}
