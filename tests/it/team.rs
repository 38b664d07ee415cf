//! The team commands as a team leader runs them, on SQLite and PostgreSQL: the pipeline refusing a
//! promotion with its preconditions missing, then granting it (or overriding, with the reason in the
//! audit trail); `send welcome` ticking the welcome-pack item; the wiki tables against golden files;
//! `dispute abc` recording an ABC pending; bad names and bad team files as usage errors. The pings, with
//! a reply delivered to the real Dovecot and the clock moved past the grace, are in `team/ping.rs`.

pub(super) mod env;
mod ping;
mod smime;

use std::path::{Path, PathBuf};

use anyhow::{Result, ensure};

use self::env::Env;
use super::support::Backend;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/team")
        .join(name)
}

/// Compares `text` with the golden file (`UPDATE_GOLDEN=1` rewrites it).
fn assert_golden(name: &str, text: &str) -> Result<()> {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        std::fs::write(&path, text)?;
    }
    let want = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("read {}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()))?;
    ensure!(text == want, "{} differs:\n{text}", path.display());
    Ok(())
}

/// Santa, Triage since January, with every SE precondition but the ABC and Board approval.
async fn santa(env: &Env) -> Result<()> {
    env.ok(&[
        "team",
        "add",
        "Santa Claus <presents@test.example>",
        "--role",
        "triage",
        "--alias",
        "St Nick",
        "--since",
        "2026-01-05",
    ])
    .await?;
    for fact in ["assurer", "sp", "triage-3", "support-1", "recommendation"] {
        env.ok(&["team", "record", "santa", fact]).await?;
    }
    Ok(())
}

/// Done when: promoting a Triage member to SE without an ABC and Board approval is refused listing
/// both; with them recorded it succeeds and opens New SE; with --override it succeeds and the reason
/// is in the audit trail.
async fn promotion_to_se_needs_abc_and_board_approval(backend: Backend) -> Result<()> {
    let env = Env::maildir(backend, &[]).await?;
    santa(&env).await?;
    let out = env
        .fails(&["team", "promote", "santa", "--to", "se"], 1)
        .await?;
    let missing: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("  - "))
        .collect();
    ensure!(missing.len() == 2, "expected two missing: {}", out.all());
    ensure!(missing[0].contains("a completed ABC") && missing[1].contains("Board approval"));
    env.ok(&["team", "record", "santa", "abc", "a20261120.3", "passed"])
        .await?;
    env.ok(&["team", "record", "santa", "board-approval", "2026-11-25"])
        .await?;
    let out = env.ok(&["team", "promote", "santa", "--to", "se"]).await?;
    ensure!(
        out.contains("promoted Santa Claus from triage to se"),
        "{out}"
    );
    ensure!(out.contains("opened checklist New SE"), "{out}");
    let list = env.ok(&["team", "checklist", "santa"]).await?;
    ensure!(list.contains("[ ] new-se/welcome-pack-se"), "{list}");

    env.ok(&[
        "team",
        "add",
        "Nick <nick@test.example>",
        "--role",
        "triage",
    ])
    .await?;
    let why = "Board approved at the AGM, ABC on file with Arbitration";
    let out = env
        .ok(&["team", "promote", "nick", "--to", "se", "--override", why])
        .await?;
    ensure!(out.contains("overridden: Board approval"), "{out}");
    let rows: Vec<(String, String, String)> = env
        .store
        .rows(
            "SELECT actor, action, reason FROM events WHERE subject = 'person:nick@test.example' \
             AND action IN ('override', 'promoted') ORDER BY id",
        )
        .await?;
    let want = |a: &str| ("tester".to_owned(), a.to_owned(), why.to_owned());
    ensure!(rows == [want("override"), want("promoted")], "{rows:?}");
    let show = env.ok(&["team", "show", "nick"]).await?;
    ensure!(show.contains(&format!("override  [{why}]")), "{show}");
    Ok(())
}

/// Done when: `send welcome` to a member ticks the Welcome checklist's welcome-pack item.
async fn send_welcome_ticks_the_welcome_pack(backend: Backend) -> Result<()> {
    let env = Env::maildir(backend, &[]).await?;
    santa(&env).await?;
    let before = env.ok(&["team", "checklist", "santa"]).await?;
    ensure!(before.contains("[ ] welcome/welcome-pack"), "{before}");
    let out = env
        .ok(&[
            "send",
            "welcome",
            "--role",
            "triage",
            "--to",
            "Santa Claus <presents@test.example>",
        ])
        .await?;
    ensure!(
        out.contains("ticked welcome/welcome-pack for Santa Claus"),
        "{out}"
    );
    let rows: Vec<(String, String)> = env
        .store
        .rows(
            "SELECT state, done_by FROM team_checklist_items \
             WHERE checklist = 'welcome' AND item = 'welcome-pack'",
        )
        .await?;
    ensure!(
        rows == [("done".to_owned(), "triaged".to_owned())],
        "{rows:?}"
    );
    let mails: Vec<(String,)> = env
        .store
        .rows("SELECT template FROM outbox_mails ORDER BY id")
        .await?;
    ensure!(mails == [("welcome-triage".to_owned(),)], "{mails:?}");
    let start = env.ok(&["team", "checklist", "santa"]).await?;
    ensure!(
        start.contains("[ ] start/mailbox-rights"),
        "untouched: {start}"
    );
    Ok(())
}

const ROSTER: &str = "\
name,address,role,alias,tz,since
Rudolph Reindeer,rudolph@test.example,se leader,Red Nose,America/New_York,2024-03-01
Santa Claus,presents@test.example,triage,St Nick,Europe/Berlin,2026-01-05
Dasher,dasher@test.example,triage,,Asia/Tokyo,2026-06-15
Comet,comet@test.example,cm,,,2023-09-01
Vixen | Fox,vixen@test.example,assurer,,Australia/Sydney,2026-10-01
Blitzen,blitzen@test.example,se,,Europe/London,2025-02-01
";

/// Done when: `team list --format markdown` and `--format moin` give a table matching a golden file.
async fn wiki_tables_match_their_golden_files(backend: Backend) -> Result<()> {
    let env = Env::maildir(backend, &[]).await?;
    let csv = env.dir.path().join("roster.csv");
    std::fs::write(&csv, ROSTER)?;
    let out = env
        .ok(&["team", "import", &csv.display().to_string()])
        .await?;
    ensure!(out.contains("imported 6 people"), "{out}");
    env.ok(&[
        "team",
        "add",
        "Cupid <cupid@test.example>",
        "--role",
        "arbitrator",
        "--since",
        "2022-05-05",
    ])
    .await?;
    env.ok(&["team", "pause", "dasher", "--reason", "exams"])
        .await?;
    env.ok(&["team", "retire", "blitzen", "--reason", "moved on"])
        .await?;
    assert_golden(
        "list.md",
        &env.ok(&["team", "list", "--format", "markdown"]).await?,
    )?;
    assert_golden(
        "list.moin",
        &env.ok(&["team", "list", "--format", "moin"]).await?,
    )?;
    let all = env
        .ok(&["team", "list", "--all", "--format", "markdown"])
        .await?;
    ensure!(all.contains("| Blitzen |"), "{all}");
    let triage = env.ok(&["team", "list", "--role", "triage"]).await?;
    ensure!(
        triage.lines().count() >= 3 && !triage.contains("Rudolph"),
        "{triage}"
    );
    Ok(())
}

/// `dispute abc` about a member records an ABC pending on them, with the filing.
async fn dispute_abc_records_an_abc_pending(backend: Backend) -> Result<()> {
    let env = Env::maildir(backend, &[]).await?;
    santa(&env).await?;
    let out = env
        .ok(&[
            "dispute",
            "abc",
            "--candidate",
            "Santa Claus <presents@test.example>",
            "--alias",
            "St Nick",
            "--current-role",
            "triage",
            "--proposed-role",
            "se",
        ])
        .await?;
    ensure!(
        out.contains("recorded abc = pending for Santa Claus"),
        "{out}"
    );
    let show = env.ok(&["team", "show", "santa"]).await?;
    ensure!(show.contains("  abc = pending: "), "{show}");
    let out = env
        .fails(&["team", "promote", "santa", "--to", "se"], 1)
        .await?;
    ensure!(out.stderr.contains("(recorded: pending)"), "{}", out.all());
    Ok(())
}

/// Bad input: an unknown person, role, fact or item, the same address twice, a demotion, each exit 2
/// naming it and listing the valid ones.
async fn bad_names_are_usage_errors_listing_the_valid_ones(backend: Backend) -> Result<()> {
    let env = Env::maildir(backend, &[]).await?;
    santa(&env).await?;
    let cases: [(&[&str], &str); 6] = [
        (
            &["team", "show", "rudolph"],
            "unknown person \"rudolph\" (valid: Santa Claus)",
        ),
        (
            &["team", "promote", "santa", "--to", "boss"],
            "unknown role \"boss\" (valid: assurer, triage, se",
        ),
        (
            &["team", "record", "santa", "fiddle-9"],
            "unknown fact \"fiddle-9\" (valid: assurer,",
        ),
        (
            &["team", "checklist", "santa", "--done", "coffee"],
            "unknown checklist item \"coffee\" (valid: welcome/small-print",
        ),
        (
            &[
                "team",
                "add",
                "Other <PRESENTS@test.example>",
                "--role",
                "triage",
            ],
            "presents@test.example is already on the roster (Santa Claus)",
        ),
        (
            &["team", "promote", "santa", "--to", "assurer"],
            "is a demotion",
        ),
    ];
    for (args, says) in cases {
        let out = env.fails(args, 2).await?;
        ensure!(out.all().contains(says), "{args:?}: {}", out.all());
    }
    Ok(())
}

crate::both_stores!(
    promotion_to_se_needs_abc_and_board_approval,
    send_welcome_ticks_the_welcome_pack,
    wiki_tables_match_their_golden_files,
    dispute_abc_records_an_abc_pending,
    bad_names_are_usage_errors_listing_the_valid_ones,
    bad_team_files_are_check_errors_with_file_and_line,
);

/// A roles or checklists file that does not parse, or names an unknown fact or role, is a `check`
/// error with FILE:LINE (exit 2), every problem at once.
async fn bad_team_files_are_check_errors_with_file_and_line(backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let roles = dir.path().join("roles.toml");
    std::fs::write(
        &roles,
        "[triage]\nrequires = [\n  { fact = \"sp\" },\n  { fact = \"asurer\" },\n]\n",
    )?;
    let lists = dir.path().join("lists.toml");
    std::fs::write(
        &lists,
        "[[checklist]]\nid = \"w\"\ntitle = \"W\"\nrole = \"janitor\"\n",
    )?;
    let env = Env::maildir(
        backend,
        &[&format!(
            "[team]\nroles_file = \"{}\"\nchecklists_file = \"{}\"\ncritical_roles = [\"se\", \"boss\"]\n",
            roles.display(),
            lists.display()
        )],
    )
    .await?;
    let out = env.fails(&["check"], 2).await?;
    let all = out.all();
    for says in [
        format!(
            "team.roles_file: {}:4: unknown fact \"asurer\"",
            roles.display()
        ),
        format!(
            "team.checklists_file: {}:4: unknown role \"janitor\"",
            lists.display()
        ),
        "team.critical_roles: unknown role \"boss\"".to_owned(),
        "3 problems".to_owned(),
    ] {
        ensure!(all.contains(&says), "{says:?} not in: {all}");
    }
    std::fs::write(&roles, "[triage\nrequires = []\n")?;
    let out = env.fails(&["check"], 2).await?;
    ensure!(
        out.all().contains(&format!("{}:1: ", roles.display())),
        "{}",
        out.all()
    );
    let out = env
        .fails(&["team", "promote", "x", "--to", "se"], 2)
        .await?;
    ensure!(out.all().contains("team.roles_file"), "{}", out.all());
    Ok(())
}
