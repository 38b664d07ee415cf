//! The queue by hand and the transport's protection: a mail that must be encrypted but cannot be is
//! held, listed, retried (still held) and cancelled; STARTTLS is required and checked against the
//! configured trust root, and a TLS failure is retried, never answered by sending in clear.

use crate::it::support::Backend;
use std::time::Duration;

use anyhow::Result;
use triaged::store::RecipientState;

use anyhow::Context as _;

use super::super::support::{mailserver, new_user, wait_for_exactly};
use super::{Env, Setup, parse, queued_message_id, text_of};

crate::both_stores!(
    a_mail_that_must_be_encrypted_without_a_key_is_held_listed_retried_and_cancelled
);

async fn a_mail_that_must_be_encrypted_without_a_key_is_held_listed_retried_and_cancelled(
    backend: Backend,
) -> Result<()> {
    let templates = tempfile::tempdir()?;
    std::fs::write(
        templates.path().join("welcome-se.txt"),
        "+++\nsubject = \"Private for {{ name }}\"\nto = [\"{{ recipient }}\"]\nencrypt = \"always\"\n+++\nSecret.\n",
    )?;
    let transport = "transport = \"file:outbox\"".to_owned();
    let extra = String::new();
    let env = Env::new(&Setup {
        transport: &format!(
            "{transport}\ntemplates_dir = \"{}\"",
            templates.path().display()
        ),
        disputes_address: "Arbitration <arbitration@example.org>",
        claimant: "Team Leader <stl@example.org>",
        extra: &extra,
        backend,
    })
    .await?;
    let out = env
        .run(&[
            "send",
            "welcome",
            "--role",
            "se",
            "--to",
            "Santa <santa@example.org>",
        ])
        .await?;
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.starts_with("held outbox 1 ") && stdout.contains("encryption is required"),
        "{stdout}"
    );

    let list = env.run(&["outbox", "list"]).await?;
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listed.contains("welcome-se") && listed.contains("santa@example.org  held"),
        "{listed}"
    );

    let flush = env.run(&["outbox", "flush", "--now"]).await?;
    assert!(
        String::from_utf8_lossy(&flush.stdout).contains("attempted 0"),
        "{}",
        text_of(&flush)
    );
    assert!(
        !env.dir.path().join("outbox").exists(),
        "nothing written in clear"
    );

    let retry = env.run(&["outbox", "retry", "1"]).await?;
    assert_eq!(retry.status.code(), Some(1), "{}", text_of(&retry));
    assert!(
        String::from_utf8_lossy(&retry.stdout).contains("still held"),
        "{}",
        text_of(&retry)
    );

    let cancel = env.run(&["outbox", "cancel", "1"]).await?;
    assert!(cancel.status.success(), "{}", text_of(&cancel));
    assert!(
        String::from_utf8_lossy(&cancel.stdout).contains("cancelled 1 recipient"),
        "{}",
        text_of(&cancel)
    );
    let r = env.recipients().await?.remove(0);
    assert_eq!(r.state, RecipientState::Cancelled);
    let missing = env.run(&["outbox", "retry", "99"]).await?;
    assert_eq!(missing.status.code(), Some(1), "{}", text_of(&missing));
    env.assert_backend().await?;
    Ok(())
}

crate::both_stores!(starttls_is_required_and_checked_against_the_configured_ca);

async fn starttls_is_required_and_checked_against_the_configured_ca(
    backend: Backend,
) -> Result<()> {
    let server = mailserver().await?;
    let user = new_user("starttls").await?;
    let trusted = format!(
        "transport = \"smtp://localhost:{}\"\nca_file = \"{}\"",
        server.smtp_port,
        server.ca.display()
    );
    let untrusted = format!("transport = \"smtp://localhost:{}\"", server.smtp_port);
    let to = format!("Tls User <{}>", user.address);

    let env = Env::new(&Setup {
        transport: &untrusted,
        disputes_address: "a@example.org",
        claimant: "T L <stl@example.org>",
        extra: "",
        backend,
    })
    .await?;
    let out = env
        .run(&["send", "welcome", "--role", "triage", "--to", &to])
        .await?;
    assert!(out.status.success(), "{}", text_of(&out));
    let flush = env.run(&["outbox", "flush", "--now"]).await?;
    assert!(
        String::from_utf8_lossy(&flush.stdout).contains("retrying 1"),
        "a TLS failure is transient: {}",
        text_of(&flush)
    );
    let r = env.recipients().await?.remove(0);
    assert_eq!(r.state, RecipientState::Queued);

    let env = Env::new(&Setup {
        transport: &trusted,
        disputes_address: "a@example.org",
        claimant: "T L <stl@example.org>",
        extra: "",
        backend,
    })
    .await?;
    let out = env
        .run(&["send", "welcome", "--role", "triage", "--to", &to])
        .await?;
    let id = queued_message_id(&out)?;
    let flush = env.run(&["outbox", "flush"]).await?;
    assert!(
        String::from_utf8_lossy(&flush.stdout).contains("sent 1"),
        "{}",
        text_of(&flush)
    );
    let got = wait_for_exactly(&user, "INBOX", 1, Duration::from_secs(20))
        .await
        .context("only the mail sent over verified TLS arrived")?;
    let msg = parse(&got[0])?;
    assert_eq!(msg.message_id(), Some(id.as_str()));
    // RFC 3848: Postfix records a TLS-protected submission as "with ESMTPS".
    let raw = String::from_utf8_lossy(&got[0]);
    assert!(
        raw.contains("(Postfix) with ESMTPS"),
        "Postfix saw TLS: {raw}"
    );
    env.assert_backend().await?;
    Ok(())
}
