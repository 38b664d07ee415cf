//! The folders a Sieve script names in `fileinto`, read from its text without running it: the buckets
//! the config may refer to.
//!
//! Reads the token stream only; it never compiles or evaluates the script, so a folder named under a
//! test that never matches is still listed.

use super::lexer::{Kind, arg_range, lex, unquote};

/// Every folder named by a `fileinto` command, in script order, duplicates removed. A name built from
/// variables keeps them as written (`Lists/${list}`).
pub fn fileinto_targets(src: &[u8]) -> Result<Vec<String>, String> {
    let tokens =
        lex(src).map_err(|e| format!("line {}, column {}: {}", e.line, e.col, e.message))?;
    let mut out: Vec<String> = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        if tok.kind != Kind::Ident || !src[tok.start..tok.end].eq_ignore_ascii_case(b"fileinto") {
            continue;
        }
        // The folder is the command's last argument, after any tags and their values.
        let folder = tokens[arg_range(&tokens, i)]
            .iter()
            .rev()
            .find(|t| matches!(t.kind, Kind::Quoted | Kind::Multiline));
        if let Some(folder) = folder {
            let name = unquote(src, folder);
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_the_last_argument_of_each_fileinto() -> Result<(), String> {
        let script = br#"require ["fileinto", "imap4flags", "variables"];
# fileinto "Commented";
if header :contains "subject" "spam" { fileinto :flags "\\Seen" "Junk"; stop; }
if header :matches "list-id" "*" { set "list" "${1}"; FileInto "Lists/${list}"; }
fileinto :copy :flags ["\\Flagged", "$Dispute"] "Support/Disputes";
fileinto "Junk";
keep;
"#;
        assert_eq!(
            fileinto_targets(script)?,
            ["Junk", "Lists/${list}", "Support/Disputes"]
        );
        Ok(())
    }

    #[test]
    fn an_unreadable_script_says_where() {
        let err = fileinto_targets(b"fileinto \"Junk;\n")
            .err()
            .unwrap_or_default();
        assert!(
            err.starts_with("line 2, column 1: unterminated string"),
            "{err}"
        );
    }
}
