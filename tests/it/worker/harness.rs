//! What the worker tests share: a config per test (own IMAP user or Maildir, own SQLite store), the
//! `triaged` binary, bulk messages built from the corpus with unique Message-IDs, the folder contents by
//! Message-ID with each copy's flags, and the prediction Pigeonhole's `sieve-test` makes for each message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};

use super::super::support::{
    Backend, ConfigBuilder, ImapSession, MailServer, TestStore, TestUser, append_many, imap_login,
    mailserver, new_user,
};
pub use super::plans::FolderFlags;
use super::plans::copies_with;

pub const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// One test's world: a mail user (IMAP tests), a temp dir with the config and the outbox, and the
/// store on the backend the test asked for.
pub struct World {
    pub user: Option<TestUser>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub store: TestStore,
}

/// Extra `[mailbox]` lines and the IMAP address a config points at (`USER` and `PORT` in it are
/// replaced by the test user and the server's IMAP port).
#[derive(Default)]
pub struct Opts<'a> {
    pub url: Option<&'a str>,
    pub mailbox_extra: &'a str,
    pub metrics: Option<u16>,
    /// A Sieve script instead of `rules/support.sieve`.
    pub script: Option<&'a Path>,
    /// Leave `ca_file` out: only the system's roots are trusted.
    pub no_ca: bool,
    /// The store's backend (SQLite unless a test asks for PostgreSQL).
    pub backend: Backend,
}

impl World {
    /// A fresh IMAP user and a config watching its INBOX over STARTTLS (certificate checked).
    pub async fn imap(prefix: &str, opts: Opts<'_>) -> Result<World> {
        let server = mailserver().await?;
        let user = new_user(prefix).await?;
        World::imap_at(server, user, opts).await
    }

    /// A config watching `user`'s INBOX on `server` (a private instance) over STARTTLS.
    pub async fn imap_at(server: &MailServer, user: TestUser, opts: Opts<'_>) -> Result<World> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let store = TestStore::new(opts.backend, dir.path()).await?;
        let mut builder = ConfigBuilder::new().imap(server, &user);
        if opts.url.is_some() || opts.no_ca {
            let url = opts.url.map_or_else(
                || format!("imap://{}@localhost:{}/INBOX", user.name, server.imap_port),
                |u| {
                    u.replace("USER", &user.name)
                        .replace("PORT", &server.imap_port.to_string())
                },
            );
            let ca = if opts.no_ca {
                String::new()
            } else {
                format!("ca_file = \"{}\"\n", server.ca.display())
            };
            builder = builder.mailbox(&format!(
                "url = \"{url}\"\npassword_file = \"password\"\n{ca}"
            ));
        }
        let config = opts
            .apply(builder.mailbox_extra(opts.mailbox_extra).store(store.url()))
            .write(dir.path(), Some(&user))?;
        Ok(World {
            user: Some(user),
            dir,
            config,
            store,
        })
    }

    /// A config watching a Maildir in the temp dir (or the one `opts.url` names).
    pub async fn maildir(opts: Opts<'_>) -> Result<World> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let store = TestStore::new(opts.backend, dir.path()).await?;
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.path().join("mail").join(sub))?;
        }
        let url = opts.url.unwrap_or("maildir:mail");
        let builder = ConfigBuilder::new()
            .mailbox(&format!("url = \"{url}\"\n"))
            .mailbox_extra(opts.mailbox_extra)
            .store(store.url());
        let config = opts.apply(builder).write(dir.path(), None)?;
        Ok(World {
            user: None,
            dir,
            config,
            store,
        })
    }

    /// Fails unless triaged kept its records on the backend the test asked for: a PostgreSQL run
    /// leaves no SQLite file behind, and its schema holds the verdicts.
    pub async fn assert_backend(&self) -> Result<()> {
        self.store.assert_backend("verdicts").await
    }

    pub fn user(&self) -> Result<&TestUser> {
        self.user.as_ref().context("not an IMAP world")
    }

    pub fn maildir_path(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// `triaged ARGS --config CONFIG`, logs at info.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"));
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .env("TRIAGED_LOG", "info")
            .env_remove("TRIAGED_FAILPOINT")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// `triaged run --once`, which must succeed; returns its stdout.
    pub async fn run_once(&self) -> Result<String> {
        let out = self
            .command(&["run", "--once"])
            .output()
            .await
            .context("run triaged")?;
        ensure!(
            out.status.success(),
            "run --once failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `triaged run --once` with a fail point armed; it must die by abort.
    pub async fn crash_at(&self, point: &str) -> Result<()> {
        let out = self
            .command(&["run", "--once"])
            .env("TRIAGED_FAILPOINT", point)
            .output()
            .await
            .context("run triaged")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            !out.status.success() && stderr.contains("fail point"),
            "triaged did not stop at fail point {point} ({}); the tests need a build with \
             `--features failpoints` (scripts/test builds so): {stderr}",
            out.status
        );
        Ok(())
    }
}

impl Opts<'_> {
    /// The parts of the config the options set besides the mailbox: the script and the metrics.
    fn apply(&self, mut builder: ConfigBuilder) -> ConfigBuilder {
        if let Some(script) = self.script {
            builder = builder.script(script);
        }
        if let Some(port) = self.metrics {
            builder = builder.section(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
        }
        builder
    }
}

/// `n` messages made from the corpus (cycled), each with a unique Message-ID `<PREFIX-N@test.example>`
/// and CRLF line ends (what IMAP hands back). Corpus files the server would refuse (NUL bytes) are left
/// out. Returns (message-id, bytes).
pub fn bulk(prefix: &str, n: usize) -> Result<Vec<(String, Vec<u8>)>> {
    let dir = Path::new(MANIFEST).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    let mut sources = Vec::new();
    for f in files {
        let raw = std::fs::read(&f)?;
        if raw.contains(&0) || raw.len() > 1_000_000 {
            continue;
        }
        sources.push(strip_message_id(&crlf(&raw)));
    }
    ensure!(
        !sources.is_empty(),
        "no corpus messages in {}",
        dir.display()
    );
    Ok((0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}@test.example");
            let mut raw = format!("Message-ID: <{id}>\r\n").into_bytes();
            raw.extend_from_slice(&sources[i % sources.len()]);
            (id, raw)
        })
        .collect())
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Removes Message-ID header lines (and their continuations) from the header block.
fn strip_message_id(raw: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 2);
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in raw[..end].split_inclusive(|&b| b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if continuation && skipping {
            continue;
        }
        skipping = line.len() >= 11 && line[..11].eq_ignore_ascii_case(b"message-id:");
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&raw[end..]);
    out
}

/// Every copy of each message as Pigeonhole's `sieve-test` predicts it (through
/// `scripts/pigeonhole-classify --copies`, never triaged's own code) with `rules/support.sieve`: each
/// folder (INBOX for keep) with its own flags; `Trash` when no folder is left, `Quarantine` flagged for
/// a Sieve error (a runtime error in Pigeonhole, kept and reported by triaged).
pub async fn predict(messages: &[(String, Vec<u8>)]) -> Result<BTreeMap<String, Vec<FolderFlags>>> {
    predict_with(&Path::new(MANIFEST).join("rules/support.sieve"), messages).await
}

/// [`predict`] for another script.
pub async fn predict_with(
    script: &Path,
    messages: &[(String, Vec<u8>)],
) -> Result<BTreeMap<String, Vec<FolderFlags>>> {
    let dir = tempfile::tempdir()?;
    let mut by_path = BTreeMap::new();
    for (i, (id, raw)) in messages.iter().enumerate() {
        let path = dir.path().join(format!("{i:06}.eml"));
        std::fs::write(&path, raw)?;
        by_path.insert(path.display().to_string(), id.clone());
    }
    let out = tokio::process::Command::new(Path::new(MANIFEST).join("scripts/pigeonhole-classify"))
        .arg("--copies")
        .arg(script)
        .arg(dir.path())
        .output()
        .await
        .context("run scripts/pigeonhole-classify (sieve-test)")?;
    ensure!(
        out.status.success(),
        "pigeonhole-classify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut predicted = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        ensure!(
            cols.len() == 3,
            "unexpected pigeonhole-classify line {line:?}"
        );
        let id = by_path
            .get(cols[0])
            .with_context(|| format!("unknown path {}", cols[0]))?;
        let mut copies: Vec<FolderFlags> = if cols[2].split(';').any(|a| a.starts_with("error:")) {
            vec![(
                "Quarantine".to_owned(),
                BTreeSet::from(["\\Flagged".to_owned()]),
            )]
        } else if cols[1] == "-" {
            vec![("Trash".to_owned(), BTreeSet::new())]
        } else {
            cols[1]
                .split(';')
                .map(|copy| {
                    let (folder, flags) = copy.split_once('=').unwrap_or((copy, ""));
                    let flags = flags.split(' ').filter(|f| !f.is_empty());
                    (folder.to_owned(), flags.map(str::to_owned).collect())
                })
                .collect()
        };
        copies.sort();
        predicted.insert(id.clone(), copies);
    }
    ensure!(
        predicted.len() == messages.len(),
        "pigeonhole-classify printed {} of {} verdicts",
        predicted.len(),
        messages.len()
    );
    Ok(predicted)
}

/// Message-ID → every copy of it with its flags, over IMAP (read with EXAMINE and BODY.PEEK, so
/// reading sets no `\Seen`).
pub async fn imap_placement(user: &TestUser) -> Result<BTreeMap<String, Vec<FolderFlags>>> {
    placement_with(|| imap_login(user, false)).await
}

/// [`imap_placement`] over sessions `login` opens (another server than the shared one).
pub async fn placement_with<F, Fut>(login: F) -> Result<BTreeMap<String, Vec<FolderFlags>>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<ImapSession>>,
{
    copies_with(login).await
}

/// Whether a message's only copy is in INBOX (whatever its flags): not sorted yet.
pub fn in_inbox_only(copies: &[FolderFlags]) -> bool {
    matches!(copies, [(folder, _)] if folder == "INBOX")
}

/// Appends messages to `folder` of `user` over one connection (MULTIAPPEND, see `append_many`).
pub async fn append_all(
    user: &TestUser,
    folder: &str,
    messages: &[(String, Vec<u8>)],
) -> Result<()> {
    let port = mailserver().await?.imap_port;
    let raws: Vec<&[u8]> = messages.iter().map(|(_, raw)| raw.as_slice()).collect();
    append_many(port, user, folder, &raws).await
}

/// Compares where messages are with where they should be: each in exactly its folders, once each,
/// each copy with exactly its own flags.
pub fn assert_placed(
    placed: &BTreeMap<String, Vec<FolderFlags>>,
    expected: &BTreeMap<String, Vec<FolderFlags>>,
) -> Result<()> {
    let mut wrong = Vec::new();
    for (id, want) in expected {
        let mut got = placed.get(id).cloned().unwrap_or_default();
        got.sort();
        if &got != want {
            wrong.push(format!("{id}: in {got:?}, expected {want:?}"));
        }
    }
    if !wrong.is_empty() {
        bail!(
            "{} of {} messages misplaced, e.g.:\n{}",
            wrong.len(),
            expected.len(),
            wrong
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns how long it took.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let start = Instant::now();
    loop {
        if check().await? {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            bail!("condition not met within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `sql` against the test's store (either backend), each row read as `T` (a tuple of its columns).
pub async fn store_rows<T>(world: &World, sql: &str) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    world.store.rows(sql).await
}

/// Verdict rows per message key in the test's store: (uidvalidity, uid, name, message_id).
pub async fn verdict_rows(world: &World) -> Result<Vec<(i64, i64, String, String)>> {
    store_rows(
        world,
        "SELECT uidvalidity, uid, name, message_id FROM verdicts ORDER BY id",
    )
    .await
}
