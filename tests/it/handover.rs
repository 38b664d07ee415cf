//! Rights and handovers end to end, on SQLite and PostgreSQL: the roster's rights applied to the real
//! Dovecot's ACLs and the real Mailman 3's lists by `team sync --apply`, a handover of the support
//! mailbox confirmed, applied and verified, a retirement revoking list memberships, the alert for rights
//! left past `revoke_within`, drift after changes made behind triaged's back, and a `kill -9` between two
//! assets of an apply. Every state is read back with the test's own IMAP logins and HTTP calls to
//! Mailman's REST API, never through triaged's modules.

use anyhow::{Context as _, Result, ensure};
use futures::TryStreamExt as _;

use super::support::{
    Backend, ImapSession, TestUser, append, getacl, imap_login, list_folders, mailman, mailserver,
    new_user,
};
use super::team::env::{Env, Out};

/// The rights `who` holds on `folder` as the owner's own GETACL shows them, as a sorted set without
/// the obsolete `c` and `d`; `None` when there is no entry.
async fn rights_of(owner: &mut ImapSession, folder: &str, who: &str) -> Result<Option<String>> {
    let entries = getacl(owner, folder).await?;
    Ok(entries.into_iter().find(|(id, _)| id == who).map(|(_, r)| {
        let mut set: Vec<char> = r.chars().filter(|c| !matches!(c, 'c' | 'd')).collect();
        set.sort_unstable();
        set.dedup();
        set.into_iter().collect()
    }))
}

fn sorted(rights: &str) -> String {
    let mut set: Vec<char> = rights.chars().collect();
    set.sort_unstable();
    set.into_iter().collect()
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Someone <someone@example.org>\r\nTo: support@test.example\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}-{}@triaged.test>\r\n\r\nHello.\r\n",
        rand::random::<u32>()
    )
    .into_bytes()
}

const MAILBOX_ASSET: &str = "[[asset]]\nname = \"mailbox:support\"\nkind = \"imap-acl\"\n\
    folders = \"*\"\nrights = { triage = \"lrs\", se = \"lrswi\", leader = \"lrswipkxtea\" }\n\
    critical = true\n";

/// Adds a member with an IMAP login.
async fn member(env: &Env, name: &str, role: &str, user: Option<&TestUser>) -> Result<()> {
    let who = match user {
        Some(u) => format!("{name} <{}>", u.address),
        None => format!("{name} <{}@people.test.example>", name.to_lowercase()),
    };
    env.ok(&["team", "add", &who, "--role", role]).await?;
    if let Some(u) = user {
        env.ok(&["team", "record", name, "imap-user", &u.name])
            .await?;
    }
    Ok(())
}

/// `handover start --asset ASSET --from FROM --to TO`, which must be refused as bad input (exit 2).
async fn refused_start(env: &Env, asset: &str, from: &str, to: &str) -> Result<Out> {
    env.fails(
        &[
            "handover", "start", "--asset", asset, "--from", from, "--to", to,
        ],
        2,
    )
    .await
}

/// Done when (Dovecot): a handover of `mailbox:support` from one test user to another is applied and
/// verified; the new holder can SELECT and read a bucket folder through the shared namespace, the old
/// one no longer can (a fresh login); a bucket the worker creates after the handover gets the tree's
/// rights; `verify` reports drift after a SETACL made behind triaged's back.
async fn mailbox_handover_is_applied_verified_and_proven_with_fresh_logins(
    backend: Backend,
) -> Result<()> {
    let env = Env::imap(backend, "ho-owner", &[MAILBOX_ASSET]).await?;
    let owner = env.user.clone().context("no owner")?;
    let alice = new_user("ho-alice").await?;
    let bob = new_user("ho-bob").await?;
    append(&owner, "Bucket", &message("bucket"), &[]).await?;
    member(&env, "Alice", "se", Some(&alice)).await?;
    member(&env, "Bob", "assurer", Some(&bob)).await?;
    member(&env, "Carol", "assurer", None).await?;

    let planned = env.ok(&["team", "sync"]).await?;
    ensure!(
        planned.contains("to do") && planned.contains(&alice.name),
        "{planned}"
    );
    let mut own = imap_login(&owner, false).await?;
    ensure!(
        rights_of(&mut own, "Bucket", &alice.name).await?.is_none(),
        "a dry run changed rights"
    );
    env.ok(&["team", "sync", "--apply"]).await?;
    for folder in ["INBOX", "Bucket"] {
        assert_eq!(
            rights_of(&mut own, folder, &alice.name).await?,
            Some(sorted("lrswi"))
        );
        assert_eq!(rights_of(&mut own, folder, &bob.name).await?, None);
    }
    let again = env.ok(&["team", "sync"]).await?;
    ensure!(again.contains("in sync"), "{again}");

    // Bad input: unknown people and assets, an asset the outgoing person does not hold.
    let out = refused_start(&env, "mailbox:nope", "Alice", "Bob").await?;
    ensure!(
        out.stderr.contains("mailbox:nope") && out.stderr.contains("mailbox:support"),
        "{}",
        out.all()
    );
    let out = refused_start(&env, "mailbox:support", "Zed", "Bob").await?;
    ensure!(
        out.stderr.contains("Zed") && out.stderr.contains("Alice"),
        "{}",
        out.all()
    );
    let out = refused_start(&env, "mailbox:support", "Bob", "Alice").await?;
    ensure!(out.stderr.contains("does not hold"), "{}", out.all());

    let started = env
        .ok(&[
            "handover",
            "start",
            "--asset",
            "mailbox:support",
            "--from",
            "Alice",
            "--to",
            "Bob",
            "--reason",
            "Alice moves to arbitration",
        ])
        .await?;
    ensure!(started.contains("handover 1 opened"), "{started}");
    ensure!(started.matches("notice queued").count() == 3, "{started}");
    for to in [
        &alice.address,
        &bob.address,
        &"support@test.example".to_owned(),
    ] {
        ensure!(
            started.contains(to.as_str()),
            "no notice to {to}: {started}"
        );
    }
    let out = refused_start(&env, "mailbox:support", "Alice", "Carol").await?;
    ensure!(out.stderr.contains("open handover 1"), "{}", out.all());

    // Critical: a second member must agree, and neither of the two people will do.
    let out = env.fails(&["handover", "apply", "1"], 2).await?;
    ensure!(out.stderr.contains("confirm"), "{}", out.all());
    env.fails(&["handover", "confirm", "1", "--by", "Alice"], 2)
        .await?;
    env.fails(&["handover", "confirm", "1", "--by", "Nobody"], 2)
        .await?;
    env.ok(&["handover", "confirm", "1", "--by", "Carol"])
        .await?;
    let applied = env.ok(&["handover", "apply", "1"]).await?;
    ensure!(applied.contains("mailbox:support  applied"), "{applied}");
    let verified = env.ok(&["handover", "verify", "1"]).await?;
    ensure!(verified.contains("mailbox:support  verified"), "{verified}");
    let shown = env.ok(&["handover", "show", "1"]).await?;
    ensure!(
        shown.contains("closed") && shown.contains("OS user tester"),
        "{shown}"
    );

    for folder in ["INBOX", "Bucket"] {
        assert_eq!(
            rights_of(&mut own, folder, &bob.name).await?,
            Some(sorted("lrswi"))
        );
        assert_eq!(rights_of(&mut own, folder, &alice.name).await?, None);
    }
    let shared = format!("shared/{}/Bucket", owner.name);
    let mut as_bob = imap_login(&bob, false).await?;
    let selected = as_bob.select(&shared).await?;
    assert_eq!(selected.exists, 1);
    let fetched: Vec<_> = as_bob
        .fetch("1", "BODY.PEEK[]")
        .await?
        .try_collect()
        .await?;
    ensure!(
        fetched[0]
            .body()
            .is_some_and(|b| b.ends_with(b"Hello.\r\n"))
    );
    let mut as_alice = imap_login(&alice, false).await?;
    ensure!(
        as_alice.select(&shared).await.is_err(),
        "a fresh login of Alice selects {shared}"
    );
    ensure!(!list_folders(&mut as_alice).await?.contains(&shared));

    // A bucket the worker creates after the handover gets the tree's rights.
    append(&owner, "INBOX", &message("privacy"), &[]).await?;
    env.ok(&["run", "--once"]).await?;
    let folders = list_folders(&mut own).await?;
    let created: Vec<&String> = folders
        .iter()
        .filter(|f| !["INBOX", "Bucket"].contains(&f.as_str()) && !f.starts_with("shared"))
        .collect();
    ensure!(
        !created.is_empty(),
        "the worker created no bucket: {folders:?}"
    );
    for folder in created {
        assert_eq!(
            rights_of(&mut own, folder, &bob.name).await?,
            Some(sorted("lrswi")),
            "{folder}"
        );
        assert_eq!(
            rights_of(&mut own, folder, &alice.name).await?,
            None,
            "{folder}"
        );
    }

    // Behind triaged's back: Alice given read rights again.
    own.run_command_and_check_ok(format!("SETACL \"Bucket\" \"{}\" lr", alice.name))
        .await?;
    let out = env.fails(&["handover", "verify", "1"], 1).await?;
    ensure!(
        out.stdout.contains("failed")
            && out.stdout.contains("drift")
            && out.stdout.contains(&alice.name),
        "{}",
        out.all()
    );
    let status = env.ok(&["status"]).await?;
    ensure!(
        status.contains("drift") && status.contains(&alice.name),
        "{status}"
    );
    env.ok(&["team", "sync", "--apply", "--prune"]).await?;
    assert_eq!(rights_of(&mut own, "Bucket", &alice.name).await?, None);
    ensure!(
        rights_of(&mut own, "Bucket", &owner.name)
            .await?
            .is_some_and(|r| r.contains('a')),
        "prune touched the owner"
    );
    let verified = env.ok(&["handover", "verify", "1"]).await?;
    ensure!(verified.contains("verified"), "{verified}");
    for session in [as_bob, as_alice, own] {
        let mut session = session;
        session.logout().await?;
    }
    Ok(())
}
crate::both_stores!(mailbox_handover_is_applied_verified_and_proven_with_fresh_logins);

/// `[mailman]` for the test Mailman, and the two lists as assets.
async fn lists_env(backend: Backend) -> Result<(Env, String, String)> {
    let server = mailman().await?;
    let disputes = server.new_list("disputes").await?;
    let se = server.new_list("se").await?;
    let sections = format!(
        "[mailman]\nurl = \"{}\"\nuser = \"{}\"\npassword_file = \"{}\"\n\n\
         [[asset]]\nname = \"list:disputes\"\nkind = \"mailman\"\nlist = \"{disputes}\"\n\
         members = [\"se\", \"cm\", \"leader\"]\npost = [\"se\", \"cm\", \"leader\"]\ncritical = true\n\n\
         [[asset]]\nname = \"list:support-engineer\"\nkind = \"mailman\"\nlist = \"{se}\"\n\
         members = [\"triage\", \"se\"]\npost = [\"se\"]\n\n\
         [[asset]]\nname = \"wiki:se-group\"\nkind = \"manual\"\nroles = [\"se\", \"leader\"]\n",
        server.url,
        server.user,
        server.password_file.display()
    );
    let env = Env::maildir(backend, &[&sections]).await?;
    for (who, role) in [
        ("Alice <alice@people.test.example>", "se"),
        ("Dave <dave@people.test.example>", "se"),
        ("Tina <tina@people.test.example>", "triage"),
        ("Carol <carol@people.test.example>", "assurer"),
    ] {
        env.ok(&["team", "add", who, "--role", role]).await?;
    }
    Ok((env, disputes, se))
}

/// The moderation action of `address` on `list` as Mailman's REST API says, `None` when not subscribed.
async fn action(list: &str, address: &str) -> Result<Option<String>> {
    let member = mailman().await?.member(list, address).await?;
    Ok(member.map(|m| {
        m["moderation_action"]
            .as_str()
            .unwrap_or("(unset)")
            .to_owned()
    }))
}

/// Done when (Mailman): `team sync --apply` subscribes the SEs to the disputes and support-engineer
/// lists as post-capable and a plain member as moderated; retiring an SE removes them; a retired
/// member's rights still granted past `revoke_within` raise the alert, and revoking clears it; each
/// read back through the REST API.
async fn lists_follow_the_roster_and_a_retirement_is_revoked(backend: Backend) -> Result<()> {
    let (env, disputes, se) = lists_env(backend).await?;
    env.ok(&["team", "sync", "--apply"]).await?;
    for who in ["alice", "dave"] {
        let addr = format!("{who}@people.test.example");
        assert_eq!(
            action(&disputes, &addr).await?.as_deref(),
            Some("accept"),
            "{who}"
        );
        assert_eq!(
            action(&se, &addr).await?.as_deref(),
            Some("accept"),
            "{who}"
        );
    }
    assert_eq!(
        action(&se, "tina@people.test.example").await?.as_deref(),
        Some("hold")
    );
    assert_eq!(action(&disputes, "tina@people.test.example").await?, None);
    assert_eq!(action(&se, "carol@people.test.example").await?, None);
    let again = env.ok(&["team", "sync"]).await?;
    ensure!(again.contains("in sync"), "{again}");

    // Someone subscribed behind triaged's back is drift, removed only with --prune.
    let server = mailman().await?;
    server
        .subscribe(&disputes, "stranger@elsewhere.example")
        .await?;
    let out = env.ok(&["team", "sync", "--apply"]).await?;
    ensure!(
        out.contains("drift") && out.contains("stranger@elsewhere.example"),
        "{out}"
    );
    ensure!(
        action(&disputes, "stranger@elsewhere.example")
            .await?
            .is_some()
    );
    let status = env.ok(&["status"]).await?;
    ensure!(status.contains("stranger@elsewhere.example"), "{status}");
    env.ok(&["team", "sync", "--apply", "--prune"]).await?;
    assert_eq!(action(&disputes, "stranger@elsewhere.example").await?, None);

    let retired = env
        .ok(&["team", "retire", "Dave", "--reason", "moved on"])
        .await?;
    ensure!(
        retired.contains("handover 1 opened") && retired.contains("list:disputes"),
        "{retired}"
    );
    ensure!(
        retired.contains("list:support-engineer") && retired.contains("wiki:se-group"),
        "{retired}"
    );
    // Not yet past revoke_within: no alert; past it: the alert everywhere it is read.
    let status = env.run_at(&["status"], Some("23h")).await?;
    ensure!(!status.stdout.contains("alert"), "{}", status.all());
    let status = env.run_at(&["status"], Some("25h")).await?;
    ensure!(
        status.stdout.contains("alert") && status.stdout.contains("Dave"),
        "{}",
        status.all()
    );
    let list = env.run_at(&["team", "list"], Some("25h")).await?;
    ensure!(list.stdout.contains("alert: Dave"), "{}", list.all());
    env.ok(&["handover", "confirm", "1", "--by", "Alice"])
        .await?;
    let applied = env.ok(&["handover", "apply", "1"]).await?;
    ensure!(applied.contains("list:disputes  applied"), "{applied}");
    ensure!(applied.contains("wiki:se-group  pending"), "{applied}");
    for list in [&disputes, &se] {
        assert_eq!(action(list, "dave@people.test.example").await?, None);
        assert_eq!(
            action(list, "alice@people.test.example").await?.as_deref(),
            Some("accept")
        );
    }
    let status = env.run_at(&["status"], Some("25h")).await?;
    ensure!(!status.stdout.contains("alert"), "{}", status.all());
    let list = env.run_at(&["team", "list"], Some("25h")).await?;
    ensure!(!list.stdout.contains("alert"), "{}", list.all());
    // The manual item is ticked by hand; then verify closes the handover.
    env.ok(&["handover", "tick", "1", "--asset", "wiki:se-group"])
        .await?;
    let verified = env.ok(&["handover", "verify", "1"]).await?;
    ensure!(
        verified.contains("list:support-engineer  verified"),
        "{verified}"
    );
    let shown = env.ok(&["handover", "show", "1"]).await?;
    ensure!(shown.contains("retire  closed"), "{shown}");
    Ok(())
}
crate::both_stores!(lists_follow_the_roster_and_a_retirement_is_revoked);

/// Interrupted apply: `kill -9` (the fail point aborts) between the two list assets of a retirement
/// leaves the first applied and the second pending; a rerun completes it, with each membership removed
/// once and none forgotten.
async fn kill_between_assets_leaves_a_state_a_rerun_completes(backend: Backend) -> Result<()> {
    let (env, disputes, se) = lists_env(backend).await?;
    env.ok(&["team", "sync", "--apply"]).await?;
    env.ok(&["team", "retire", "Dave", "--reason", "moved on"])
        .await?;
    env.ok(&["handover", "confirm", "1", "--by", "Alice"])
        .await?;
    let out = env
        .command(&["handover", "apply", "1"], None)
        .env("TRIAGED_FAILPOINT", "handover-between-assets")
        .output()
        .await?;
    ensure!(
        out.status.code().is_none() || out.status.code() == Some(134),
        "{out:?}"
    );
    let shown = env.ok(&["handover", "show", "1"]).await?;
    ensure!(
        shown.contains("list:disputes  mailman critical  accept  applied"),
        "{shown}"
    );
    ensure!(
        shown.contains("list:support-engineer  mailman  accept  pending"),
        "{shown}"
    );
    assert_eq!(action(&disputes, "dave@people.test.example").await?, None);
    assert_eq!(
        action(&se, "dave@people.test.example").await?.as_deref(),
        Some("accept")
    );
    let applied = env.ok(&["handover", "apply", "1"]).await?;
    ensure!(
        applied.contains("list:support-engineer  applied"),
        "{applied}"
    );
    assert_eq!(action(&se, "dave@people.test.example").await?, None);
    let verified = env.ok(&["handover", "verify", "1"]).await?;
    ensure!(verified.contains("list:disputes  verified"), "{verified}");
    ensure!(
        verified.contains("list:support-engineer  verified"),
        "{verified}"
    );
    // Each membership removed once, none forgotten: one recorded unsubscription per list.
    let removed: Vec<(String,)> = env
        .store
        .rows(
            "SELECT subject FROM events WHERE action = 'list-unsubscribed' \
             AND detail LIKE '%dave@people.test.example%' ORDER BY subject",
        )
        .await?;
    let subjects: Vec<&str> = removed.iter().map(|(s,)| s.as_str()).collect();
    assert_eq!(
        subjects,
        ["asset:list:disputes", "asset:list:support-engineer"]
    );
    Ok(())
}
crate::both_stores!(kill_between_assets_leaves_a_state_a_rerun_completes);

/// Mailman unreachable during `apply`: every list asset stays `pending` with the error, nothing is
/// marked applied that was not read back, and a rerun with Mailman back completes the handover.
async fn unreachable_mailman_leaves_assets_pending_and_a_rerun_continues(
    backend: Backend,
) -> Result<()> {
    let (env, disputes, se) = lists_env(backend).await?;
    env.ok(&["team", "sync", "--apply"]).await?;
    env.ok(&["team", "retire", "Dave", "--reason", "moved on"])
        .await?;
    env.ok(&["handover", "confirm", "1", "--by", "Alice"])
        .await?;
    let good = std::fs::read_to_string(&env.config)?;
    let url = mailman().await?.url.clone();
    let dead = format!("http://127.0.0.1:{}/3.1", super::team::env::free_port()?);
    std::fs::write(&env.config, good.replace(&url, &dead))?;
    let out = env.fails(&["handover", "apply", "1"], 1).await?;
    ensure!(
        out.stdout.contains("list:disputes  pending") && out.stdout.contains("unreachable"),
        "{}",
        out.all()
    );
    let shown = env.ok(&["handover", "show", "1"]).await?;
    ensure!(
        !shown.contains("applied") && !shown.contains("verified"),
        "{shown}"
    );
    assert_eq!(
        action(&disputes, "dave@people.test.example")
            .await?
            .as_deref(),
        Some("accept")
    );
    std::fs::write(&env.config, good)?;
    let applied = env.ok(&["handover", "apply", "1"]).await?;
    ensure!(applied.contains("list:disputes  applied"), "{applied}");
    ensure!(
        applied.contains("list:support-engineer  applied"),
        "{applied}"
    );
    for list in [&disputes, &se] {
        assert_eq!(action(list, "dave@people.test.example").await?, None);
    }
    Ok(())
}
crate::both_stores!(unreachable_mailman_leaves_assets_pending_and_a_rerun_continues);

/// The team leader's job: `handover start --role leader` covers every asset the leader role holds,
/// manual items included; the incoming member gets what the leader role gives, the outgoing one keeps
/// only what their other roles give (here nothing), read back through the REST API.
async fn a_leaders_handover_covers_what_the_leader_role_holds(backend: Backend) -> Result<()> {
    let (env, disputes, se) = lists_env(backend).await?;
    env.ok(&[
        "team",
        "add",
        "Lena <lena@people.test.example>",
        "--role",
        "assurer,leader",
    ])
    .await?;
    env.ok(&["team", "sync", "--apply"]).await?;
    assert_eq!(
        action(&disputes, "lena@people.test.example")
            .await?
            .as_deref(),
        Some("accept")
    );
    assert_eq!(action(&se, "lena@people.test.example").await?, None);
    let out = env
        .fails(
            &[
                "handover", "start", "--role", "leader", "--from", "Alice", "--to", "Tina",
            ],
            2,
        )
        .await?;
    ensure!(out.stderr.contains("not the team leader"), "{}", out.all());
    let started = env
        .ok(&[
            "handover", "start", "--role", "leader", "--from", "Lena", "--to", "Tina",
        ])
        .await?;
    ensure!(
        started.contains("list:disputes") && started.contains("wiki:se-group"),
        "{started}"
    );
    ensure!(!started.contains("list:support-engineer"), "{started}");
    env.ok(&["handover", "confirm", "1", "--by", "Carol"])
        .await?;
    let applied = env.ok(&["handover", "apply", "1"]).await?;
    ensure!(applied.contains("list:disputes  applied"), "{applied}");
    assert_eq!(
        action(&disputes, "tina@people.test.example")
            .await?
            .as_deref(),
        Some("accept")
    );
    assert_eq!(action(&disputes, "lena@people.test.example").await?, None);
    // Tina's own role still gives her the support-engineer list, moderated.
    assert_eq!(
        action(&se, "tina@people.test.example").await?.as_deref(),
        Some("hold")
    );
    let verified = env.ok(&["handover", "verify", "1"]).await?;
    ensure!(verified.contains("list:disputes  verified"), "{verified}");
    let again = env.ok(&["team", "sync"]).await?;
    ensure!(again.contains("in sync"), "{again}");
    Ok(())
}
crate::both_stores!(a_leaders_handover_covers_what_the_leader_role_holds);

const SHARED_ASSET: &str = "[[asset]]\nname = \"mailbox:shared\"\nkind = \"imap-password\"\n\
    roles = [\"se\", \"leader\"]\ncritical = true\n";

/// Fails when the command's output shows any of `users`' passwords.
fn no_password_in(out: &Out, users: &[&TestUser]) -> Result<()> {
    let all = out.all();
    ensure!(
        users.iter().all(|u| !all.contains(&u.password)),
        "a password was printed: {all}"
    );
    Ok(())
}

/// Gives `user` a new password on the server (its passwd-file written aside and renamed into place, as
/// a new user's is) and waits until Dovecot takes it: the test's own login with it works. Dovecot reads
/// a passwd-file again only when its mtime or size changed, and two changes within one second keep the
/// mtime, so the new password is the old one lengthened: the file always grows.
async fn change_password(user: &TestUser) -> Result<TestUser> {
    let users = &mailserver().await?.users;
    let changed = TestUser {
        password: format!("{}-{}", user.password, rand::random::<u16>()),
        ..user.clone()
    };
    let staged = users.join(format!(".{}.new", user.name));
    std::fs::write(
        &staged,
        format!("{}:{{PLAIN}}{}::::::\n", changed.name, changed.password),
    )?;
    std::fs::rename(&staged, users.join(&changed.name))?;
    for _ in 0..50 {
        if let Ok(session) = imap_login(&changed, false).await {
            drop(session);
            return Ok(changed);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("Dovecot never took {}'s new password", user.name)
}

/// A mailbox reached with a shared password: a handover of it holds the manual item "rotate the
/// password"; `handover tick` logs in with triaged's configured password and records the item verified
/// only when that works. With the password changed on the server but not in triaged's password file the
/// tick fails (exit 1, the server's answer, never a password) and the handover stays open; once the
/// file is updated a second tick verifies it. A retirement covering the asset holds the item too. A
/// password changed again behind triaged's back fails `handover verify` and opens the handover again.
async fn a_rotated_shared_password_is_verified_by_triageds_own_login(
    backend: Backend,
) -> Result<()> {
    let env = Env::imap(backend, "ho-shared", &[SHARED_ASSET]).await?;
    let owner = env.user.clone().context("no owner")?;
    member(&env, "Alice", "se", None).await?;
    member(&env, "Bob", "assurer", None).await?;
    member(&env, "Carol", "assurer", None).await?;
    let start = |from: &'static str, to: &'static str| {
        [
            "handover",
            "start",
            "--asset",
            "mailbox:shared",
            "--from",
            from,
            "--to",
            to,
        ]
    };

    // The password still works: the tick verifies at once, and the handover closes on verify.
    let started = env.ok(&start("Alice", "Bob")).await?;
    ensure!(
        started.contains("mailbox:shared  rotate the password (critical"),
        "{started}"
    );
    env.ok(&["handover", "confirm", "1", "--by", "Carol"])
        .await?;
    let applied = env.ok(&["handover", "apply", "1"]).await?;
    ensure!(
        applied.contains("mailbox:shared  pending: a manual item: rotate the password")
            && applied.contains("handover tick 1 --asset mailbox:shared"),
        "{applied}"
    );
    let ticked = env
        .ok(&["handover", "tick", "1", "--asset", "mailbox:shared"])
        .await?;
    ensure!(ticked.contains("mailbox:shared  verified"), "{ticked}");
    let verified = env.ok(&["handover", "verify", "1"]).await?;
    ensure!(verified.contains("mailbox:shared  verified"), "{verified}");
    let shown = env.ok(&["handover", "show", "1"]).await?;
    ensure!(shown.contains("closed"), "{shown}");

    // Bob now holds it. The password is changed on the server, not in triaged's password file.
    env.ok(&start("Bob", "Alice")).await?;
    env.ok(&["handover", "confirm", "2", "--by", "Carol"])
        .await?;
    let rotated = change_password(&owner).await?;
    let out = env
        .fails(&["handover", "tick", "2", "--asset", "mailbox:shared"], 1)
        .await?;
    ensure!(
        out.stdout
            .contains("mailbox:shared  failed: triaged's own login fails")
            && out.stdout.contains(&format!("as {}", owner.name)),
        "{}",
        out.all()
    );
    no_password_in(&out, &[&owner, &rotated])?;
    let shown = env.ok(&["handover", "show", "2"]).await?;
    ensure!(
        shown.contains("  open  ")
            && shown
                .contains("mailbox:shared  imap-password critical  rotate the password  failed"),
        "{shown}"
    );
    let failed: Vec<(String,)> = env
        .store
        .rows(
            "SELECT detail FROM events WHERE subject = 'handover:2' \
             AND action = 'asset-tick-failed'",
        )
        .await?;
    ensure!(failed.len() == 1, "{failed:?}");
    ensure!(!failed[0].0.contains(&rotated.password), "{failed:?}");

    // The password file updated: the next tick reads it again and verifies.
    std::fs::write(env.dir.path().join("password"), &rotated.password)?;
    let ticked = env
        .ok(&["handover", "tick", "2", "--asset", "mailbox:shared"])
        .await?;
    ensure!(ticked.contains("mailbox:shared  verified"), "{ticked}");
    env.ok(&["handover", "verify", "2"]).await?;
    let shown = env.ok(&["handover", "show", "2"]).await?;
    ensure!(
        shown.contains("closed") && shown.contains("rotate the password  verified"),
        "{shown}"
    );

    // Alice holds it again; her retirement hands over the rotation too.
    let retired = env
        .ok(&["team", "retire", "Alice", "--reason", "moved on"])
        .await?;
    ensure!(
        retired.contains("mailbox:shared  rotate the password"),
        "{retired}"
    );

    // The password changed behind triaged's back after all that: verify logs in again and says so.
    let changed = change_password(&rotated).await?;
    let out = env.fails(&["handover", "verify", "2"], 1).await?;
    ensure!(
        out.stdout
            .contains("mailbox:shared  failed: triaged's own login fails now"),
        "{}",
        out.all()
    );
    no_password_in(&out, &[&changed, &rotated])?;
    let shown = env.ok(&["handover", "show", "2"]).await?;
    ensure!(shown.contains("  open  "), "{shown}");
    let listed = env.ok(&["handover", "list"]).await?;
    let states: Vec<&str> = listed
        .lines()
        .filter(|l| l.starts_with("handover "))
        .filter_map(|l| l.split("  ").nth(2))
        .collect();
    ensure!(states == ["closed", "open", "open"], "{states:?}\n{listed}");
    Ok(())
}
crate::both_stores!(a_rotated_shared_password_is_verified_by_triageds_own_login);

/// The IMAP server unreachable during `apply` (the config pointed at a closed port): the mailbox asset
/// stays `pending` with the error, nothing is marked applied, no right changes; a rerun with the right
/// port completes it, read back with the owner's own GETACL.
async fn unreachable_imap_leaves_the_asset_pending_and_a_rerun_continues(
    backend: Backend,
) -> Result<()> {
    let env = Env::imap(backend, "ho-down", &[MAILBOX_ASSET]).await?;
    let owner = env.user.clone().context("no owner")?;
    let alice = new_user("ho-down-alice").await?;
    let bob = new_user("ho-down-bob").await?;
    member(&env, "Alice", "se", Some(&alice)).await?;
    member(&env, "Bob", "assurer", Some(&bob)).await?;
    member(&env, "Carol", "assurer", None).await?;
    env.ok(&["team", "sync", "--apply"]).await?;
    env.ok(&[
        "handover",
        "start",
        "--asset",
        "mailbox:support",
        "--from",
        "Alice",
        "--to",
        "Bob",
    ])
    .await?;
    env.ok(&["handover", "confirm", "1", "--by", "Carol"])
        .await?;

    let good = std::fs::read_to_string(&env.config)?;
    let live = format!("localhost:{}", mailserver().await?.imap_port);
    ensure!(good.contains(&live), "{good}");
    let dead = format!("localhost:{}", super::team::env::free_port()?);
    std::fs::write(&env.config, good.replace(&live, &dead))?;
    let out = env.fails(&["handover", "apply", "1"], 1).await?;
    ensure!(
        out.stdout
            .contains("mailbox:support  pending: connect to the IMAP server")
            && out.stdout.contains(&dead),
        "{}",
        out.all()
    );
    let shown = env.ok(&["handover", "show", "1"]).await?;
    ensure!(
        shown.contains(
            "mailbox:support  imap-acl critical  lrswi  pending: connect to the IMAP server"
        ) && !shown.contains("applied")
            && !shown.contains("verified"),
        "{shown}"
    );
    let mut own = imap_login(&owner, false).await?;
    assert_eq!(
        rights_of(&mut own, "INBOX", &alice.name).await?,
        Some(sorted("lrswi"))
    );
    assert_eq!(rights_of(&mut own, "INBOX", &bob.name).await?, None);

    std::fs::write(&env.config, good)?;
    let applied = env.ok(&["handover", "apply", "1"]).await?;
    ensure!(applied.contains("mailbox:support  applied"), "{applied}");
    assert_eq!(rights_of(&mut own, "INBOX", &alice.name).await?, None);
    assert_eq!(
        rights_of(&mut own, "INBOX", &bob.name).await?,
        Some(sorted("lrswi"))
    );
    let verified = env.ok(&["handover", "verify", "1"]).await?;
    ensure!(verified.contains("mailbox:support  verified"), "{verified}");
    own.logout().await?;
    Ok(())
}
crate::both_stores!(unreachable_imap_leaves_the_asset_pending_and_a_rerun_continues);
