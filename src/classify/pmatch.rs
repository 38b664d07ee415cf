//! Sieve `:matches` exactly as Dovecot Pigeonhole 0.5 evaluates it, match values included. It owns only
//! the matching of one value against one key; it must not know where values come from.
//!
//! RFC 5228 2.7.1 describes a glob; Pigeonhole implements it as a left-to-right scan that differs from a
//! textbook glob in ways that change buckets, so triaged reproduces the scan rather than the RFC:
//! - `?` is one octet (not one character), and every `?` and `*` is a match value (RFC 5229 3.2);
//! - each `*` takes as little as possible, left to right; the last takes the rest;
//! - in the key's first section (before any `*`), when the literal text after the last `?` does not
//!   match where it must, the scan does not fail: that text is skipped and the scan goes on at the next
//!   `*`, with an extra empty match value. So `"??? *"` matches `"Kennwort"` with `${1}` = `K`.
//! - after a `*`, a failed `?` run backtracks one octet past where the preceding literal was found, and
//!   any `?` counted before that literal is skipped again on the retry.

/// Matches `value` against `key`; on success returns the match values (`${0}` = the whole value).
/// `fold` is the `i;ascii-casemap` comparator (ASCII case-insensitive); otherwise `i;octet`.
pub(crate) fn matches(value: &[u8], key: &[u8], fold: bool) -> Option<Vec<Vec<u8>>> {
    let mut s = Scan {
        val: value,
        key,
        fold,
        vp: 0,
        wp: 0,
        kp: 0,
        values: vec![Vec::new()],
        wcard: 0,
        next: 0,
        backtrack: false,
        key_offset: 0,
        section: Vec::new(),
        sub: Vec::new(),
        mvalue: Vec::new(),
        mchars: Vec::new(),
        resume: None,
    };
    let (kp, next) = s.run();
    let mut kp = kp;
    if s.vp == value.len() {
        while kp < key.len() && key[kp] == b'*' {
            kp += 1;
        }
    }
    if kp == key.len() && s.vp == value.len() && next != b'?' {
        s.values[0] = value.to_vec();
        Some(s.values)
    } else {
        None
    }
}

struct Scan<'a> {
    val: &'a [u8],
    key: &'a [u8],
    fold: bool,
    /// Position in the value.
    vp: usize,
    /// Position of the key scanner (at the next wildcard).
    wp: usize,
    /// Key consumed so far (what must reach the end for a match).
    kp: usize,
    values: Vec<Vec<u8>>,
    /// The wildcard before the current section (0 at the start of the key).
    wcard: u8,
    /// The wildcard after the current section (0 at the end of the key).
    next: u8,
    /// A failed `?` run asked for the section to be tried again one octet further on.
    backtrack: bool,
    /// `?`s directly after the `*` before the current section: octets to take before the section.
    key_offset: usize,
    /// The current literal section of the key, and the one after a `?`.
    section: Vec<u8>,
    sub: Vec<u8>,
    /// What the `*` before the section matched, and the octets its `?`s matched.
    mvalue: Vec<u8>,
    mchars: Vec<u8>,
    /// Where to resume after a failed `?` run: (value, consumed key, key scanner) positions.
    resume: Option<(usize, usize, usize)>,
}

impl Scan<'_> {
    /// Literal text from `wp` up to the next unescaped wildcard; returns that wildcard (0 at the end).
    fn section(&mut self, out: &mut Vec<u8>) -> u8 {
        out.clear();
        while self.wp < self.key.len() && !matches!(self.key[self.wp], b'*' | b'?') {
            if self.key[self.wp] == b'\\' {
                self.wp += 1;
                if self.wp == self.key.len() {
                    out.push(b'\\');
                    break;
                }
            }
            out.push(self.key[self.wp]);
            self.wp += 1;
        }
        self.key.get(self.wp).copied().unwrap_or(0)
    }

    fn at(&self, pos: usize, needle: &[u8]) -> bool {
        let Some(hay) = self.val.get(pos..pos + needle.len()) else {
            return false;
        };
        if self.fold {
            hay.eq_ignore_ascii_case(needle)
        } else {
            hay == needle
        }
    }

    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        (from..self.val.len()).find(|&p| self.at(p, needle))
    }

    fn skip_wildcard(&mut self) {
        if self.wp < self.key.len() {
            self.wp += 1;
        }
        self.kp = self.wp;
    }

    /// The scan; returns the consumed key position and the last wildcard seen.
    fn run(&mut self) -> (usize, u8) {
        let (vlen, klen) = (self.val.len(), self.key.len());
        while self.kp < klen && self.vp < vlen {
            if self.backtrack {
                self.backtrack = false;
            } else {
                self.next_section();
            }
            let pvp = self.vp;
            if self.next == 0 {
                let section = std::mem::take(&mut self.section);
                let mut mvalue = std::mem::take(&mut self.mvalue);
                self.finish(self.wcard, &section, self.key_offset, pvp, &mut mvalue);
                break;
            }
            if !self.place_section(pvp) {
                break;
            }
            self.skip_wildcard();
            self.question_run();
            if !self.backtrack && !self.take_values() {
                break;
            }
            if self.kp == klen && self.next == b'*' {
                self.values.push(self.val[self.vp..].to_vec());
                (self.kp, self.vp) = (klen, vlen);
                break;
            }
        }
        (self.kp, self.next)
    }

    /// Moves on to the next non-empty literal section of the key, counting the `?`s that directly
    /// follow a `*` (they take octets before the section).
    fn next_section(&mut self) {
        self.wcard = self.next;
        self.key_offset = 0;
        let mut section = std::mem::take(&mut self.section);
        loop {
            self.next = self.section(&mut section);
            if self.wcard == 0
                || !section.is_empty()
                || self.next == b'*'
                || self.wp >= self.key.len()
            {
                break;
            }
            self.wp += 1;
            self.key_offset += 1;
        }
        self.section = section;
        self.mvalue.clear();
    }

    /// Places the current section in the value: right here at the start of the key, or at its first
    /// occurrence after a `*` (remembered for backtracking). False when it is not there.
    fn place_section(&mut self, pvp: usize) -> bool {
        self.mchars.clear();
        self.resume = None;
        if self.wcard == 0 {
            if !self.at(self.vp, &self.section) {
                return false;
            }
            self.vp += self.section.len();
            return true;
        }
        self.vp += self.key_offset;
        if self.vp >= self.val.len() {
            return false;
        }
        let Some(found) = self.find(self.vp, &self.section) else {
            return false;
        };
        self.vp = found + self.section.len();
        self.resume = Some((found, self.kp, self.wp));
        let qp = found - self.key_offset;
        self.mvalue.extend_from_slice(&self.val[pvp..qp]);
        self.mchars.extend_from_slice(&self.val[qp..found]);
        true
    }

    /// Matches the `?`s after the section, each one octet followed by its literal text; on failure
    /// after a `*`, asks to retry the section one octet past where it was found.
    fn question_run(&mut self) {
        let vlen = self.val.len();
        let mut sub = std::mem::take(&mut self.sub);
        while self.next == b'?' {
            let ok = self.vp < vlen && {
                self.mchars.push(self.val[self.vp]);
                self.vp += 1;
                self.next = self.section(&mut sub);
                !(sub.is_empty() && self.next == 0 && self.vp < vlen) && self.at(self.vp, &sub)
            };
            if ok {
                self.vp += sub.len();
                self.skip_wildcard();
                continue;
            }
            if let Some((prv, prk, prw)) = self.resume
                && prv + 1 < vlen
            {
                (self.vp, self.kp, self.wp) = (prv, prk, prw);
                self.mvalue.push(self.val[prv]);
                self.vp += 1;
                (self.wcard, self.next, self.backtrack) = (b'*', b'?', true);
            }
            break;
        }
        self.sub = sub;
    }

    /// Records the match values of the section just matched; false when the scan must stop here.
    fn take_values(&mut self) -> bool {
        if self.next == b'?' {
            return false;
        }
        if self.resume.is_some() {
            self.values.push(self.mvalue.clone());
        }
        self.values.extend(self.mchars.iter().map(|&c| vec![c]));
        self.next == b'*'
    }

    /// The key has no wildcard left: the section must match exactly here (no `*` before) or at the end.
    fn finish(
        &mut self,
        wcard: u8,
        section: &[u8],
        key_offset: usize,
        pvp: usize,
        mvalue: &mut Vec<u8>,
    ) {
        let vlen = self.val.len();
        if wcard == 0 {
            if vlen - self.vp != section.len() || !self.at(self.vp, section) {
                return;
            }
        } else {
            if self.vp + section.len() + key_offset > vlen {
                return;
            }
            let start = vlen - section.len();
            if !self.at(start, section) {
                return;
            }
            let qp = start - key_offset;
            mvalue.extend_from_slice(&self.val[pvp..qp]);
            self.values.push(mvalue.clone());
            self.values
                .extend(self.val[qp..start].iter().map(|&c| vec![c]));
        }
        (self.kp, self.vp) = (self.key.len(), vlen);
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn vals(v: &str, k: &str) -> Option<Vec<String>> {
        matches(v.as_bytes(), k.as_bytes(), true).map(|vs| {
            vs.iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect()
        })
    }

    #[test]
    fn stars_take_as_little_as_possible_left_to_right() {
        assert_eq!(
            vals("Re: Re: x", "*: *"),
            Some(vec!["Re: Re: x".into(), "Re".into(), "Re: x".into()])
        );
        assert_eq!(vals("abc", "a*c"), Some(vec!["abc".into(), "b".into()]));
        assert_eq!(vals("ABC", "abc"), Some(vec!["ABC".into()]));
        assert_eq!(vals("abc", "ab"), None);
        assert_eq!(vals("", "*"), Some(vec!["".into()]));
        assert_eq!(vals("a*b", "a\\*b"), Some(vec!["a*b".into()]));
    }

    #[test]
    fn question_marks_before_a_failing_literal_skip_it_like_pigeonhole() {
        // Pigeonhole 0.5: "??? *" matches a word without a space; ${1} is its first octet.
        let got = vals("Kennwort", "??? *");
        assert_eq!(
            got,
            Some(vec![
                "Kennwort".into(),
                "K".into(),
                "e".into(),
                "n".into(),
                "".into(),
                "nwort".into()
            ])
        );
        assert_eq!(
            vals("Re: x", "??? *").map(|v| v[4].clone()),
            Some("x".into())
        );
        assert_eq!(vals("ab", "???*"), None);
    }

    #[test]
    fn question_mark_is_one_octet() {
        let got = matches("Пa".as_bytes(), b"?*", true);
        assert_eq!(got.map(|v| v[1].clone()), Some(vec![0xD0]));
    }
}
