//! `send ack`: the RFC 3834 guard declines automatic, list, bounce and repeated mail, each with its reason;
//! an acknowledgement that is sent is threaded, carries a ticket number and `Auto-Submitted: auto-replied`.

use std::time::Duration;

use anyhow::Result;

use anyhow::Context as _;

use super::super::support::{Backend, new_user, wait_for_exactly};
use super::{Env, parse, text_of, write_eml};

fn message(from: &str, id: &str, extra: &str) -> String {
    format!(
        "Return-Path: <{from}>\nFrom: Alice Example <{from}>\nTo: Support <support@example.org>\n\
         Subject: I cannot log in\nDate: Sat, 28 Nov 2026 18:00:00 +0000\nMessage-ID: <{id}@example.net>\n\
         {extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nHelp, please.\n"
    )
}

crate::both_stores!(send_ack_declines_what_rfc_3834_forbids_each_with_its_reason);

async fn send_ack_declines_what_rfc_3834_forbids_each_with_its_reason(
    backend: Backend,
) -> Result<()> {
    let alice = new_user("alice").await?;
    let env = Env::with_postfix(
        "Arbitration <arbitration@test.example>",
        "Team Leader <stl@test.example>",
        "",
        backend,
    )
    .await?;
    let dir = env.dir.path();
    let cases = [
        (
            "auto.eml",
            message(&alice.address, "a1", "Auto-Submitted: auto-replied\n"),
            "Auto-Submitted: auto-replied",
        ),
        (
            "list.eml",
            message(
                &alice.address,
                "a2",
                "List-Id: <support.lists.example.org>\n",
            ),
            "list or bulk mail (List-Id",
        ),
        (
            "bounce.eml",
            message("", "a3", "").replace(
                "From: Alice Example <>",
                "From: Mail Delivery System <MAILER-DAEMON@example.net>",
            ),
            "bounce (empty return path)",
        ),
        (
            "own.eml",
            message("support@example.org", "a4", ""),
            "the team's own address",
        ),
    ];
    for (name, text, reason) in &cases {
        let path = write_eml(dir, name, text)?;
        let out = env
            .run(&["send", "ack", "--reply-to", &path.display().to_string()])
            .await?;
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text_of(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("declined: ") && stdout.contains(reason),
            "{name}: {}",
            text_of(&out)
        );
    }
    assert!(
        env.store().await?.outbox_mails(10).await?.is_empty(),
        "no declined ack was queued"
    );

    let first = write_eml(dir, "first.eml", &message(&alice.address, "b1", ""))?;
    let out = env
        .run(&["send", "ack", "--reply-to", &first.display().to_string()])
        .await?;
    assert!(out.status.success(), "{}", text_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let ticket = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ticket "))
        .ok_or_else(|| anyhow::anyhow!("no ticket in {stdout}"))?
        .to_owned();
    assert!(
        ticket.len() == 13 && ticket.starts_with('s') && ticket.as_bytes()[9] == b'.',
        "{ticket}"
    );

    let second = write_eml(dir, "second.eml", &message(&alice.address, "b2", ""))?;
    let out = env
        .run(&["send", "ack", "--reply-to", &second.display().to_string()])
        .await?;
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("declined: ") && stdout.contains("already answered automatically"),
        "{}",
        text_of(&out)
    );

    let flush = env.run(&["outbox", "flush"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));
    let got = wait_for_exactly(&alice, "INBOX", 1, Duration::from_secs(20))
        .await
        .context("one acknowledgement per sender per period")?;
    let msg = parse(&got[0])?;
    assert_eq!(
        msg.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(
        msg.subject(),
        Some(format!("Re: I cannot log in [{ticket}]").as_str())
    );
    assert_eq!(msg.in_reply_to().as_text(), Some("b1@example.net"));
    let body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    assert!(
        body.contains(&ticket) && body.contains("I cannot log in"),
        "{body}"
    );
    let return_path = msg.header_raw("Return-Path").map(str::trim);
    assert_eq!(
        return_path,
        Some("<>"),
        "automatic replies go out with a null sender"
    );
    env.assert_backend().await?;
    Ok(())
}
