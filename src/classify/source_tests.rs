use super::super::lexer::lex;
use super::{KEEP_MARKER, Probe, includes, required, rewrite};
use anyhow::Result;

#[test]
fn lexer_skips_comments_and_multiline_strings() -> Result<()> {
    let src = b"# c\nrequire [\"a\", \"b\\\"c\"]; /* x */\nvacation text:\nline\n.\n;\n";
    let tokens = lex(src).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let req: Vec<String> = required(src, &tokens).into_iter().map(|r| r.0).collect();
    assert_eq!(req, vec!["a", "b\"c"]);
    Ok(())
}

#[test]
fn keep_becomes_fileinto_marker() -> Result<()> {
    let src = b"keep :flags \"x\";";
    let tokens = lex(src).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let out = String::from_utf8(rewrite(src, &tokens, false, false, 0).0)?;
    assert!(
        out.ends_with(&format!("fileinto :flags \"x\" \"{KEEP_MARKER}\";")),
        "{out}"
    );
    Ok(())
}

#[test]
fn regex_keys_get_case_insensitive_flag_only_under_casemap() -> Result<()> {
    let src = b"if header :regex \"s\" [\"a\", \"b\"] {} if header :regex :comparator \"i;octet\" \"s\" \"c\" {}";
    let tokens = lex(src).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let out = String::from_utf8(rewrite(src, &tokens, false, false, 0).0)?;
    assert!(
        out.contains("[\"(?i)a\", \"(?i)b\"]") && out.contains("\"s\" \"c\""),
        "{out}"
    );
    Ok(())
}

#[test]
fn probes_round_trip_and_includes_are_listed() -> Result<()> {
    let probe = Probe::parse(&format!("{}redirect-copy:3:7", super::PROBE_MARKER));
    assert_eq!(
        probe,
        Some(Probe {
            what: "redirect-copy".into(),
            line: 3,
            col: 7
        })
    );
    let src = b"include :optional \"a\"; include :global \"b\";";
    let tokens = lex(src).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let inc: Vec<(String, bool, bool)> = includes(src, &tokens)
        .into_iter()
        .map(|i| (i.name, i.optional, i.global))
        .collect();
    assert_eq!(
        inc,
        vec![
            ("a".to_string(), true, false),
            ("b".to_string(), false, true)
        ]
    );
    Ok(())
}

#[test]
fn envelope_address_parts_are_adapted_only_in_the_quoted_form() -> Result<()> {
    let src = b"require \"envelope\"; if envelope :localpart \"from\" \"a\" {} if envelope :all \"to\" \"b\" {}";
    let tokens = lex(src).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (plain, plain_specs) = rewrite(src, &tokens, false, false, 0);
    assert!(
        plain_specs.is_empty(),
        "{}",
        String::from_utf8_lossy(&plain)
    );
    let (quoted, quoted_specs) = rewrite(src, &tokens, false, true, 0);
    let quoted = String::from_utf8(quoted)?;
    assert_eq!(quoted_specs.len(), 1, "{quoted}");
    assert!(quoted.contains("envelope :all \"to\" \"b\""), "{quoted}");
    Ok(())
}
