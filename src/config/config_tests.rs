//! Config tests: defaults, path resolution, and that every problem is reported with its key.

use std::path::Path;

use anyhow::Result;

use super::{Backlog, Config, ImapSecurity, MailboxSource, SmtpSecurity, Transport};

/// Writes `text` as `triaged.toml` (plus a rules file) in a temp dir and loads it.
fn load(text: &str) -> Result<(tempfile::TempDir, Result<Config, super::ConfigErrors>)> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    std::fs::write(dir.path().join("rules/support.sieve"), "keep;\n")?;
    let file = dir.path().join("triaged.toml");
    std::fs::write(&file, text)?;
    let config = Config::load(&file);
    Ok((dir, config))
}

fn keys(errors: &super::ConfigErrors) -> Vec<&str> {
    errors.errors.iter().map(|e| e.key.as_str()).collect()
}

const MINIMAL: &str = r#"
[mailbox]
url = "maildir:mail"
[outbox]
from = "Support <support@example.org>"
"#;

#[test]
fn minimal_config_gets_documented_defaults() -> Result<()> {
    let (dir, config) = load(MINIMAL)?;
    let config = config?;
    let base = std::path::absolute(dir.path())?;
    assert_eq!(
        config.mailbox.source,
        MailboxSource::Maildir {
            path: base.join("mail")
        }
    );
    assert_eq!(config.mailbox.backlog, Backlog::Process);
    assert_eq!(config.mailbox.poll_interval.as_secs(), 60);
    assert_eq!(config.mailbox.liveness_limit.as_secs(), 360);
    assert_eq!(config.mailbox.quarantine, "Quarantine");
    assert_eq!(config.mailbox.trash, "Trash");
    assert!(!config.mailbox.allow_delete);
    assert_eq!(
        config.store.url,
        format!(
            "sqlite://{}?mode=rwc",
            base.join("var/triaged.db").display()
        )
    );
    assert_eq!(
        config.outbox.transport,
        Transport::File {
            dir: base.join("var/outbox")
        }
    );
    assert_eq!(config.outbox.retry.len(), 5);
    assert_eq!(config.outbox.give_up_after.as_secs(), 2 * 86_400);
    assert_eq!(config.ack.period.as_secs(), 86_400);
    assert!(config.ack.buckets.is_empty());
    assert_eq!(
        config.disputes.address.email.to_string(),
        "support@example.org"
    );
    assert!(config.openpgp.is_none());
    assert!(config.metrics.listen.is_none());
    Ok(())
}

#[test]
fn absolute_urls_stay_absolute() -> Result<()> {
    let (_dir, config) = load(
        r#"
[mailbox]
url = "maildir:///srv/mail"
[store]
url = "sqlite:///srv/triaged.db"
[outbox]
transport = "file:///srv/outbox"
from = "support@example.org"
"#,
    )?;
    let config = config?;
    assert_eq!(
        config.mailbox.source,
        MailboxSource::Maildir {
            path: "/srv/mail".into()
        }
    );
    assert_eq!(config.store.url, "sqlite:///srv/triaged.db?mode=rwc");
    assert_eq!(
        config.outbox.transport,
        Transport::File {
            dir: "/srv/outbox".into()
        }
    );
    Ok(())
}

#[test]
fn imap_url_user_is_percent_decoded_and_password_read_from_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("imap.pw"), "s3cret\n")?;
    let (_d, config) = load(&format!(
        r#"
[mailbox]
url = "imaps://support%40example.org@imap.example.org/Support/In"
password_file = "{}"
[outbox]
transport = "smtps://smtp.example.org"
from = "support@example.org"
"#,
        dir.path().join("imap.pw").display()
    ))?;
    let config = config?;
    let MailboxSource::Imap {
        security,
        host,
        port,
        user,
        folder,
    } = &config.mailbox.source
    else {
        anyhow::bail!("expected imap");
    };
    assert_eq!(*security, ImapSecurity::Tls);
    assert_eq!((host.as_str(), *port), ("imap.example.org", 993));
    assert_eq!(user, "support@example.org");
    assert_eq!(folder, "Support/In");
    let password = config.mailbox.password.as_ref().map(|p| p.expose());
    assert_eq!(password, Some("s3cret"));
    assert!(matches!(
        config.outbox.transport,
        Transport::Smtp {
            security: SmtpSecurity::Tls,
            port: 465,
            ..
        }
    ));
    Ok(())
}

#[test]
fn debug_output_never_shows_secrets() -> Result<()> {
    let secrets = tempfile::tempdir()?;
    let pass = secrets.path().join("pgp");
    std::fs::write(&pass, "hunter2-passphrase\n")?;
    let text = format!(
        "{MINIMAL}\n[openpgp]\nkey_file = \"rules/support.sieve\"\npassphrase_file = \"{}\"\n",
        pass.display()
    );
    let (_dir, config) = load(&text)?;
    let config = config?;
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("hunter2"),
        "Debug leaked the secret: {shown}"
    );
    assert!(shown.contains("redacted"));
    let passphrase = config.openpgp.as_ref().and_then(|o| o.passphrase.as_ref());
    assert_eq!(passphrase.map(|p| p.expose()), Some("hunter2-passphrase"));
    Ok(())
}

#[test]
fn every_problem_is_reported_with_its_key() -> Result<()> {
    let (_dir, config) = load(
        r#"
[mailbox]
url = "imap://support@imap.example.org/INBOX"
password_file = "secrets/missing"
allow_plantext = true
allow_plaintext = true
backlog = "sometimes"
poll_interval = "soon"
[store]
url = "mysql://x"
[outbox]
from = "not an address"
retry = ["1m", "5x"]
[log]
format = "xml"
[colour]
x = 1
"#,
    )?;
    let Err(errors) = config else {
        anyhow::bail!("config should fail")
    };
    let keys = keys(&errors);
    for expected in [
        "mailbox.allow_plantext",
        "mailbox.password_file",
        "mailbox.allow_plaintext",
        "mailbox.backlog",
        "mailbox.poll_interval",
        "store.url",
        "outbox.from",
        "outbox.retry",
        "log.format",
        "colour",
    ] {
        assert!(keys.contains(&expected), "{expected} missing from {keys:?}");
    }
    let shown = errors.to_string();
    assert!(shown.contains("unknown key"), "{shown}");
    assert!(shown.contains("loopback"), "{shown}");
    Ok(())
}

#[test]
fn plaintext_to_loopback_is_allowed_when_asked() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "x")?;
    let (_d, config) = load(&format!(
        r#"
[mailbox]
url = "imap://u@127.0.0.1:10143/INBOX"
allow_plaintext = true
password_file = "{}"
[outbox]
transport = "smtp://localhost:10025"
allow_plaintext = true
from = "support@example.org"
"#,
        pw.display()
    ))?;
    let config = config?;
    assert!(matches!(
        config.mailbox.source,
        MailboxSource::Imap {
            security: ImapSecurity::Plaintext,
            port: 10143,
            ..
        }
    ));
    assert!(matches!(
        config.outbox.transport,
        Transport::Smtp {
            security: SmtpSecurity::Plaintext,
            port: 10025,
            ..
        }
    ));
    Ok(())
}

#[test]
fn syntax_error_names_line_and_column() -> Result<()> {
    let (_dir, config) = load("[mailbox]\nurl = \"maildir:x\n")?;
    let Err(errors) = config else {
        anyhow::bail!("config should fail")
    };
    assert!(errors.errors[0].key.starts_with("line 2"), "{errors}");
    Ok(())
}

#[test]
fn durations_and_sizes_parse() -> Result<()> {
    use super::{parse_duration, parse_size};
    assert_eq!(
        parse_duration("90s").map_err(anyhow::Error::msg)?.as_secs(),
        90
    );
    assert_eq!(
        parse_duration("1h30m")
            .map_err(anyhow::Error::msg)?
            .as_secs(),
        5400
    );
    assert_eq!(
        parse_duration("250ms")
            .map_err(anyhow::Error::msg)?
            .as_millis(),
        250
    );
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("").is_err());
    assert_eq!(parse_size("25MB").map_err(anyhow::Error::msg)?, 25 << 20);
    assert!(parse_size("lots").is_err());
    Ok(())
}

#[test]
fn header_injection_in_an_address_is_refused() {
    let r = super::parse_mailbox("Eve\r\nBcc: victim@example.org <eve@example.org>");
    assert!(r.is_err());
}

#[test]
fn example_config_is_valid() -> Result<()> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/triaged.toml");
    let config = Config::load(&file)?;
    assert!(matches!(
        config.mailbox.source,
        MailboxSource::Maildir { .. }
    ));
    Ok(())
}

#[test]
fn smime_takes_pem_files_or_one_pkcs12_file() -> Result<()> {
    let (dir, config) = load(&format!(
        "{MINIMAL}[smime]\ncert_file = \"team.crt\"\nkey_file = \"team.key\"\n\
         passphrase_env = \"TRIAGED_TEST_SMIME_UNSET_{}\"\nca_file = \"ca.crt\"\ncerts_dir = \"certs\"\n",
        std::process::id()
    ))?;
    let errors = config.err().ok_or_else(|| anyhow::anyhow!("loaded"))?;
    assert_eq!(
        keys(&errors),
        [
            "smime.cert_file",
            "smime.key_file",
            "smime.passphrase_env",
            "smime.ca_file",
            "smime.certs_dir"
        ],
        "{errors}"
    );
    for file in ["team.crt", "team.key", "team.p12", "ca.crt"] {
        std::fs::write(dir.path().join(file), "x")?;
    }
    std::fs::create_dir(dir.path().join("certs"))?;
    let file = dir.path().join("triaged.toml");
    std::fs::write(
        &file,
        format!(
            "{MINIMAL}[smime]\ncert_file = \"team.crt\"\nkey_file = \"team.key\"\n\
             ca_file = \"ca.crt\"\ncerts_dir = \"certs\"\n"
        ),
    )?;
    let smime = Config::load(&file)?
        .smime
        .ok_or_else(|| anyhow::anyhow!("no smime"))?;
    let base = std::path::absolute(dir.path())?;
    assert_eq!(
        smime.identity,
        super::SmimeIdentity::Pem {
            cert_file: base.join("team.crt"),
            key_file: base.join("team.key")
        }
    );
    assert_eq!(smime.certs_dir, Some(base.join("certs")));
    std::fs::write(
        &file,
        format!("{MINIMAL}[smime]\npkcs12_file = \"team.p12\"\n"),
    )?;
    let smime = Config::load(&file)?
        .smime
        .ok_or_else(|| anyhow::anyhow!("no smime"))?;
    assert_eq!(
        smime.identity,
        super::SmimeIdentity::Pkcs12 {
            pkcs12_file: base.join("team.p12")
        }
    );
    Ok(())
}

#[test]
fn an_smime_identity_given_halfway_or_twice_is_reported_under_its_key() -> Result<()> {
    let cases = [
        ("cert_file = \"team.crt\"", "smime.key_file"),
        ("key_file = \"team.key\"", "smime.cert_file"),
        ("ca_file = \"team.crt\"", "smime.cert_file"),
        (
            "cert_file = \"team.crt\"\nkey_file = \"team.key\"\npkcs12_file = \"team.p12\"",
            "smime.pkcs12_file",
        ),
        (
            "pkcs12_file = \"team.p12\"\ncolour = \"blue\"",
            "smime.colour",
        ),
    ];
    for (lines, key) in cases {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("rules"))?;
        std::fs::write(dir.path().join("rules/support.sieve"), "keep;\n")?;
        for file in ["team.crt", "team.key", "team.p12"] {
            std::fs::write(dir.path().join(file), "x")?;
        }
        let file = dir.path().join("triaged.toml");
        std::fs::write(&file, format!("{MINIMAL}[smime]\n{lines}\n"))?;
        let errors = Config::load(&file)
            .err()
            .ok_or_else(|| anyhow::anyhow!("{lines} loaded"))?;
        assert_eq!(keys(&errors), [key], "{lines}: {errors}");
    }
    Ok(())
}

#[test]
fn schemes_default_to_smime_then_openpgp_and_are_checked() -> Result<()> {
    let (_dir, config) = load(MINIMAL)?;
    let config = config?;
    assert_eq!(
        config.outbox.schemes,
        [super::Scheme::Smime, super::Scheme::OpenPgp]
    );
    assert!(config.smime.is_none());
    let (_dir, config) =
        load(&MINIMAL.replace("[outbox]\n", "[outbox]\nschemes = [\"openpgp\"]\n"))?;
    assert_eq!(config?.outbox.schemes, [super::Scheme::OpenPgp]);
    for bad in ["[\"x509\"]", "[\"smime\", \"smime\"]", "[]", "\"smime\""] {
        let (_dir, config) =
            load(&MINIMAL.replace("[outbox]\n", &format!("[outbox]\nschemes = {bad}\n")))?;
        let errors = config
            .err()
            .ok_or_else(|| anyhow::anyhow!("{bad} loaded"))?;
        assert_eq!(keys(&errors), ["outbox.schemes"], "{bad}: {errors}");
    }
    Ok(())
}

#[test]
fn parsed_text_resolves_paths_beside_the_named_file_without_reading_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    std::fs::write(dir.path().join("rules/support.sieve"), "keep;\n")?;
    let file = dir.path().join("absent.toml");
    let config = Config::parse(&file, MINIMAL).map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(config.file, file);
    assert_eq!(config.rules.script, dir.path().join("rules/support.sieve"));
    let Err(errors) = Config::parse(&file, "[mailbox]\nurl = \"maildir:x\n") else {
        anyhow::bail!("config should fail")
    };
    assert!(errors.errors[0].key.starts_with("line 2"), "{errors}");
    assert!(errors.to_string().contains("absent.toml"), "{errors}");
    Ok(())
}
