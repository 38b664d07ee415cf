//! `Verdict`: what the Sieve script decided for one message, collapsed into a small value the worker acts
//! on, and its TSV/JSON rendering (the format shared with the Pigeonhole differential harness).
//! It must not know how the mailbox carries the decision out.

use serde::Serialize;
use std::collections::BTreeSet;

/// Where a store action puts the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Folder {
    /// `keep` (explicit or implicit): the folder the message is in (rendered `INBOX`).
    Keep,
    /// `fileinto`: a folder named by the script, after variable expansion, `/` as separator.
    Named(String),
}

/// One store action (keep or fileinto).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreAction {
    pub folder: Folder,
    /// IMAP flags as the script spelled them (imap4flags variable or `:flags`).
    pub flags: Vec<String>,
    /// `fileinto :create`: create the folder when missing (RFC 5490).
    pub create: bool,
    /// True for the implicit keep (no action cancelled it).
    pub implicit: bool,
    /// Script position of the action (`line:column`), when known.
    pub origin: Option<String>,
}

/// A `redirect`, queued through the outbox by the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    pub address: String,
    /// `:copy`: the redirect did not cancel the implicit keep.
    pub copy: bool,
    pub origin: Option<String>,
}

/// A vacation reply that Pigeonhole would send (RFC 5230 checks already applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vacation {
    /// The envelope sender being answered.
    pub recipient: String,
    /// `:from`, or None for the mailbox's own address.
    pub from: Option<String>,
    /// `:subject`, or the default `Auto: <original subject>`.
    pub subject: String,
    /// The reason text (a whole MIME entity when `mime`).
    pub body: String,
    pub mime: bool,
    /// `:handle`, when given.
    pub handle: Option<String>,
    /// `:days`/`:seconds` as seconds; at most one reply per sender and handle in that period.
    pub period_seconds: u64,
    pub origin: Option<String>,
}

/// `reject`/`ereject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub reason: String,
    pub extended: bool,
}

/// Why no normal verdict could be reached; the message is kept and reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictError {
    /// Short kebab-case token (`no-header-separator`, `cpu-limit`, `too-large`, ...).
    pub reason: String,
    /// Human-readable detail for logs (never message content).
    pub detail: String,
}

/// One line of the `--explain` trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceStep {
    pub line: usize,
    pub column: usize,
    /// `if-matched`, `elsif-matched`, `else-matched`, or the action name.
    pub what: String,
}

/// What Sieve decided for one message: not yet what the mailbox does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub stores: Vec<StoreAction>,
    pub redirects: Vec<Redirect>,
    pub vacations: Vec<Vacation>,
    /// An explicit `discard` left the message with no store action.
    pub discard: bool,
    pub reject: Option<Reject>,
    pub error: Option<VerdictError>,
    /// Collected only when explain was asked for.
    pub trace: Vec<TraceStep>,
}

impl Verdict {
    /// The error verdict: keep in the source folder, report `error:REASON`.
    pub fn error(reason: &str, detail: impl Into<String>) -> Verdict {
        Verdict {
            stores: vec![StoreAction {
                folder: Folder::Keep,
                flags: Vec::new(),
                create: false,
                implicit: true,
                origin: None,
            }],
            error: Some(VerdictError {
                reason: reason.to_string(),
                detail: detail.into(),
            }),
            ..Verdict::default()
        }
    }

    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }

    /// Folders, sorted bytewise and deduplicated; `INBOX` for keep.
    pub fn folders(&self) -> Vec<String> {
        let set: BTreeSet<String> = self
            .stores
            .iter()
            .map(|s| match &s.folder {
                Folder::Keep => "INBOX".to_string(),
                Folder::Named(name) => name.clone(),
            })
            .collect();
        set.into_iter().collect()
    }

    /// Union of the flags of every store, canonical spelling, sorted bytewise.
    pub fn flags(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for flag in self.stores.iter().flat_map(|s| s.flags.iter()) {
            let flag = canonical_flag(flag);
            if !seen.iter().any(|f| f.eq_ignore_ascii_case(&flag)) {
                seen.push(flag);
            }
        }
        seen.sort();
        seen
    }

    /// The non-store actions as TSV tokens, sorted bytewise.
    pub fn actions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.redirects {
            let kind = if r.copy { "redirect-copy" } else { "redirect" };
            out.push(format!("{kind}:{}", r.address));
        }
        if !self.vacations.is_empty() {
            out.push("vacation".to_string());
        }
        if self.discard && self.stores.is_empty() {
            out.push("discard".to_string());
        }
        if self.reject.is_some() {
            out.push("reject".to_string());
        }
        if let Some(e) = &self.error {
            out.push(format!("error:{}", e.reason));
        }
        out.sort();
        out.dedup();
        out
    }

    /// `path<TAB>folders<TAB>flags<TAB>actions`, without the line end.
    pub fn tsv_line(&self, path: &str) -> String {
        format!(
            "{path}\t{}\t{}\t{}",
            join(self.folders()),
            join(self.flags()),
            join(self.actions())
        )
    }

    /// Each copy the verdict makes, with its own flags: folder (`INBOX` for keep) → flags, canonical
    /// spelling, sorted bytewise. Store actions into one folder are one copy with the flags of the last
    /// of them, as in Pigeonhole; copies are never merged with each other.
    pub fn copies(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for store in &self.stores {
            let folder = match &store.folder {
                Folder::Keep => "INBOX".to_string(),
                Folder::Named(name) if name.eq_ignore_ascii_case("INBOX") => "INBOX".to_string(),
                Folder::Named(name) => name.clone(),
            };
            let flags = out.entry(folder).or_default();
            flags.clear();
            for flag in &store.flags {
                let flag = canonical_flag(flag);
                if !flags.iter().any(|f| f.eq_ignore_ascii_case(&flag)) {
                    flags.push(flag);
                }
            }
        }
        for flags in out.values_mut() {
            flags.sort();
        }
        out
    }

    /// `path<TAB>copies<TAB>actions`, the differential test's line: every copy as `FOLDER=FLAGS`
    /// (`Privacy=\Flagged;Accounts=`, flags space-separated), and every action with its arguments: the
    /// redirect address, the reject reason, the vacation reply's From address (`:from`, or the one of
    /// `:addresses` the message was sent to), `:days` (in seconds), subject and recipient. Separators inside values are escaped with `\`.
    pub fn copies_line(&self, path: &str) -> String {
        let copies: Vec<String> = self
            .copies()
            .into_iter()
            .map(|(folder, flags)| format!("{}={}", escape(&folder), flags.join(" ")))
            .collect();
        let mut actions: Vec<String> = Vec::new();
        for r in &self.redirects {
            let kind = if r.copy { "redirect-copy" } else { "redirect" };
            actions.push(format!("{kind}:{}", r.address));
        }
        if let Some(v) = self.vacations.first() {
            let mut fields = Vec::new();
            // The reply's From address: `:from`, else what the engine chose from `:addresses` or
            // the envelope recipient.
            if let Some(from) = &v.from {
                let address = from
                    .rsplit_once('<')
                    .and_then(|(_, a)| a.split_once('>'))
                    .map_or(from.trim(), |(a, _)| a.trim());
                fields.push(format!("from={}", escape(address)));
            }
            fields.push(format!("seconds={}", v.period_seconds));
            fields.push(format!("subject={}", escape(&v.subject)));
            fields.push(format!("to={}", escape(&v.recipient)));
            actions.push(format!("vacation:{}", fields.join(",")));
        }
        if self.discard && self.stores.is_empty() {
            actions.push("discard".to_string());
        }
        if let Some(r) = &self.reject {
            let kind = if r.extended { "ereject" } else { "reject" };
            actions.push(format!("{kind}:{}", escape(&r.reason)));
        }
        if let Some(e) = &self.error {
            actions.push(format!("error:{}", e.reason));
        }
        actions.sort();
        actions.dedup();
        let join = |items: Vec<String>, sep: &str| {
            if items.is_empty() {
                "-".to_string()
            } else {
                items.join(sep)
            }
        };
        format!("{path}\t{}\t{}", join(copies, ";"), join(actions, ";"))
    }

    /// One JSON object per message: the TSV columns plus the whole verdict.
    pub fn json_line(&self, path: &str) -> serde_json::Value {
        serde_json::json!({
            "path": path,
            "folders": self.folders(),
            "flags": self.flags(),
            "actions": self.actions(),
            "verdict": self,
        })
    }
}

/// Escapes the separators of a copies line inside a value (the reference side escapes the same way).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn join(items: Vec<String>) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(",")
    }
}

/// System flags in their RFC 3501 spelling whatever the case the script used; keywords as written.
pub fn canonical_flag(flag: &str) -> String {
    const SYSTEM: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];
    SYSTEM
        .iter()
        .find(|s| s.eq_ignore_ascii_case(flag))
        .map_or_else(|| flag.to_string(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::{Folder, Redirect, StoreAction, Verdict};

    fn store(folder: Folder, flags: &[&str]) -> StoreAction {
        StoreAction {
            folder,
            flags: flags.iter().map(|s| s.to_string()).collect(),
            create: false,
            implicit: false,
            origin: None,
        }
    }

    #[test]
    fn tsv_sorts_dedups_and_canonicalises() {
        let v = Verdict {
            stores: vec![
                store(Folder::Named("b".into()), &["\\SEEN", "Work"]),
                store(Folder::Keep, &["work", "\\flagged"]),
                store(Folder::Named("INBOX".into()), &[]),
            ],
            redirects: vec![Redirect {
                address: "x@y".into(),
                copy: true,
                origin: None,
            }],
            ..Verdict::default()
        };
        assert_eq!(
            v.tsv_line("p"),
            "p\tINBOX,b\tWork,\\Flagged,\\Seen\tredirect-copy:x@y"
        );
    }

    #[test]
    fn copies_keep_their_own_flags() {
        let v = Verdict {
            stores: vec![
                store(Folder::Named("Privacy".into()), &["\\flagged"]),
                store(Folder::Named("Accounts".into()), &[]),
                store(Folder::Keep, &["b", "a"]),
            ],
            ..Verdict::default()
        };
        assert_eq!(
            v.copies_line("p"),
            "p\tAccounts=;INBOX=a b;Privacy=\\Flagged\t-"
        );
        let r = Verdict {
            reject: Some(super::Reject {
                reason: "no,\nthanks".into(),
                extended: false,
            }),
            ..Verdict::default()
        };
        assert_eq!(r.copies_line("p"), "p\t-\treject:no\\,\\nthanks");
    }

    #[test]
    fn discard_shows_only_without_store() {
        let mut v = Verdict {
            discard: true,
            ..Verdict::default()
        };
        assert_eq!(v.tsv_line("p"), "p\t-\t-\tdiscard");
        v.stores.push(store(Folder::Named("A".into()), &[]));
        assert_eq!(v.tsv_line("p"), "p\tA\t-\t-");
    }

    #[test]
    fn error_verdict_is_kept() {
        assert_eq!(
            Verdict::error("cpu-limit", "x").tsv_line("p"),
            "p\tINBOX\t-\terror:cpu-limit"
        );
    }
}
