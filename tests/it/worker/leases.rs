//! Several workers sharing mailboxes through leases, against a private Dovecot that logs every copy
//! and expunge (the `mail_log` plugin) and the store the test asked for.
//!
//! - Three `triaged run` processes over six mailboxes (six users) with mail delivered all the time:
//!   each mailbox is held by one worker at every sampled moment (read from each worker's `/metrics`:
//!   two workers may both say "held" only when the later-sampled one shows the higher token, that is,
//!   after a handover between the two reads); `doveadm who` shows one IMAP session per user; a worker
//!   killed with `kill -9` has its mailboxes taken over within 30 s; a worker stopped with SIGTERM
//!   leaves no lease behind; every message is sorted once (folders counted over IMAP, one verdict per
//!   message in the store, one copy and one expunge per message in Dovecot's log).
//! - On SQLite the second and third workers are refused, and the one worker sorts all six mailboxes,
//!   across its own `kill -9` and restart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use tokio::process::Child;

use super::connection::{free_port, http_get};
use super::harness::wait_until;
use crate::it::support::{
    Backend, ConfigBuilder, PrivateServer, TestStore, TestUser, message_ids,
    private_mailserver_with,
};

/// Dovecot logs each copy and expunge with the message's Message-ID: how the test counts moves.
pub(super) const MAIL_LOG: &str = "\
mail_plugins = acl mail_log notify
protocol imap {
  mail_plugins = acl imap_acl mail_log notify
}
protocol lmtp {
  mail_plugins = acl mail_log notify
}
plugin {
  mail_log_events = copy expunge
  mail_log_fields = uid box msgid
}
";

/// Everything sorts into one folder, so a message's one right place is known.
pub(super) const SCRIPT: &str = "require \"fileinto\";\nfileinto \"Sorted\";\n";

const TTL: &str = "4s";

/// Mailboxes, their users, the store and a config per worker.
pub(super) struct Shared {
    pub server: PrivateServer,
    pub users: Vec<TestUser>,
    pub dir: tempfile::TempDir,
    pub store: TestStore,
    pub configs: Vec<PathBuf>,
    pub ports: Vec<u16>,
}

impl Shared {
    /// `mailboxes` users of the private server `name` (with `mail_log`), each a `[[mailbox]]` named
    /// `mN`, and `workers` configs differing only in their metrics port.
    pub(super) async fn new(
        name: &str,
        backend: Backend,
        mailboxes: usize,
        workers: usize,
    ) -> Result<Shared> {
        let server = private_mailserver_with(name, MAIL_LOG).await?;
        let dir = tempfile::tempdir()?;
        let store = TestStore::new(backend, dir.path()).await?;
        let script = dir.path().join("sorted.sieve");
        std::fs::write(&script, SCRIPT)?;
        let mut users = Vec::new();
        let mut entries = Vec::new();
        for i in 0..mailboxes {
            let user = server.new_user(&format!("{name}{i}"))?;
            std::fs::write(dir.path().join(format!("pw{i}")), &user.password)?;
            entries.push(format!(
                "name = \"m{i}\"\nurl = \"imap://{}@localhost:{}/INBOX\"\npassword_file = \"pw{i}\"\n\
                 ca_file = \"{}\"\n",
                user.name,
                server.server.imap_port,
                server.server.ca.display()
            ));
            users.push(user);
        }
        let mut configs = Vec::new();
        let mut ports = Vec::new();
        for w in 0..workers {
            let port = free_port()?;
            let config = ConfigBuilder::new()
                .mailboxes(&entries)
                .store(store.url())
                .script(&script)
                .section(&format!("[lease]\nttl = \"{TTL}\"\n"))
                .section(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"))
                .write_as(&dir.path().join(format!("w{w}.toml")))?;
            configs.push(config);
            ports.push(port);
        }
        Ok(Shared {
            server,
            users,
            dir,
            store,
            configs,
            ports,
        })
    }

    /// `triaged run` with worker `w`'s config, its log in `wW-N.log`.
    pub(super) fn start(&self, w: usize, env: &[(&str, &str)]) -> Result<Child> {
        let n = std::fs::read_dir(self.dir.path())?.count();
        let log = std::fs::File::create(self.dir.path().join(format!("w{w}-{n}.log")))?;
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"));
        cmd.args(["run", "--config"])
            .arg(&self.configs[w])
            .env("TRIAGED_LOG", "info")
            .env_remove("TRIAGED_FAILPOINT")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        cmd.spawn().context("start triaged run")
    }

    /// Every worker log written so far, concatenated.
    pub(super) fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths
                .iter()
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
            {
                out.push_str(&format!("== {}\n", p.display()));
                out.push_str(&std::fs::read_to_string(p).unwrap_or_default());
            }
        }
        out
    }

    /// Delivers message `n` to user `u` over LMTP; returns its Message-ID.
    pub(super) async fn deliver(&self, u: usize, n: usize) -> Result<String> {
        let id = format!("<{}-{n}@test.example>", self.users[u].name);
        let raw = format!(
            "From: Someone <someone@example.org>\r\nTo: {}\r\nSubject: question {n}\r\n\
             Message-ID: {id}\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\n\r\nHello {n}.\r\n",
            self.users[u].address
        );
        self.server.deliver(&self.users[u], raw.as_bytes()).await?;
        Ok(id)
    }

    /// Message-IDs in `folder` of user `u`.
    pub(super) async fn ids_in(&self, u: usize, folder: &str) -> Result<Vec<String>> {
        let mut session = self.server.login(&self.users[u]).await?;
        let ids = match message_ids(&mut session, folder).await {
            Ok(ids) => ids,
            Err(_) if folder != "INBOX" => Vec::new(), // not created yet
            Err(e) => return Err(e),
        };
        session.logout().await.ok();
        Ok(ids.into_iter().map(|i| format!("<{i}>")).collect())
    }

    /// Whether user `u`'s INBOX is empty now. A message the worker moves between the test's own
    /// SEARCH and FETCH comes back without a body: that is "not yet", not a failure.
    pub(super) async fn inbox_empty(&self, u: usize) -> Result<bool> {
        match self.ids_in(u, "INBOX").await {
            Ok(ids) => Ok(ids.is_empty()),
            Err(e) if format!("{e:#}").contains("has no body") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Dovecot's log lines of `event` (`copy`, `expunge`) per Message-ID, for `box=FOLDER`.
    pub(super) fn mail_log(&self, event: &str, folder: &str) -> Result<BTreeMap<String, usize>> {
        let log = self.server.server.dir.join("dovecot/dovecot.log");
        let text =
            std::fs::read_to_string(&log).with_context(|| format!("read {}", log.display()))?;
        let users: BTreeSet<String> = self.users.iter().map(|u| format!("({})", u.name)).collect();
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            if !users.iter().any(|u| line.contains(u.as_str()))
                || !line.contains(&format!("Info: {event}"))
                || !line.contains(&format!("box={folder},"))
            {
                continue;
            }
            if let Some(id) = line.split("msgid=").nth(1) {
                *counts.entry(id.trim().to_owned()).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// IMAP sessions per user now, from `doveadm who`.
    pub(super) async fn sessions(&self) -> Result<BTreeMap<String, usize>> {
        let conf = self.server.server.dir.join("dovecot/dovecot.conf");
        let out = tokio::process::Command::new("doveadm")
            .arg("-c")
            .arg(&conf)
            .args(["who", "-1"])
            .output()
            .await
            .context("run doveadm who")?;
        ensure!(
            out.status.success(),
            "doveadm who: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut per = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
            let mut parts = line.split_whitespace();
            if let (Some(user), Some("imap")) = (parts.next(), parts.next()) {
                *per.entry(user.to_owned()).or_default() += 1;
            }
        }
        Ok(per)
    }
}

/// Which mailboxes a worker says it holds, with their tokens, from its `/metrics`.
pub(super) async fn held_by(port: u16) -> Result<BTreeMap<String, i64>> {
    let (_, text) = http_get(port, "/metrics").await?;
    let value = |metric: &str, mailbox: &str| -> Option<i64> {
        let prefix = format!("{metric}{{mailbox=\"{mailbox}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
    };
    let mut held = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("triaged_lease_held{mailbox=\"") else {
            continue;
        };
        let Some((name, value_text)) = rest.split_once("\"} ") else {
            continue;
        };
        if value_text.trim() == "1" {
            held.insert(
                name.to_owned(),
                value("triaged_lease_token", name).unwrap_or(0),
            );
        }
    }
    Ok(held)
}

/// One sampling round over the live workers, in order: per mailbox, (worker, token) of each holder.
type Round = BTreeMap<String, Vec<(usize, i64)>>;

async fn sample(ports: &[(usize, u16)]) -> Round {
    let mut round = Round::new();
    for &(w, port) in ports {
        if let Ok(held) = held_by(port).await {
            for (mailbox, token) in held {
                round.entry(mailbox).or_default().push((w, token));
            }
        }
    }
    round
}

/// A round is consistent when each mailbox has at most one holder, or several whose tokens grow in
/// the order they were read (a handover happened between the reads).
fn consistent(round: &Round) -> Result<()> {
    for (mailbox, holders) in round {
        if holders.windows(2).any(|w| w[0].1 >= w[1].1) {
            bail!("{mailbox} held by several workers at once: {holders:?}");
        }
    }
    Ok(())
}

async fn wait_exit(child: &mut Child, limit: Duration) -> Result<std::process::ExitStatus> {
    tokio::time::timeout(limit, child.wait())
        .await
        .context("the worker did not exit in time")?
        .context("wait for the worker")
}

fn signal(child: &Child, sig: &str) -> Result<()> {
    let pid = child.id().context("no pid")?;
    std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()?;
    Ok(())
}

crate::both_stores!(three_workers_share_six_mailboxes_and_lose_and_double_nothing);

/// Guards against: two workers sorting one mailbox, a killed worker's mailboxes never taken over, a
/// stopped worker's leases left to expire, and a message lost, moved twice or given two verdicts
/// while the mailboxes change hands.
async fn three_workers_share_six_mailboxes_and_lose_and_double_nothing(
    backend: Backend,
) -> Result<()> {
    let world = Arc::new(Shared::new("lease", backend, 6, 3).await?);
    let mut workers: Vec<Option<Child>> = Vec::new();
    for w in 0..3 {
        workers.push(Some(world.start(w, &[])?));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if backend == Backend::Sqlite {
        for slot in &mut workers[1..] {
            let mut child = slot.take().context("started")?;
            let status = wait_exit(&mut child, Duration::from_secs(20)).await?;
            ensure!(!status.success(), "a second worker on SQLite ran");
        }
        let logs = world.logs();
        ensure!(
            logs.matches("is already using the SQLite store").count() == 2,
            "the refusal does not say why:\n{logs}"
        );
    }

    // Mail all the time, spread over the six mailboxes.
    let stop = Arc::new(AtomicBool::new(false));
    let delivering = {
        let (world, stop) = (world.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sent: Vec<Vec<String>> = vec![Vec::new(); world.users.len()];
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let u = rand::random::<usize>() % world.users.len();
                sent[u].push(world.deliver(u, n).await?);
                n += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            anyhow::Ok(sent)
        })
    };

    let live = |workers: &[Option<Child>]| -> Vec<(usize, u16)> {
        (0..workers.len())
            .filter(|&w| workers[w].is_some())
            .map(|w| (w, world.ports[w]))
            .collect()
    };
    let mut rounds: Vec<Round> = Vec::new();
    // Every mailbox held, and spread (at most two per worker on PostgreSQL).
    let spread = if backend == Backend::Postgres { 2 } else { 6 };
    let started = Instant::now();
    loop {
        let round = sample(&live(&workers)).await;
        consistent(&round)?;
        let mut per_worker: BTreeMap<usize, usize> = BTreeMap::new();
        for holders in round.values() {
            *per_worker.entry(holders[0].0).or_default() += 1;
        }
        let settled = round.len() == 6
            && round.values().all(|h| h.len() == 1)
            && per_worker.values().all(|&n| n <= spread);
        rounds.push(round);
        if settled {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(40),
            "the mailboxes were not spread within 40 s: {:?}\n{}",
            rounds.last(),
            world.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("spread after {:?}: {:?}", started.elapsed(), rounds.last());
    // One IMAP session per user, once the last holder's watcher has logged in; never two.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sessions = world.sessions().await?;
        if let Some((user, n)) = sessions.iter().find(|(_, n)| **n > 1) {
            bail!("doveadm who shows {n} IMAP sessions of {user}: {sessions:?}");
        }
        if world
            .users
            .iter()
            .all(|u| sessions.get(&u.name) == Some(&1))
        {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "doveadm who never showed one session per user: {sessions:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // kill -9 the worker holding the most; its mailboxes must be someone's within 30 s.
    let last = rounds.last().cloned().unwrap_or_default();
    let mut count: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (mailbox, holders) in &last {
        count.entry(holders[0].0).or_default().push(mailbox.clone());
    }
    let (victim, orphans) = count
        .into_iter()
        .max_by_key(|(_, m)| m.len())
        .context("nobody holds anything")?;
    let mut child = workers[victim].take().context("victim running")?;
    signal(&child, "-KILL")?;
    wait_exit(&mut child, Duration::from_secs(10)).await?;
    let killed = Instant::now();
    if backend == Backend::Sqlite {
        workers[victim] = Some(world.start(victim, &[])?);
    }
    loop {
        let round = sample(&live(&workers)).await;
        consistent(&round)?;
        let taken = orphans
            .iter()
            .all(|m| round.get(m).is_some_and(|h| h.len() == 1));
        rounds.push(round);
        if taken {
            break;
        }
        ensure!(
            killed.elapsed() < Duration::from_secs(30),
            "{orphans:?} of the killed worker not taken over within 30 s\n{}",
            world.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "{orphans:?} taken over {:?} after kill -9",
        killed.elapsed()
    );

    // SIGTERM one survivor (PostgreSQL): it leaves no lease behind when it exits.
    if backend == Backend::Postgres {
        let w = (0..3)
            .find(|&w| workers[w].is_some())
            .context("a survivor")?;
        let mut child = workers[w].take().context("running")?;
        let pid = child.id().context("pid")?;
        signal(&child, "-TERM")?;
        let status = wait_exit(&mut child, Duration::from_secs(30)).await?;
        ensure!(status.success(), "exit {status} after SIGTERM");
        let left: Vec<(String, String)> = world
            .store
            .rows("SELECT mailbox, holder FROM leases WHERE holder <> ''")
            .await?;
        let theirs: Vec<_> = left
            .iter()
            .filter(|(_, h)| h.contains(&format!(":{pid}:")))
            .collect();
        ensure!(
            theirs.is_empty(),
            "leases left by a worker stopped with SIGTERM: {theirs:?}"
        );
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = delivering.await??;
    let total: usize = sent.iter().map(Vec::len).sum();
    eprintln!("{total} messages delivered");

    // Everything sorted, then every survivor stopped.
    let settle = wait_until(Duration::from_secs(90), || async {
        for u in 0..world.users.len() {
            if !world.inbox_empty(u).await? {
                return Ok(false);
            }
        }
        let round = sample(&live(&workers)).await;
        consistent(&round)?;
        Ok(true)
    })
    .await;
    if let Err(e) = settle {
        let mut left = Vec::new();
        for (u, user) in world.users.iter().enumerate() {
            left.push((user.name.clone(), world.ids_in(u, "INBOX").await?));
        }
        let round = sample(&live(&workers)).await;
        bail!(
            "mail left unsorted ({e:#}): {left:?}\nholders now: {round:?}\n{}",
            world.logs()
        );
    }
    for child in workers.iter_mut().flatten() {
        signal(child, "-TERM")?;
        wait_exit(child, Duration::from_secs(30)).await?;
    }
    for round in &rounds {
        consistent(round)?;
    }

    // Nothing lost, nothing doubled: over IMAP, in the store and in Dovecot's log.
    for (u, ids) in sent.iter().enumerate() {
        let sorted = world.ids_in(u, "Sorted").await?;
        let mut seen = BTreeMap::<&str, usize>::new();
        for id in &sorted {
            *seen.entry(id.as_str()).or_default() += 1;
        }
        ensure!(
            seen.values().all(|&n| n == 1) && seen.len() == ids.len(),
            "user {u}: {} delivered, {} in Sorted ({} distinct)",
            ids.len(),
            sorted.len(),
            seen.len()
        );
        for id in ids {
            ensure!(seen.contains_key(id.as_str()), "{id} lost");
        }
    }
    let verdicts: Vec<(String, i64)> = world
        .store
        .rows("SELECT message_id, COUNT(*) FROM verdicts GROUP BY message_id")
        .await?;
    ensure!(
        verdicts.len() == total && verdicts.iter().all(|(_, n)| *n == 1),
        "{} messages, {} with verdicts, doubled: {:?}",
        total,
        verdicts.len(),
        verdicts.iter().filter(|(_, n)| *n > 1).collect::<Vec<_>>()
    );
    let copies = world.mail_log("copy", "Sorted")?;
    let expunges = world.mail_log("expunge", "INBOX")?;
    for ids in &sent {
        for id in ids {
            ensure!(
                copies.get(id) == Some(&1) && expunges.get(id) == Some(&1),
                "{id}: {:?} copies into Sorted and {:?} expunges from INBOX in Dovecot's log",
                copies.get(id),
                expunges.get(id)
            );
        }
    }
    eprintln!(
        "{} sampling rounds, every one with at most one holder per mailbox",
        rounds.len()
    );
    Ok(())
}

/// A worker's process state letter from `/proc` (`T` when stopped).
pub(super) fn process_state(pid: u32) -> Option<char> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}
