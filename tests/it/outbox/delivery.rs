//! Welcome packs and ABC filings through Postfix into Dovecot; a 550 at RCPT fails one recipient only;
//! header injection is refused before anything is queued.

use std::time::Duration;

use anyhow::Result;
use mail_parser::MimeHeaders as _;
use triaged::store::RecipientState;

use anyhow::Context as _;

use super::super::support::{Backend, new_user, wait_for_exactly};
use super::{Env, parse, queued_message_id, text_of};

const WAIT: Duration = Duration::from_secs(20);

crate::both_stores!(welcome_pack_and_abc_filing_arrive_with_their_headers_and_parts);

async fn welcome_pack_and_abc_filing_arrive_with_their_headers_and_parts(
    backend: Backend,
) -> Result<()> {
    let newcomer = new_user("newcomer").await?;
    let arbitration = new_user("arbitration").await?;
    let leader = new_user("leader").await?;
    let env = Env::with_postfix(
        &format!("Arbitration <{}>", arbitration.address),
        &format!("Team Leader <{}>", leader.address),
        "",
        backend,
    )
    .await?;
    let to = format!("New Comer <{}>", newcomer.address);
    let welcome = env
        .run(&["send", "welcome", "--role", "triage", "--to", &to])
        .await?;
    assert!(welcome.status.success(), "{}", text_of(&welcome));
    let welcome_id = queued_message_id(&welcome)?;
    let candidate = format!("Santa Claus <{}>", newcomer.address);
    let filing = env
        .run(&[
            "dispute",
            "abc",
            "--candidate",
            &candidate,
            "--alias",
            "St Nick",
            "--current-role",
            "triage",
            "--proposed-role",
            "se",
        ])
        .await?;
    assert!(filing.status.success(), "{}", text_of(&filing));
    let filing_id = queued_message_id(&filing)?;
    let flush = env.run(&["outbox", "flush"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));
    assert!(
        String::from_utf8_lossy(&flush.stdout).contains("sent 3"),
        "{}",
        text_of(&flush)
    );

    let got = wait_for_exactly(&newcomer, "INBOX", 1, WAIT)
        .await
        .context("the candidate is not a recipient of the filing")?;
    let msg = parse(&got[0])?;
    assert_eq!(msg.message_id(), Some(welcome_id.as_str()));
    assert_eq!(msg.subject(), Some("Welcome to Support Triage, New Comer"));
    assert_eq!(
        msg.from().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("support@example.org")
    );
    assert!(msg.date().is_some());
    assert!(
        msg.header_raw("Auto-Submitted").is_none(),
        "written by a person"
    );
    let body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    for pointer in [
        "Support/Triage",
        "\"se\"",
        "Support-1",
        "Triage-1",
        "Triage-2",
        "S/MIME",
        "community address",
    ] {
        assert!(
            body.contains(pointer),
            "welcome pack lacks {pointer:?}:\n{body}"
        );
    }

    for user in [&arbitration, &leader] {
        let got = wait_for_exactly(user, "INBOX", 1, WAIT).await?;
        let msg = parse(&got[0])?;
        assert_eq!(msg.message_id(), Some(filing_id.as_str()));
        assert_eq!(msg.subject(), Some("Dispute: ABC Request over Santa Claus"));
        let to = msg.to().and_then(|a| a.first()).and_then(|a| a.address());
        assert_eq!(to, Some(arbitration.address.as_str()));
        let cc = msg.cc().and_then(|a| a.first()).and_then(|a| a.address());
        assert_eq!(cc, Some(leader.address.as_str()));
        let body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
        let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
        for part in [
            format!("Claimant: Team Leader <{}>", leader.address),
            format!("Respondent: Santa Claus <{}>", newcomer.address),
            "Complaint: ABC Request over Santa Claus".to_owned(),
            "Relief: An Arbitrated Background Check over Santa Claus".to_owned(),
            format!("known as St Nick <{}>", newcomer.address),
            "working as Triage".to_owned(),
            "role of Support Engineer".to_owned(),
            "Security Policy 9.1.4.2".to_owned(),
        ] {
            assert!(one_line.contains(&part), "filing lacks {part:?}:\n{body}");
        }
        assert_eq!(msg.content_type().map(|c| c.ctype()), Some("text"));
    }
    env.assert_backend().await?;
    Ok(())
}

crate::both_stores!(a_recipient_rejected_with_550_fails_once_while_the_other_is_delivered);

async fn a_recipient_rejected_with_550_fails_once_while_the_other_is_delivered(
    backend: Backend,
) -> Result<()> {
    let arbitration = new_user("arbitration").await?;
    let rejected = format!("nosuch-{}@test.example", std::process::id());
    let env = Env::with_postfix(
        &format!("Arbitration <{}>", arbitration.address),
        &format!("Gone Leader <{rejected}>"),
        "",
        backend,
    )
    .await?;
    let filing = env
        .run(&[
            "dispute",
            "abc",
            "--candidate",
            "Santa Claus <presents@example.org>",
            "--alias",
            "St Nick",
            "--current-role",
            "triage",
            "--proposed-role",
            "se",
        ])
        .await?;
    assert!(filing.status.success(), "{}", text_of(&filing));
    let flush = env.run(&["outbox", "flush", "--now"]).await?;
    assert_eq!(
        flush.status.code(),
        Some(1),
        "a failure is reported: {}",
        text_of(&flush)
    );
    let stdout = String::from_utf8_lossy(&flush.stdout);
    assert!(
        stdout.contains("sent 1") && stdout.contains("failed 1"),
        "{}",
        text_of(&flush)
    );
    assert!(
        stdout.contains(&format!("to {rejected}: permanent")),
        "{}",
        text_of(&flush)
    );

    let again = env.run(&["outbox", "flush", "--now"]).await?;
    assert!(again.status.success(), "{}", text_of(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("attempted 0"),
        "not retried: {}",
        text_of(&again)
    );

    let recipients = env.recipients().await?;
    let find = |a: &str| recipients.iter().find(|r| r.address == a).cloned();
    let failed = find(&rejected).ok_or_else(|| anyhow::anyhow!("no row for {rejected}"))?;
    assert_eq!((failed.state, failed.attempts), (RecipientState::Failed, 1));
    assert!(failed.last_error.contains("550"), "{}", failed.last_error);
    let sent = find(&arbitration.address).ok_or_else(|| anyhow::anyhow!("no row"))?;
    assert_eq!((sent.state, sent.attempts), (RecipientState::Sent, 1));
    wait_for_exactly(&arbitration, "INBOX", 1, WAIT).await?;
    env.assert_backend().await?;
    Ok(())
}

crate::both_stores!(a_name_with_crlf_and_bcc_is_refused_with_exit_2_and_nothing_queued);

async fn a_name_with_crlf_and_bcc_is_refused_with_exit_2_and_nothing_queued(
    backend: Backend,
) -> Result<()> {
    let victim = new_user("victim").await?;
    let env = Env::with_postfix(
        "Arbitration <arbitration@test.example>",
        "Team Leader <stl@test.example>",
        "",
        backend,
    )
    .await?;
    let evil = format!(
        "Evil\r\nBcc: {}\r\nX: <newcomer@test.example>",
        victim.address
    );
    let runs = [
        vec!["send", "welcome", "--role", "triage", "--to", evil.as_str()],
        vec![
            "send",
            "welcome",
            "--role",
            "se",
            "--to",
            "Evil\nBcc: x@test.example <a@test.example>",
            "--dry-run",
        ],
        vec![
            "dispute",
            "abc",
            "--candidate",
            evil.as_str(),
            "--alias",
            "St Nick",
            "--current-role",
            "triage",
            "--proposed-role",
            "se",
        ],
        vec![
            "dispute",
            "abc",
            "--candidate",
            "Santa <a@test.example>",
            "--alias",
            "x",
            "--current-role",
            "triage",
            "--proposed-role",
            "se",
            "--claimant",
            evil.as_str(),
        ],
    ];
    for args in &runs {
        let out = env.run(args).await?;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text_of(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("line break"),
            "{}",
            text_of(&out)
        );
    }
    let store = env.store().await?;
    assert!(store.outbox_mails(10).await?.is_empty(), "nothing queued");
    assert!(store.events(None, 10).await?.is_empty(), "nothing recorded");
    env.assert_backend().await?;
    Ok(())
}

crate::both_stores!(a_filing_with_a_missing_part_is_refused_naming_it);

async fn a_filing_with_a_missing_part_is_refused_naming_it(backend: Backend) -> Result<()> {
    let env = Env::with_postfix(
        "Arbitration <arbitration@test.example>",
        "Team Leader <stl@test.example>",
        "",
        backend,
    )
    .await?;
    let out = env
        .run(&[
            "dispute",
            "abc",
            "--candidate",
            "Santa Claus <a@test.example>",
            "--current-role",
            "triage",
            "--proposed-role",
            "se",
        ])
        .await?;
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("alias is missing"),
        "{}",
        text_of(&out)
    );
    let out = env
        .run(&[
            "dispute",
            "abc",
            "--candidate",
            "a@test.example",
            "--alias",
            "x",
            "--current-role",
            "triage",
            "--proposed-role",
            "se",
        ])
        .await?;
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Respondent's name"),
        "{}",
        text_of(&out)
    );
    assert!(env.store().await?.outbox_mails(10).await?.is_empty());
    env.assert_backend().await?;
    Ok(())
}

crate::both_stores!(dry_run_prints_the_message_and_queues_nothing);

async fn dry_run_prints_the_message_and_queues_nothing(backend: Backend) -> Result<()> {
    let env = Env::with_postfix(
        "Arbitration <arbitration@test.example>",
        "Team Leader <stl@test.example>",
        "",
        backend,
    )
    .await?;
    let out = env
        .run(&[
            "send",
            "welcome",
            "--role",
            "se",
            "--to",
            "Santa <santa@test.example>",
            "--dry-run",
        ])
        .await?;
    assert!(out.status.success(), "{}", text_of(&out));
    let msg = parse(&out.stdout)?;
    assert_eq!(
        msg.subject(),
        Some("Welcome to the Support Engineers, Santa")
    );
    assert!(msg.message_id().is_some() && msg.date().is_some());
    assert!(msg.body_text(0).is_some_and(|b| b.contains("Support-2")));
    assert!(env.store().await?.outbox_mails(10).await?.is_empty());
    env.assert_backend().await?;
    Ok(())
}
