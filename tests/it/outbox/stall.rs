//! `kill -9` of `triaged outbox flush` in the middle of an SMTP transaction, through a proxy before the
//! test Postfix that stalls it after `DATA`: held before the server's final `250` (the server never has
//! the whole message), the retry delivers exactly one copy; with the `250` withheld (the server has
//! accepted the mail, the client never hears it), the retry delivers the documented second copy, with
//! the same Message-ID. The retry comes once the killed flush's claim has lapsed (its worker's ttl). The
//! proxy must have stalled, or the test fails.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use triaged::store::RecipientState;

use super::super::support::{
    Backend, Fault, Proxy, TestUser, mailserver, new_user, wait_for_exactly,
};
use super::{Env, Setup, parse, plaintext, queued_message_id, text_of};

const WAIT: Duration = Duration::from_secs(30);

/// A welcome pack queued for a new user, sent through a proxy with `fault`, the flush killed once the
/// fault fired; returns the user, the env, the Message-ID queued and what the proxy held.
async fn killed_mid_transaction(
    backend: Backend,
    fault: Fault,
) -> Result<(TestUser, Env, String, String)> {
    let user = new_user("stall").await?;
    let proxy = Proxy::start(mailserver().await?.smtp_port, fault).await?;
    let env = Env::new(&Setup {
        transport: &plaintext(proxy.port),
        disputes_address: "Arbitration <arbitration@test.example>",
        claimant: "Team Leader <stl@test.example>",
        extra: "",
        backend,
    })
    .await?;
    let to = format!("Stalled <{}>", user.address);
    let queued = env
        .run(&["send", "welcome", "--role", "triage", "--to", &to])
        .await?;
    ensure!(queued.status.success(), "{}", text_of(&queued));
    let message_id = queued_message_id(&queued)?;

    let mut flush = env
        .command(&["outbox", "flush", "--now"])
        .spawn()
        .context("start outbox flush")?;
    let held = proxy.wait_fired(WAIT).await?;
    ensure!(
        flush.try_wait()?.is_none(),
        "outbox flush ended while the proxy held its transaction"
    );
    flush.start_kill().context("kill -9 outbox flush")?;
    flush.wait().await.context("reap outbox flush")?;

    let r = env.recipients().await?.remove(0);
    ensure!(
        (r.state, r.attempts) == (RecipientState::Queued, 1) && !r.claimed_by.is_empty(),
        "after kill -9 mid-transaction the recipient is {r:?}, expected queued after one attempt, \
         claimed by the killed flush"
    );
    env.wait_claims_lapse().await?;
    let retry = env.run(&["outbox", "flush", "--now"]).await?;
    ensure!(
        retry.status.success() && String::from_utf8_lossy(&retry.stdout).contains("sent 1"),
        "the retry did not send: {}",
        text_of(&retry)
    );
    ensure!(
        env.recipients().await?.remove(0).state == RecipientState::Sent,
        "not marked sent after the retry"
    );
    ensure!(
        proxy.connections() == 2,
        "{} SMTP connections",
        proxy.connections()
    );
    env.assert_backend().await?;
    Ok((user, env, message_id, held))
}

crate::both_stores!(a_flush_killed_before_the_servers_250_delivers_exactly_one_copy);

/// Guards against: a transaction the server never completed counting as sent (the mail lost), or its
/// retry arriving twice.
async fn a_flush_killed_before_the_servers_250_delivers_exactly_one_copy(
    backend: Backend,
) -> Result<()> {
    let (user, _env, message_id, held) =
        killed_mid_transaction(backend, Fault::StallAfterData).await?;
    ensure!(held.contains("end of the message"), "held: {held}");
    let got = wait_for_exactly(&user, "INBOX", 1, WAIT).await?;
    ensure!(
        parse(&got[0])?.message_id() == Some(message_id.as_str()),
        "the copy does not carry the Message-ID fixed at enqueue"
    );
    Ok(())
}

crate::both_stores!(
    a_flush_killed_with_the_servers_250_withheld_gives_two_copies_with_one_message_id
);

/// Guards against: the documented worst case (README "Outbox": a crash between the server's `250` and
/// its record) being worse than two copies of the same mail, or the copies differing in Message-ID.
async fn a_flush_killed_with_the_servers_250_withheld_gives_two_copies_with_one_message_id(
    backend: Backend,
) -> Result<()> {
    let (user, _env, message_id, held) =
        killed_mid_transaction(backend, Fault::WithholdDataReply).await?;
    ensure!(
        held.starts_with("250"),
        "the reply held was not a 250: {held}"
    );
    let got = wait_for_exactly(&user, "INBOX", 2, WAIT).await?;
    for raw in &got {
        ensure!(
            parse(raw)?.message_id() == Some(message_id.as_str()),
            "a copy does not carry the Message-ID fixed at enqueue"
        );
    }
    Ok(())
}
