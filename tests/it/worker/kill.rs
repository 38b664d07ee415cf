//! `kill -9` of `triaged run --once` over and over in one 2,000-message backlog: at offsets drawn from
//! a fixed seed and counted in applied messages read from the store (never in time), and at each fail
//! point. After every kill the mailbox must match the store: a message with an applied verdict is
//! exactly where its plan puts it, each copy with its own flags; one without a verdict is untouched;
//! one whose verdict is not yet applied is on its way (never lost, never twice in a folder); no message
//! has two verdicts. The restart that follows each kill recovers it, and at the end every verdict is
//! applied. The worker runs with small batches (`TRIAGED_FAILPOINT_BATCH`) so that applied messages
//! move in steps of 40 rather than all at once. An applied count is read only between two groups, so
//! the kills inside a group come from the fail points, `mid-apply` among them.

use anyhow::{Context as _, Result, ensure};
use rand::{Rng as _, SeedableRng as _};

use super::harness::{Opts, World, append_all, bulk};
use super::plans::{Settled, check_world, ensure_varied, wait_for_count};
use crate::it::support::{Backend, imap_login};

/// The backlog.
const MESSAGES: usize = 2000;
/// Messages the worker fetches, commits and applies at a time here.
const BATCH: &str = "40";
/// The offsets' seed: the same kill points on every run.
const SEED: u64 = 20_261_128;
/// Kills at random offsets, besides one at each fail point.
const OFFSETS: usize = 21;

/// The team's rules, with a copy for some messages filed before the rules add their flags: with
/// per-copy flags (RFC 5232) that copy has only its own flag.
const SCRIPT: &str = r#"require ["fileinto", "copy", "imap4flags", "include"];
if header :contains "Subject" ["password", "certificate", "account", "s20"] {
    fileinto :copy :flags "$Copied" "Copies";
}
include :personal "support";
"#;

#[derive(Debug, Clone, Copy)]
enum Kill {
    /// kill -9 once this many messages have applied verdicts.
    Applied(i64),
    /// Abort at this fail point, the Nth time the run reaches it.
    Point(&'static str, u32),
}

crate::both_stores!(
    kill_9_at_random_offsets_and_at_each_fail_point_leaves_every_copy_as_its_verdict_says
);

/// Guards against: a crash anywhere in a backlog (mid-batch, between commit and apply, between two
/// mailbox commands of one apply, during the recovery of the last crash) losing a message, copying or
/// moving it twice, leaving it with the wrong flags, or giving it a second verdict.
async fn kill_9_at_random_offsets_and_at_each_fail_point_leaves_every_copy_as_its_verdict_says(
    backend: Backend,
) -> Result<()> {
    let scripts = tempfile::tempdir()?;
    let script = scripts.path().join("rules.sieve");
    std::fs::write(&script, SCRIPT)?;
    let world = World::imap(
        "kill9",
        Opts {
            script: Some(&script),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    let messages = bulk("kill9", MESSAGES)?;
    let ids: Vec<String> = messages.iter().map(|(id, _)| id.clone()).collect();
    append_all(user, "INBOX", &messages).await?;
    let login = || imap_login(user, false);

    for (n, kill) in kills().into_iter().enumerate() {
        let applied = match kill {
            Kill::Applied(offset) => kill_when_applied(&world, offset).await?,
            Kill::Point(point, nth) => crash_at(&world, point, nth).await?,
        };
        eprintln!("kill {n}: {kill:?}, {applied} applied when it died");
        check_world(&world, login, &ids, Settled::No)
            .await
            .with_context(|| format!("after kill {n} ({kill:?})"))?;
    }
    ensure!(
        applied(&world).await? < MESSAGES as i64,
        "the kills left no work for the last run"
    );
    let out = command(&world).output().await.context("run triaged")?;
    ensure!(
        out.status.success(),
        "the last run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let placed = check_world(&world, login, &ids, Settled::Yes).await?;
    ensure_varied(&placed, 8)?;
    world.assert_backend().await
}

/// The kill points: the offsets in ascending order, with the fail points among them. `mid-apply`
/// (between two IMAP commands of one apply, where no applied count can reach) comes three times, at
/// its Nth hit for N from the same seed: the first hits fall in the re-apply of the last kill's
/// verdicts, later ones in the first group of new ones.
fn kills() -> Vec<Kill> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut offsets: Vec<i64> = (0..OFFSETS)
        .map(|_| rng.gen_range(1..MESSAGES as i64))
        .collect();
    offsets.sort_unstable();
    let mut kills: Vec<Kill> = offsets.into_iter().map(Kill::Applied).collect();
    let points = [
        (18, "mid-apply"),
        (15, "after-apply"),
        (12, "mid-apply"),
        (9, "after-verdict-commit"),
        (6, "mid-apply"),
        (3, "before-verdict-commit"),
    ];
    for (at, point) in points {
        let nth = if point == "mid-apply" {
            rng.gen_range(1..=20)
        } else {
            1
        };
        kills.insert(at, Kill::Point(point, nth));
    }
    kills
}

/// `triaged run --once` with small batches.
fn command(world: &World) -> tokio::process::Command {
    let mut cmd = world.command(&["run", "--once"]);
    cmd.env("TRIAGED_FAILPOINT_BATCH", BATCH)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Counts messages whose verdict is applied.
const APPLIED: &str = "SELECT COUNT(*) FROM verdicts WHERE state = 'applied'";

/// Messages whose verdict is applied, read from the store.
async fn applied(world: &World) -> Result<i64> {
    let rows: Vec<(i64,)> = world.store.rows(APPLIED).await?;
    Ok(rows.first().map_or(0, |r| r.0))
}

/// Runs the worker and kills it (SIGKILL) as soon as the store shows `offset` applied messages;
/// returns how many were applied when it died.
async fn kill_when_applied(world: &World, offset: i64) -> Result<i64> {
    // Logs go to a file: a pipe nobody reads would fill and stall the worker.
    let log = std::fs::File::create(world.dir.path().join("killed.log"))?;
    let mut child = command(world)
        .stderr(log)
        .spawn()
        .context("start triaged")?;
    wait_for_count(world, APPLIED, offset, &mut child).await?;
    child.start_kill().context("kill -9")?;
    child.wait().await?;
    applied(world).await
}

/// Runs the worker with a fail point armed; it must die there. Returns the messages applied then.
async fn crash_at(world: &World, point: &str, nth: u32) -> Result<i64> {
    let out = command(world)
        .env("TRIAGED_FAILPOINT", format!("{point}:{nth}"))
        .output()
        .await
        .context("run triaged")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && stderr.contains(&format!("fail point {point} reached")),
        "triaged did not stop at fail point {point} ({}); the tests need a build with \
         `--features failpoints`: {stderr}",
        out.status
    );
    applied(world).await
}

#[test]
fn the_kill_points_are_spread_over_the_backlog() {
    let kills = kills();
    let offsets: Vec<i64> = kills
        .iter()
        .filter_map(|k| match k {
            Kill::Applied(n) => Some(*n),
            Kill::Point(..) => None,
        })
        .collect();
    assert!(offsets.len() >= 20, "{kills:?}");
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        offsets[0] < 400 && offsets[offsets.len() - 1] > 1600,
        "{offsets:?}"
    );
    assert_eq!(kills.len(), offsets.len() + 6);
}
