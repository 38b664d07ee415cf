//! Tests of the test servers themselves, through the support helpers every other test uses: Postfix relays
//! test.example into Dovecot and rejects unknown users at RCPT time, IMAPS presents a certificate only the
//! test CA vouches for, LMTP wakes IDLE, ACL sharing works, and the private Pigeonhole config runs.

use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response};

use super::support::{
    DOMAIN, append, deliver_lmtp, fetch_all, imap_connect_tls, imap_login, list_folders,
    mailserver, mailserver_ctl, message_ids, new_user, sieve_workdir, smtp_send, wait_for_exactly,
};

const WAIT: Duration = Duration::from_secs(20);

fn sample(message_id: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <{message_id}>\r\n\r\n\
         Hello.\r\n.leading dot survives\r\n"
    )
    .into_bytes()
}

fn unique_id(what: &str) -> String {
    format!(
        "{what}-{}-{}@triaged.test",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[tokio::test]
async fn postfix_delivers_to_dovecot_and_imaps_reads_it_back() -> Result<()> {
    let status = mailserver_ctl("status").await?;
    ensure!(
        status.contains("dovecot: running") && status.contains("postfix: running"),
        "{status}"
    );
    let user = new_user("smtp").await?;
    let id = unique_id("smtp");
    smtp_send(
        "sender@example.org",
        &[&user.address],
        &sample(&id, &user.address, "via postfix"),
    )
    .await?;
    wait_for_exactly(&user, "INBOX", 1, WAIT).await?;

    let mut session = imap_login(&user, true).await?;
    assert_eq!(message_ids(&mut session, "INBOX").await?, vec![id]);
    let raw = fetch_all(&mut session, "INBOX").await?.remove(0);
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .context("parse delivered mail")?;
    let received: Vec<String> = parsed
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Received"))
        .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let postfix = received
        .iter()
        .find(|r| r.contains("(Postfix)"))
        .with_context(|| format!("no Received header from Postfix in {received:?}"))?;
    for part in [
        "(localhost [127.0.0.1])",
        "by mail.test.example (Postfix) with ESMTP id ",
        &format!("for <{}>;", user.address),
    ] {
        ensure!(
            postfix.contains(part),
            "Postfix Received header {postfix:?} lacks {part:?}"
        );
    }
    ensure!(
        parsed
            .body_text(0)
            .is_some_and(|b| b.contains("\n.leading dot")),
        "body changed in transit"
    );
    session.logout().await?;
    Ok(())
}

#[tokio::test]
async fn postfix_rejects_unknown_recipient_with_permanent_550() -> Result<()> {
    mailserver().await?;
    let to = format!("nosuch-{}@{DOMAIN}", std::process::id());
    let err = match smtp_send(
        "sender@example.org",
        &[&to],
        &sample(&unique_id("nosuch"), &to, "x"),
    )
    .await
    {
        Ok(()) => bail!("postfix accepted {to}"),
        Err(err) => err,
    };
    let smtp = err
        .downcast_ref::<lettre::transport::smtp::Error>()
        .with_context(|| format!("not an smtp error: {err:#}"))?;
    assert!(smtp.is_permanent(), "{smtp}");
    assert_eq!(smtp.status().map(u16::from), Some(550), "{smtp}");
    Ok(())
}

#[tokio::test]
async fn imaps_is_refused_by_a_client_that_does_not_trust_the_test_ca() -> Result<()> {
    mailserver().await?;
    let mut roots = rustls::RootCertStore::empty();
    // The system's trust store, as an ordinary client would have it: the test CA is not in it.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let err = match imap_connect_tls(roots).await {
        Ok(_) => bail!("the tls handshake succeeded without the test CA"),
        Err(err) => err,
    };
    let tls = err
        .downcast_ref::<std::io::Error>()
        .and_then(|e| e.get_ref())
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .with_context(|| format!("not a tls error: {err:#}"))?;
    assert_eq!(
        tls,
        &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        "{err:#}"
    );
    Ok(())
}

#[tokio::test]
async fn lmtp_delivery_wakes_an_idle_session() -> Result<()> {
    let user = new_user("idle").await?;
    let mut session = imap_login(&user, true).await?;
    let inbox = session.select("INBOX").await?;
    assert_eq!(inbox.exists, 0);

    let mut idle = session.idle();
    idle.init().await?;
    let id = unique_id("idle");
    let raw = sample(&id, &user.address, "wake up");
    let (response, delivered) = {
        let (wait, _stop) = idle.wait_with_timeout(WAIT);
        tokio::join!(wait, deliver_lmtp(&user, &raw))
    };
    delivered?;
    match response? {
        IdleResponse::NewData(data) => match data.parsed() {
            Response::MailboxData(MailboxDatum::Exists(1)) => {}
            other => bail!("idle woke with {other:?}, expected EXISTS 1"),
        },
        other => bail!("idle ended without news: {other:?}"),
    }
    let mut session = idle.done().await?;
    assert_eq!(message_ids(&mut session, "INBOX").await?, vec![id]);
    session.logout().await?;
    Ok(())
}

#[tokio::test]
async fn server_offers_extensions_and_shares_folders_by_acl() -> Result<()> {
    let owner = new_user("owner").await?;
    let reader = new_user("reader").await?;
    let stranger = new_user("stranger").await?;
    let mut session = imap_login(&owner, false).await?;
    let caps = session.capabilities().await?;
    for cap in ["IDLE", "MOVE", "UIDPLUS", "ACL"] {
        assert!(caps.has_str(cap), "server lacks {cap}");
    }

    let id = unique_id("shared");
    append(
        &owner,
        "Team",
        &sample(&id, &owner.address, "shared"),
        &["\\Seen"],
    )
    .await?;
    session
        .run_command_and_check_ok(format!("SETACL Team {} lr", reader.name))
        .await?;
    session.logout().await?;

    let shared = format!("shared/{}/Team", owner.name);
    let mut session = imap_login(&reader, false).await?;
    let folders = list_folders(&mut session).await?;
    assert!(folders.contains(&shared), "{shared} not in {folders:?}");
    assert_eq!(message_ids(&mut session, &shared).await?, vec![id]);
    session.logout().await?;

    let mut session = imap_login(&stranger, false).await?;
    let folders = list_folders(&mut session).await?;
    assert!(
        !folders.iter().any(|f| f.starts_with("shared/")),
        "stranger sees {folders:?}"
    );
    session.logout().await?;
    Ok(())
}

#[tokio::test]
async fn sieve_test_runs_with_the_private_pigeonhole_config() -> Result<()> {
    let server = mailserver().await?;
    let dir = sieve_workdir().await?;
    let script = dir.path().join("rules.sieve");
    let eml = dir.path().join("mail.eml");
    std::fs::write(
        &script,
        "require [\"fileinto\", \"vacation\", \"variables\", \"imap4flags\", \"duplicate\", \"mailbox\", \
         \"regex\", \"relational\", \"subaddress\", \"date\", \"index\", \"copy\", \"body\", \"envelope\", \
         \"comparator-i;ascii-numeric\"];\n\
         if header :regex \"subject\" \"^via (.*)$\" { fileinto :create \"Bucket-${1}\"; }\n",
    )?;
    std::fs::write(
        &eml,
        sample(&unique_id("sieve"), "support@test.example", "via sieve"),
    )?;
    let out = tokio::process::Command::new("sieve-test")
        .arg("-c")
        .arg(&server.sieve_conf)
        .arg(&script)
        .arg(&eml)
        .output()
        .await
        .context("run sieve-test")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "sieve-test failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        stdout.contains("store message in folder: Bucket-sieve"),
        "unexpected result: {stdout}"
    );
    Ok(())
}
