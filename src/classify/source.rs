//! Sieve source analysis over the lexer's tokens: the list of `require`d extensions and `include`s, and
//! the rewrites that make sieve-rs decide like Pigeonhole (see `classify.rs` for why each exists).
//! It never evaluates anything and never changes the meaning a script has under RFC 5228.

use std::fmt::Write as _;

use super::lexer::{Kind, Token, arg_range, unquote};

/// Folder name a rewritten `keep` files into; the event loop maps it back to the keep.
pub(crate) const KEEP_MARKER: &str = "\u{1}triaged-keep";
/// Prefix of the mailbox names used as probes (`mailboxexists`) to learn where an action came from.
pub(crate) const PROBE_MARKER: &str = "\u{1}triaged-probe:";

/// Every extension named by a `require` command, in script order.
pub(crate) fn required(src: &[u8], tokens: &[Token]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        if tok.kind != Kind::Ident || !src[tok.start..tok.end].eq_ignore_ascii_case(b"require") {
            continue;
        }
        for arg in tokens[i + 1..].iter().take_while(|t| t.kind != Kind::Semi) {
            if arg.kind == Kind::Quoted {
                out.push((unquote(src, arg), arg.line, arg.col));
            }
        }
    }
    out
}

/// One `include` of a script: its constant name (RFC 6609), where it is looked for, whether it is
/// `:optional`, and where the name is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IncludeRef {
    pub name: String,
    pub global: bool,
    pub optional: bool,
    pub line: usize,
    pub col: usize,
}

/// Constant script names passed to `include`, with their location (`:global` or the default
/// `:personal`) and whether they are `:optional`.
pub(crate) fn includes(src: &[u8], tokens: &[Token]) -> Vec<IncludeRef> {
    let mut out = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        if tok.kind != Kind::Ident || !src[tok.start..tok.end].eq_ignore_ascii_case(b"include") {
            continue;
        }
        let args: Vec<&Token> = tokens[i + 1..]
            .iter()
            .take_while(|t| t.kind != Kind::Semi)
            .collect();
        let tagged = |tag: &[u8]| {
            args.iter()
                .any(|t| t.kind == Kind::Tag && src[t.start..t.end].eq_ignore_ascii_case(tag))
        };
        if let Some(name) = args.iter().rev().find(|t| t.kind == Kind::Quoted) {
            out.push(IncludeRef {
                name: unquote(src, name),
                global: tagged(b":global"),
                optional: tagged(b":optional"),
                line: name.line,
                col: name.col,
            });
        }
    }
    out
}

/// What the event loop learns from a probe: the action or block it precedes, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    pub what: String,
    pub line: usize,
    pub col: usize,
}

impl Probe {
    /// Parses the mailbox name of a probe (`PROBE_MARKER` + `what:line:col`).
    pub(crate) fn parse(name: &str) -> Option<Probe> {
        let rest = name.strip_prefix(PROBE_MARKER)?;
        let mut parts = rest.rsplitn(3, ':');
        let col = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        Some(Probe {
            what: parts.next()?.to_string(),
            line,
            col,
        })
    }
}

const ACTIONS: &[&str] = &[
    "fileinto",
    "keep",
    "redirect",
    "discard",
    "reject",
    "ereject",
    "vacation",
    "setflag",
    "addflag",
    "removeflag",
    "stop",
];

/// Rewrites a script for execution (see `classify.rs`, "Where the engines disagree"):
/// - `keep` becomes `fileinto "<KEEP_MARKER>"` so an explicit keep is an event that cancels only the
///   implicit keep, as in Pigeonhole;
/// - `:regex` keys under the default comparator `i;ascii-casemap` get `(?i)` (RFC 5228 2.7.1);
/// - a `mailboxexists` probe precedes `redirect` and `vacation` (to learn `:copy` and the source line),
///   and, with `explain`, every action and every `if`/`elsif`/`else` block.
/// - tests sieve-rs decides differently from Pigeonhole become evaluation probes (`adapt.rs`), their
///   specs numbered from `base`.
pub(crate) fn rewrite(
    src: &[u8],
    tokens: &[Token],
    explain: bool,
    quoted_envelope: bool,
    base: usize,
) -> (Vec<u8>, Vec<super::adapt::Spec>) {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let variables = required(src, tokens)
        .iter()
        .any(|r| r.0.eq_ignore_ascii_case("variables"));
    let specs =
        super::adapt::rewrite_tests(src, tokens, base, variables, quoted_envelope, &mut edits);
    let extra = if specs.iter().any(|s| s.match_values > 0) {
        ",\"regex\",\"include\""
    } else {
        ""
    };
    edits.push((0, 0, format!("require [\"fileinto\",\"mailbox\"{extra}];")));
    let word = |t: &Token| String::from_utf8_lossy(&src[t.start..t.end]).to_ascii_lowercase();
    for (i, tok) in tokens.iter().enumerate() {
        if tok.kind == Kind::LBrace && explain {
            if let Some(head) = block_head(src, tokens, i) {
                edits.push((tok.end, tok.end, probe_stmt(&head.0, head.1, head.2)));
            }
            continue;
        }
        if tok.kind != Kind::Ident {
            continue;
        }
        let name = word(tok);
        let at_statement =
            i == 0 || matches!(tokens[i - 1].kind, Kind::Semi | Kind::LBrace | Kind::RBrace);
        let args = arg_range(tokens, i);
        if at_statement && ACTIONS.contains(&name.as_str()) {
            let copy = tokens[args.clone()]
                .iter()
                .any(|t| t.kind == Kind::Tag && word(t) == ":copy");
            let what = match name.as_str() {
                "redirect" if copy => Some("redirect-copy".to_string()),
                "redirect" | "vacation" => Some(name.clone()),
                _ if explain => Some(name.clone()),
                _ => None,
            };
            if let Some(what) = what {
                edits.push((tok.start, tok.start, probe_stmt(&what, tok.line, tok.col)));
            }
            if name == "keep" {
                edits.push((tok.start, tok.end, "fileinto".to_string()));
                let end = tokens.get(args.end).map_or(src.len(), |t| t.start);
                edits.push((end, end, format!(" \"{KEEP_MARKER}\"")));
            }
            continue;
        }
        regex_casemap(src, tokens, args, &mut edits);
    }
    super::fixes::hoist_variables(src, tokens, &mut edits);
    super::fixes::string_escapes(src, tokens, &mut edits);
    (apply(src, edits), specs)
}

/// Adds `(?i)` to the key list of a `:regex` test that uses the default comparator.
fn regex_casemap(
    src: &[u8],
    tokens: &[Token],
    args: std::ops::Range<usize>,
    edits: &mut Vec<(usize, usize, String)>,
) {
    let list = &tokens[args.clone()];
    let tag = |t: &Token, name: &str| {
        t.kind == Kind::Tag && src[t.start..t.end].eq_ignore_ascii_case(name.as_bytes())
    };
    if !list.iter().any(|t| tag(t, ":regex")) {
        return;
    }
    if let Some(pos) = list.iter().position(|t| tag(t, ":comparator")) {
        let casemap = list.get(pos + 1).is_some_and(|t| {
            t.kind == Kind::Quoted && unquote(src, t).eq_ignore_ascii_case("i;ascii-casemap")
        });
        if !casemap {
            return;
        }
    }
    // The key list is the last argument: one string, or a bracketed list.
    let keys: Vec<&Token> = match list.last() {
        Some(t) if t.kind == Kind::Quoted => vec![t],
        Some(t) if t.kind == Kind::Close => {
            let open = list
                .iter()
                .rposition(|t| t.kind == Kind::Open)
                .unwrap_or(list.len());
            list[open..]
                .iter()
                .filter(|t| t.kind == Kind::Quoted)
                .collect()
        }
        _ => Vec::new(),
    };
    for key in keys {
        if !src[key.start + 1..key.end].starts_with(b"(?i)") {
            edits.push((key.start + 1, key.start + 1, "(?i)".to_string()));
        }
    }
}

/// For a `{` opening an `if`/`elsif`/`else` block: the keyword and its position.
fn block_head(src: &[u8], tokens: &[Token], brace: usize) -> Option<(String, usize, usize)> {
    let mut depth = 0i32;
    for j in (0..brace).rev() {
        let t = &tokens[j];
        match t.kind {
            Kind::RParen | Kind::Close => depth += 1,
            Kind::LParen | Kind::Open => depth -= 1,
            Kind::Semi | Kind::LBrace | Kind::RBrace if depth == 0 => return None,
            Kind::Ident if depth == 0 => {
                let at_statement = j == 0
                    || matches!(tokens[j - 1].kind, Kind::Semi | Kind::LBrace | Kind::RBrace);
                if at_statement {
                    let w = String::from_utf8_lossy(&src[t.start..t.end]).to_ascii_lowercase();
                    return matches!(w.as_str(), "if" | "elsif" | "else").then_some((
                        format!("{w}-matched"),
                        t.line,
                        t.col,
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

fn probe_stmt(what: &str, line: usize, col: usize) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "if mailboxexists \"{PROBE_MARKER}{what}:{line}:{col}\" {{}} "
    );
    s
}

fn apply(src: &[u8], mut edits: Vec<(usize, usize, String)>) -> Vec<u8> {
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = Vec::with_capacity(src.len() + edits.len() * 48);
    let mut pos = 0;
    for (start, end, text) in edits {
        if start < pos {
            continue;
        }
        out.extend_from_slice(&src[pos..start]);
        out.extend_from_slice(text.as_bytes());
        pos = end;
    }
    out.extend_from_slice(&src[pos..]);
    out
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
