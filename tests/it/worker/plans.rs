//! The fault tests' yardstick: where each message must be by the plan recorded with its verdict, and
//! where it is over IMAP, copy by copy, each copy with its own flags. A plan is read with triaged's own
//! `actions::Plan` and carried out step by step on paper (flags, copies, the move), so the check follows
//! the plan whatever shape it takes; the tests never re-derive a plan from the rules (the backlog test
//! compares plans with the rules). Reads with EXAMINE and BODY.PEEK only.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result, bail, ensure};
use async_imap::types::Flag;
use futures::TryStreamExt as _;
use triaged::actions::Plan;
use triaged::mailbox::Step;

use super::harness::{World, store_rows};
use crate::it::support::{ImapSession, list_folders};

/// One copy of a message: its folder and its flags (`\Recent` left out).
pub type FolderFlags = (String, BTreeSet<String>);

/// Message-ID → every copy of it, sorted, over the sessions `login` opens.
pub async fn copies_with<F, Fut>(login: F) -> Result<BTreeMap<String, Vec<FolderFlags>>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<ImapSession>>,
{
    let parser = mail_parser::MessageParser::default();
    let mut session = login().await?;
    let mut out: BTreeMap<String, Vec<FolderFlags>> = BTreeMap::new();
    for folder in list_folders(&mut session).await? {
        // Parents such as `Support` of `Support/Disputes` are listed but hold no mail (\NonExistent).
        let Ok(mailbox) = session.examine(&folder).await else {
            session.logout().await.ok();
            session = login().await?;
            continue;
        };
        if mailbox.exists == 0 {
            continue;
        }
        let fetched: Vec<_> = session
            .fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            .await
            .with_context(|| format!("fetch {folder:?}"))?
            .try_collect()
            .await?;
        for f in &fetched {
            let header = f
                .header()
                .with_context(|| format!("no header in {folder:?}"))?;
            let id = parser
                .parse(header)
                .and_then(|m| m.message_id().map(str::to_owned))
                .with_context(|| format!("a message without Message-ID in {folder:?}"))?;
            let flags = f.flags().filter_map(|fl| flag_name(&fl)).collect();
            out.entry(id).or_default().push((folder.clone(), flags));
        }
    }
    session.logout().await.ok();
    for copies in out.values_mut() {
        copies.sort();
    }
    Ok(out)
}

/// A flag as IMAP and the plans spell it; `None` for `\Recent`, which no client sets.
fn flag_name(flag: &Flag<'_>) -> Option<String> {
    Some(match flag {
        Flag::Seen => "\\Seen".to_owned(),
        Flag::Answered => "\\Answered".to_owned(),
        Flag::Flagged => "\\Flagged".to_owned(),
        Flag::Deleted => "\\Deleted".to_owned(),
        Flag::Draft => "\\Draft".to_owned(),
        Flag::Recent => return None,
        Flag::MayCreate => "\\*".to_owned(),
        Flag::Custom(name) => name.to_string(),
    })
}

/// The copies a recorded plan leaves of a message that sat in `watched` with no flags: its steps
/// carried out in order (flags added or removed on the message, a copy taking the flags it has then,
/// the move taking the message itself), sorted.
pub fn planned(plan_json: &str, watched: &str) -> Result<Vec<FolderFlags>> {
    let plan: Plan = serde_json::from_str(plan_json)
        .with_context(|| format!("read a recorded plan: {plan_json}"))?;
    let mut here = Some(watched.to_owned());
    let mut flags = BTreeSet::new();
    let mut copies = Vec::new();
    for step in plan.steps() {
        match step {
            Step::Unflag(f) => f.iter().for_each(|x| {
                flags.remove(x);
            }),
            Step::Flag(f) => flags.extend(f),
            Step::Copy(folder) => copies.push((folder, flags.clone())),
            Step::Move(folder) => here = Some(folder),
            Step::Delete => here = None,
        }
    }
    copies.extend(here.map(|folder| (folder, flags)));
    copies.sort();
    Ok(copies)
}

/// One verdict as the test reads it from the store.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub plan: String,
    pub applied: bool,
}

/// Message-ID → its verdicts (more than one is a fault the check reports).
pub async fn verdicts(world: &World) -> Result<BTreeMap<String, Vec<Recorded>>> {
    let rows: Vec<(String, String, String)> = store_rows(
        world,
        "SELECT message_id, plan, state FROM verdicts ORDER BY id",
    )
    .await?;
    let mut out: BTreeMap<String, Vec<Recorded>> = BTreeMap::new();
    for (id, plan, state) in rows {
        let id = id.trim_matches(['<', '>']).to_owned();
        out.entry(id).or_default().push(Recorded {
            plan,
            applied: state == "applied",
        });
    }
    Ok(out)
}

/// Whether the worker may still be (or have been stopped) in the middle of the backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Every message has its verdict and it is applied.
    Yes,
    /// A message may have no verdict yet (it is then untouched in the watched folder) or one not yet
    /// applied (it is then in the watched folder or its planned folders, at most once in each).
    No,
}

/// Checks every message of `ids` against its verdict (see [`Settled`]): one verdict per message, an
/// applied verdict's copies exactly as planned, each with its own flags, nothing lost or doubled.
pub fn check(
    ids: &[String],
    placed: &BTreeMap<String, Vec<FolderFlags>>,
    recorded: &BTreeMap<String, Vec<Recorded>>,
    watched: &str,
    settled: Settled,
) -> Result<()> {
    let mut wrong = Vec::new();
    let untouched = vec![(watched.to_owned(), BTreeSet::new())];
    for id in ids {
        let got = placed.get(id).cloned().unwrap_or_default();
        let problem = match recorded.get(id).map(Vec::as_slice) {
            None | Some([]) if settled == Settled::No => {
                (got != untouched).then(|| format!("no verdict, yet {got:?}"))
            }
            None | Some([]) => Some(format!("no verdict; {got:?}")),
            Some([one]) => {
                let want = planned(&one.plan, watched)?;
                if one.applied {
                    (got != want).then(|| format!("applied, yet {got:?}, planned {want:?}"))
                } else if settled == Settled::Yes {
                    Some(format!("verdict not applied; {got:?}, planned {want:?}"))
                } else {
                    partly(&got, &want, watched).then(|| format!("{got:?} on the way to {want:?}"))
                }
            }
            Some(many) => Some(format!("{} verdicts", many.len())),
        };
        if let Some(p) = problem {
            wrong.push(format!("{id}: {p}"));
        }
    }
    if !wrong.is_empty() {
        bail!(
            "{} of {} messages are not as their verdicts say, e.g.:\n{}",
            wrong.len(),
            ids.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
    }
    Ok(())
}

/// Whether `got` is wrong for a message whose plan is being carried out: lost, in a folder the plan
/// does not name, or twice in one folder.
fn partly(got: &[FolderFlags], want: &[FolderFlags], watched: &str) -> bool {
    let folders: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    let distinct: BTreeSet<&str> = folders.iter().copied().collect();
    let allowed = |f: &str| f == watched || want.iter().any(|(w, _)| w == f);
    folders.is_empty() || distinct.len() != folders.len() || !folders.iter().all(|f| allowed(f))
}

/// Reads the mailbox (over the sessions `login` opens) and the store, and [`check`]s them; returns
/// where the messages are.
pub async fn check_world<F, Fut>(
    world: &World,
    login: F,
    ids: &[String],
    settled: Settled,
) -> Result<BTreeMap<String, Vec<FolderFlags>>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<ImapSession>>,
{
    let recorded = verdicts(world).await?;
    let placed = copies_with(login).await?;
    check(ids, &placed, &recorded, "INBOX", settled)?;
    Ok(placed)
}

/// Fails unless the messages went to at least `folders` folders, some copies carry flags and some
/// message has more than one copy: without that, a check of copies and flags proves little.
pub fn ensure_varied(placed: &BTreeMap<String, Vec<FolderFlags>>, folders: usize) -> Result<()> {
    let all: Vec<&FolderFlags> = placed.values().flatten().collect();
    let names: BTreeSet<&String> = all.iter().map(|(f, _)| f).collect();
    ensure!(
        names.len() >= folders,
        "the messages went to only {names:?}"
    );
    ensure!(
        all.iter().any(|(_, flags)| !flags.is_empty()),
        "no copy carries a flag"
    );
    ensure!(
        placed.values().any(|c| c.len() > 1),
        "no message has two copies"
    );
    Ok(())
}

/// Polls [`check_world`] (settled) every 200 ms until it passes; after `limit`, fails with what it
/// found last.
pub async fn wait_settled<F, Fut>(
    world: &World,
    login: F,
    ids: &[String],
    limit: std::time::Duration,
) -> Result<()>
where
    F: Fn() -> Fut + Copy,
    Fut: Future<Output = Result<ImapSession>>,
{
    let start = std::time::Instant::now();
    loop {
        let last = check_world(world, login, ids, Settled::Yes).await;
        match last {
            Ok(_) => return Ok(()),
            Err(e) if start.elapsed() > limit => {
                return Err(e.context(format!("not as the verdicts say after {limit:?}")));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}

/// Polls the store (every 5 ms, over one connection) until `count_sql` (a `SELECT COUNT(*)`) reaches
/// `n` while `child` runs; returns the count. Fails if the child ends first or after two minutes.
pub async fn wait_for_count(
    world: &World,
    count_sql: &str,
    n: i64,
    child: &mut tokio::process::Child,
) -> Result<i64> {
    sqlx::any::install_default_drivers();
    // The first run creates a SQLite file: until then there is nothing to read.
    let mut pool = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if pool.is_none() {
            pool = sqlx::AnyPool::connect(world.store.url()).await.ok();
        }
        let mut count = 0;
        if let Some(pool) = &pool {
            count = sqlx::query_scalar(count_sql)
                .fetch_one(pool)
                .await
                .unwrap_or(0);
        }
        if count >= n {
            if let Some(pool) = pool {
                pool.close().await;
            }
            return Ok(count);
        }
        if let Some(status) = child.try_wait()? {
            bail!("triaged ended ({status}) with {count} counted, before {n}: {count_sql}");
        }
        if std::time::Instant::now() > deadline {
            bail!("{count} counted after two minutes, waiting for {n}: {count_sql}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
