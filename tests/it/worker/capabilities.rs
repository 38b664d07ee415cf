//! Servers lacking a capability, on private Dovecots whose `imap_capability` advertises the shared
//! server's full list minus MOVE (triaged must COPY, set `\Deleted` and UID EXPUNGE) or minus IDLE
//! (triaged must poll). Dovecot 2.3 still runs MOVE and IDLE when they are not advertised, so sorting
//! correctly proves nothing by itself: Dovecot's raw log of every session (`rawlog_dir`) must show that
//! no such command was sent, and that the other path was taken.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use async_imap::types::Capability;

use super::harness::{Opts, World, bulk};
use super::plans::{Settled, check_world, wait_settled};
use crate::it::support::{
    Backend, ImapSession, PrivateServer, QUIET, TestUser, append_many, imap_login, new_user,
    private_mailserver_with, wait_quiet_with,
};

/// The capabilities a session was told, as the server spells them.
async fn capabilities(session: &mut ImapSession) -> Result<BTreeSet<String>> {
    let caps = session.capabilities().await.context("CAPABILITY")?;
    Ok(caps
        .iter()
        .map(|c| match c {
            Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
            Capability::Auth(m) => format!("AUTH={m}"),
            Capability::Atom(a) => a.to_string(),
        })
        .collect())
}

/// The shared server's full capability list after login, minus `lacking`.
async fn full_list_minus(lacking: &str) -> Result<BTreeSet<String>> {
    let user = new_user("caps").await?;
    let mut session = imap_login(&user, false).await?;
    let mut caps = capabilities(&mut session).await?;
    session.logout().await.ok();
    ensure!(
        caps.remove(lacking),
        "the shared server lacks {lacking} itself"
    );
    Ok(caps)
}

/// A private Dovecot advertising everything but `lacking`, and keeping a raw log of every IMAP
/// session in the user's `rawlog` directory (which must exist for Dovecot to write it).
async fn server_lacking(lacking: &str) -> Result<(PrivateServer, BTreeSet<String>)> {
    let want = full_list_minus(lacking).await?;
    let list: Vec<&str> = want.iter().map(String::as_str).collect();
    let settings = format!(
        "imap_capability = {}\nprotocol imap {{\n  rawlog_dir = %h/rawlog\n}}\n",
        list.join(" ")
    );
    let name = format!("no-{}", lacking.to_ascii_lowercase());
    let ps = private_mailserver_with(&name, &settings).await?;
    Ok((ps, want))
}

/// A user of `ps` whose sessions are logged raw; returns the log directory.
fn logged_user(ps: &PrivateServer, prefix: &str) -> Result<(TestUser, std::path::PathBuf)> {
    let user = ps.new_user(prefix)?;
    let home = ps.server.dir.join("mail").join(&user.name);
    let rawlog = home.join("rawlog");
    std::fs::create_dir_all(&rawlog).with_context(|| format!("create {}", rawlog.display()))?;
    let owner = std::process::Command::new("chown")
        .args(["-R", "triaged-vmail:triaged-vmail"])
        .arg(&home)
        .status()?;
    ensure!(owner.success(), "chown {} failed", home.display());
    Ok((user, rawlog))
}

/// The commands (without tags and arguments) of every session in a raw log directory. Dovecot writes
/// each line the client sent as `SECONDS.MICROS LINE`; message data inside literals (`{N}` or `{N+}`
/// at the end of a line, RFC 3501 and RFC 7888) is skipped, so a message saying "please move" is no
/// MOVE command.
fn logged_commands(rawlog: &Path) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(rawlog)?.flatten() {
        if entry.path().extension().is_none_or(|e| e != "in") {
            continue;
        }
        files += 1;
        let text = String::from_utf8_lossy(&std::fs::read(entry.path())?).into_owned();
        let mut literal = 0usize;
        for line in text.split("\r\n") {
            let line = line.split_once(' ').map_or("", |(_, l)| l);
            let rest = if literal >= line.len() + 2 {
                literal -= line.len() + 2;
                continue;
            } else if literal > 0 {
                // The literal ends inside this line; the command goes on after it.
                line.get(literal..).unwrap_or("")
            } else {
                out.extend(command(line));
                line
            };
            literal = literal_after(rest);
        }
    }
    ensure!(
        files > 0,
        "Dovecot wrote no raw log in {}",
        rawlog.display()
    );
    Ok(out)
}

/// The command of a tagged line (`A0012 UID MOVE 1:4 "Junk"` → `UID MOVE`), or `DONE`.
fn command(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if first.eq_ignore_ascii_case("DONE") {
        return Some("DONE".to_owned());
    }
    let verb = words.next()?.to_ascii_uppercase();
    Some(match words.next() {
        Some(second) if verb == "UID" => format!("UID {}", second.to_ascii_uppercase()),
        _ => verb,
    })
}

/// The length of the literal a line announces at its end (`{123}` or `{123+}`), else 0.
fn literal_after(line: &str) -> usize {
    line.strip_suffix('}')
        .and_then(|l| l.rsplit_once('{'))
        .and_then(|(_, n)| n.trim_end_matches('+').parse().ok())
        .unwrap_or(0)
}

#[test]
fn raw_log_lines_are_read_as_commands_and_literals_are_skipped() {
    assert_eq!(
        command("A0012 UID MOVE 1:4 \"Junk\"").as_deref(),
        Some("UID MOVE")
    );
    assert_eq!(command("A7 idle").as_deref(), Some("IDLE"));
    assert_eq!(literal_after("A0 APPEND \"INBOX\" {1961+}"), 1961);
    assert_eq!(literal_after("A0 NOOP"), 0);
}

/// Sorts a backlog and then a delivery on a server lacking `lacking`; returns the commands sent.
async fn sort_on_server_lacking(
    backend: Backend,
    lacking: &str,
    mailbox_extra: &str,
) -> Result<BTreeSet<String>> {
    let (ps, want) = server_lacking(lacking).await?;
    let prefix = format!("no-{}", lacking.to_ascii_lowercase());
    let (user, rawlog) = logged_user(&ps, &prefix)?;
    let mut session = ps.login(&user).await?;
    let told = capabilities(&mut session).await?;
    session.logout().await.ok();
    ensure!(
        told == want,
        "the server advertises {told:?}, expected the full list minus {lacking}"
    );

    let world = World::imap_at(
        &ps.server,
        user.clone(),
        Opts {
            mailbox_extra,
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let mut messages = bulk(&prefix, 121)?;
    let late = messages.pop().context("a message to deliver")?;
    let raws: Vec<&[u8]> = messages.iter().map(|(_, r)| r.as_slice()).collect();
    append_many(ps.server.imap_port, &user, "INBOX", &raws).await?;
    let mut ids: Vec<String> = messages.iter().map(|(id, _)| id.clone()).collect();
    let login = || ps.login(&user);
    let mut child = world.command(&["run"]).spawn().context("start triaged")?;
    wait_settled(&world, login, &ids, Duration::from_secs(60))
        .await
        .context("the backlog was not sorted")?;
    ps.deliver(&user, &late.1).await?;
    ids.push(late.0.clone());
    wait_settled(&world, login, &ids, Duration::from_secs(30))
        .await
        .context("the delivered message was not sorted")?;
    wait_quiet_with(login, QUIET, Duration::from_secs(60)).await?;
    check_world(&world, login, &ids, Settled::Yes).await?;
    ensure!(
        child.try_wait()?.is_none(),
        "triaged exited on a server lacking {lacking}"
    );
    child.start_kill().ok();
    world.assert_backend().await?;
    logged_commands(&rawlog)
}

crate::both_stores!(a_server_without_move_gets_copy_deleted_and_expunge_and_never_a_move);

/// Guards against: UID MOVE sent to a server that does not offer it (Dovecot would run it and hide
/// the fault), or the COPY + `\Deleted` + UID EXPUNGE path losing or doubling mail.
async fn a_server_without_move_gets_copy_deleted_and_expunge_and_never_a_move(
    backend: Backend,
) -> Result<()> {
    let sent = sort_on_server_lacking(backend, "MOVE", "").await?;
    ensure!(
        !sent.contains("UID MOVE") && !sent.contains("MOVE"),
        "MOVE was sent to a server without it: {sent:?}"
    );
    for command in ["UID COPY", "UID STORE", "UID EXPUNGE", "IDLE"] {
        ensure!(
            sent.contains(command),
            "no {command} in the raw log: {sent:?}"
        );
    }
    Ok(())
}

crate::both_stores!(a_server_without_idle_is_polled_and_never_sent_idle);

/// Guards against: IDLE sent to a server that does not offer it, or new mail on such a server never
/// noticed because nothing polls.
async fn a_server_without_idle_is_polled_and_never_sent_idle(backend: Backend) -> Result<()> {
    let sent = sort_on_server_lacking(backend, "IDLE", "poll_interval = \"1s\"\n").await?;
    ensure!(
        !sent.contains("IDLE"),
        "IDLE was sent to a server without it: {sent:?}"
    );
    for command in ["UID FETCH", "UID MOVE", "NOOP"] {
        ensure!(
            sent.contains(command),
            "no {command} in the raw log: {sent:?}"
        );
    }
    Ok(())
}
