//! Source-level fixes for places where sieve-rs reads a script differently from RFC 5228/5229 (and
//! Pigeonhole): edits computed from the token list, applied by `source::rewrite`. Each keeps the meaning
//! the script has under the RFCs; none evaluates anything.

use super::lexer::{Edit, Kind, Token, at_statement, unquote};

/// sieve-rs gives a variable first `set` inside a block (`if`, `else`) the scope of that block, so the
/// value is gone after the `}`; RFC 5229 3 makes every variable global to the script. Each variable the
/// script sets or extracts is declared once with `set "name" "";` after the `require`s (all variables
/// start empty, RFC 5229 3, so nothing else changes). Namespaced names and names declared `global`
/// (RFC 6609) are left alone: a global must keep the value an including script gave it.
pub(crate) fn hoist_variables(src: &[u8], tokens: &[Token], edits: &mut Vec<Edit>) {
    let word = |t: &Token| String::from_utf8_lossy(&src[t.start..t.end]).to_ascii_lowercase();
    let mut names: Vec<String> = Vec::new();
    let mut globals: Vec<String> = Vec::new();
    let mut after_requires = 0;
    for (i, tok) in tokens.iter().enumerate() {
        if tok.kind != Kind::Ident || !at_statement(tokens, i) {
            continue;
        }
        let args = tokens[i + 1..].iter().take_while(|t| t.kind != Kind::Semi);
        let first_string = args.clone().find(|t| t.kind == Kind::Quoted);
        match word(tok).as_str() {
            "require" if names.is_empty() => {
                after_requires = tokens[i..]
                    .iter()
                    .find(|t| t.kind == Kind::Semi)
                    .map_or(after_requires, |t| t.end);
            }
            "set" | "extracttext" => {
                if let Some(name) = first_string.map(|t| unquote(src, t).to_ascii_lowercase())
                    && !name.contains('.')
                    && !names.contains(&name)
                {
                    names.push(name);
                }
            }
            "global" => globals.extend(
                args.filter(|t| t.kind == Kind::Quoted)
                    .map(|t| unquote(src, t).to_ascii_lowercase()),
            ),
            _ => {}
        }
    }
    let decls: String = names
        .iter()
        .filter(|n| !globals.contains(n))
        .map(|n| format!(" set \"{n}\" \"\";"))
        .collect();
    if !decls.is_empty() && after_requires > 0 {
        edits.push((after_requires, after_requires, decls));
    }
}

/// RFC 5228 2.4.2: in a quoted string only `\\` and `\"` are escapes; any other `\X` is just `X`.
/// sieve-rs turns `\n`, `\r` and `\t` into control characters and reads `\\` followed by another escape
/// wrongly. A string with a backslash is written back in a form sieve-rs reads as the RFC value; a
/// value sieve-rs cannot be given that way (a backslash before `\`, `"`, `n`, `r`, `t` or the end) is
/// left as written.
/// Run it last: an insertion already planned just inside the opening quote (the `(?i)` of a regex key)
/// is folded into the rewritten string.
pub(crate) fn string_escapes(src: &[u8], tokens: &[Token], edits: &mut Vec<Edit>) {
    for tok in tokens.iter().filter(|t| t.kind == Kind::Quoted) {
        if !src[tok.start..tok.end].contains(&b'\\') {
            continue;
        }
        let inside = tok.start + 1;
        let prefix: String = edits
            .iter()
            .filter(|e| e.0 == inside && e.1 == inside)
            .map(|e| e.2.as_str())
            .collect();
        if let Some(encoded) = encode_for_sieve_rs(&format!("{prefix}{}", unquote(src, tok))) {
            edits.retain(|e| !(e.0 == inside && e.1 == inside));
            edits.push((tok.start, tok.end, encoded));
        }
    }
}

/// The quoted form of `value` that sieve-rs 0.7's lexer decodes back to `value`, if there is one.
pub(crate) fn encode_for_sieve_rs(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 4);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if matches!(chars.peek(), None | Some('\\' | '"' | 'n' | 'r' | 't')) {
                    return None;
                }
                out.push_str("\\\\");
            }
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    Some(out)
}
