//! Template tests: golden files for every shipped template, strict undefined, overrides, and refusals
//! of values that would inject headers.

use std::path::PathBuf;

use anyhow::Result;

use super::*;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/templates")
}

/// Every shipped template rendered with its sample data matches `tests/golden/templates/NAME.txt`
/// (run with `UPDATE_GOLDEN=1` to rewrite them after an intended change).
#[test]
fn shipped_templates_match_their_golden_files() -> Result<()> {
    let templates = Templates::load(None)?;
    let rendered = templates.render_samples()?;
    assert_eq!(
        rendered.len(),
        templates.names().count(),
        "a sample per template"
    );
    for mail in rendered {
        let path = golden_dir().join(format!("{}.txt", mail.template));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(golden_dir())?;
            std::fs::write(&path, mail.summary())?;
        }
        let expected = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!("read {}: {e} (UPDATE_GOLDEN=1 writes it)", path.display())
        })?;
        assert_eq!(mail.summary(), expected, "golden file {}", path.display());
    }
    Ok(())
}

#[test]
fn the_ack_is_an_automatic_reply_carrying_its_ticket() -> Result<()> {
    let templates = Templates::load(None)?;
    let ack = templates
        .render_samples()?
        .into_iter()
        .find(|m| m.template == "ack")
        .ok_or_else(|| anyhow::anyhow!("no ack sample"))?;
    assert_eq!(ack.auto_submitted, AutoSubmitted::AutoReplied);
    assert!(ack.subject.starts_with("Re: "), "{}", ack.subject);
    assert!(ack.subject.contains("s20261128.001"));
    assert!(ack.body.contains("s20261128.001"));
    assert_eq!(
        ack.headers.get("X-Support-Ticket").map(String::as_str),
        Some("s20261128.001")
    );
    Ok(())
}

#[test]
fn an_undefined_variable_is_an_error_not_an_empty_string() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("ack.txt"),
        "+++\nsubject = \"Re: {{ original_subject }}\"\nto = [\"{{ requester }}\"]\n+++\nHello {{ nosuch }}\n",
    )?;
    let templates = Templates::load(Some(dir.path()))?;
    let err = templates
        .render_samples()
        .err()
        .ok_or_else(|| anyhow::anyhow!("rendered an undefined variable"))?;
    assert!(format!("{err:#}").contains("undefined"), "{err:#}");
    Ok(())
}

#[test]
fn an_override_replaces_the_shipped_template_by_name() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("welcome-se.txt"),
        "+++\nsubject = \"Hi {{ name }}\"\nto = [\"{{ recipient }}\"]\nsign = false\nencrypt = \"always\"\n+++\nShort and sweet.\n",
    )?;
    let templates = Templates::load(Some(dir.path()))?;
    let ctx = Welcome {
        role: Role::Se,
        recipient: "Santa Claus <presents@example.org>".to_owned(),
        name: "Santa".to_owned(),
        team_leader: "Team Leader".to_owned(),
        team_address: "support@example.org".to_owned(),
    };
    let mail = templates.render(&ctx)?;
    assert_eq!(mail.subject, "Hi Santa");
    assert_eq!(mail.body, "Short and sweet.\n");
    assert!(!mail.sign);
    assert_eq!(mail.encrypt, Encrypt::Always);
    let triage = templates.render(&Welcome {
        role: Role::Triage,
        ..ctx
    })?;
    assert!(triage.subject.contains("Triage"), "others stay shipped");
    Ok(())
}

#[test]
fn an_unknown_template_file_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("welcom-se.txt"),
        "+++\nsubject = \"x\"\n+++\nx\n",
    )?;
    let err = Templates::load(Some(dir.path()))
        .err()
        .map(|e| format!("{e:#}"));
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("not a known template")),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn front_matter_cannot_set_reserved_headers() -> Result<()> {
    for header in ["Bcc", "From", "content-type", "Auto-Submitted"] {
        let text = format!("+++\nsubject = \"x\"\n[headers]\n{header} = \"y\"\n+++\nbody\n");
        let err = front_matter::split(&text).err().map(|e| format!("{e:#}"));
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("cannot be overridden")),
            "{header}: {err:?}"
        );
    }
    Ok(())
}

#[test]
fn a_line_break_in_a_value_reaching_a_header_is_refused() -> Result<()> {
    let templates = Templates::load(None)?;
    let ctx = Welcome {
        role: Role::Triage,
        recipient: "Santa Claus <presents@example.org>".to_owned(),
        name: "Santa\r\nBcc: victim@example.net".to_owned(),
        team_leader: "Team Leader".to_owned(),
        team_address: "support@example.org".to_owned(),
    };
    let err = templates
        .render(&ctx)
        .err()
        .ok_or_else(|| anyhow::anyhow!("rendered"))?;
    let unsafe_value = err.chain().find_map(|e| e.downcast_ref::<UnsafeValue>());
    assert_eq!(
        unsafe_value.map(|u| u.field.as_str()),
        Some("subject"),
        "{err:#}"
    );
    Ok(())
}

#[test]
fn addresses_are_parsed_and_line_breaks_refused() {
    assert!(parse_address("to", "Santa Claus <presents@example.org>").is_ok());
    assert!(parse_address("to", "Santa\r\nBcc: x@example.net <presents@example.org>").is_err());
    assert!(parse_address("to", "not an address").is_err());
    assert!(check_header_value("subject", "fine\tvalue").is_ok());
    assert!(check_header_value("subject", "bell\u{7}").is_err());
}

#[test]
fn bodies_lose_trailing_spaces_and_end_in_one_newline() {
    assert_eq!(tidy_body("a  \nb\t\n\n\n"), "a\nb\n");
    assert_eq!(tidy_body("x"), "x\n");
}

#[test]
fn a_rendered_mail_survives_its_json_source() -> Result<()> {
    let templates = Templates::load(None)?;
    for mail in templates.render_samples()? {
        let back: RenderedMail = serde_json::from_str(&serde_json::to_string(&mail)?)?;
        assert_eq!(back, mail);
    }
    Ok(())
}
