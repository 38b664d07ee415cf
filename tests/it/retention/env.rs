//! What the retention tests share: a test's own mail user (or Maildir), config and store; the `triaged`
//! binary with or without a moved clock or an armed fail point; mail with a given Message-ID; the folders
//! read back; the audit trail; and the lines a run prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context as _, Result, ensure};
use chrono::{DateTime, Utc};

use super::super::support::{
    Backend, ConfigBuilder, ImapSession, Listed, TestStore, TestUser, folder_state, imap_login,
    list_folders, mailserver, new_user,
};

/// One test's world.
pub struct Env {
    pub user: Option<TestUser>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub store: TestStore,
    /// Makes the Message-IDs of this test unique.
    tag: String,
}

/// The instant `n` days before now.
pub fn days_ago(n: i64) -> DateTime<Utc> {
    triaged::clock::Clock::system().now() - chrono::Duration::days(n)
}

/// A message with Message-ID `<id>`, CRLF line ends.
pub fn mail(id: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{id}>\r\nFrom: Alice <alice@example.net>\r\nTo: support@test.example\r\n\
         Subject: {subject}\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n{headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The messages a run lists under `verb` (`purge`, `held`, `purged`): the Message-ID (without angle
/// brackets, or `(no Message-ID` for one without) and the rest of the line (a held message's reason).
pub fn listed(out: &str, verb: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix("  ").and_then(|l| l.strip_prefix(verb)) else {
            continue;
        };
        if !rest.starts_with(' ') {
            continue;
        }
        // The date, `2026-11-02 10:00 UTC`, then the message.
        let rest = rest.trim_start();
        let Some(label) = rest.get(20..).map(str::trim_start) else {
            continue;
        };
        let (key, tail) = match label.strip_prefix('<') {
            Some(l) => l.split_once('>').unwrap_or((l, "")),
            None => label.split_once(',').unwrap_or((label, "")),
        };
        found.insert(key.to_owned(), tail.trim().to_owned());
    }
    found
}

impl Env {
    /// A fresh IMAP user, a store on `backend`, and a config watching the user's INBOX with `sections`.
    pub async fn new(prefix: &str, backend: Backend, sections: &str) -> Result<Env> {
        let server = mailserver().await?;
        let user = new_user(prefix).await?;
        let dir = tempfile::tempdir().context("temp dir")?;
        let store = TestStore::new(backend, dir.path()).await?;
        let config = ConfigBuilder::new()
            .imap(server, &user)
            .store(store.url())
            .section(sections)
            .write(dir.path(), Some(&user))?;
        let env = Env {
            tag: user.name.clone(),
            user: Some(user),
            dir,
            config,
            store,
        };
        env.ok(&["migrate"], &[]).await?;
        Ok(env)
    }

    /// [`Env::new`] with the Sieve script `script` (its text) instead of the shipped rules.
    pub async fn with_script(
        prefix: &str,
        backend: Backend,
        sections: &str,
        script: &str,
    ) -> Result<Env> {
        let env = Env::new(prefix, backend, sections).await?;
        let path = env.dir.path().join("rules.sieve");
        std::fs::write(&path, script).context("write the script")?;
        let server = mailserver().await?;
        ConfigBuilder::new()
            .imap(server, env.user()?)
            .store(env.store.url())
            .script(&path)
            .section(sections)
            .write(env.dir.path(), env.user.as_ref())?;
        Ok(env)
    }

    /// A Maildir `mail` in the test's directory instead of an IMAP user.
    pub async fn maildir(backend: Backend, sections: &str) -> Result<Env> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let store = TestStore::new(backend, dir.path()).await?;
        let config = ConfigBuilder::new()
            .store(store.url())
            .section(sections)
            .write(dir.path(), None)?;
        let env = Env {
            tag: format!("maildir-{}", rand::random::<u32>()),
            user: None,
            dir,
            config,
            store,
        };
        env.ok(&["migrate"], &[]).await?;
        Ok(env)
    }

    /// A Message-ID unique to this test.
    pub fn id(&self, name: &str) -> String {
        format!("{name}.{}@test.example", self.tag)
    }

    /// `triaged ARGS --config CONFIG` with `envs` (a moved clock, say), no fail point armed.
    pub fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"));
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .env("TRIAGED_LOG", "warn")
            .env_remove("TRIAGED_FAILPOINT")
            .env_remove("TRIAGED_CLOCK_OFFSET")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs triaged; its exit code, stdout and stderr.
    pub async fn triaged(
        &self,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<(i32, String, String)> {
        let out = self
            .command(args, envs)
            .output()
            .await
            .context("run triaged")?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Runs triaged, which must succeed; its stdout.
    pub async fn ok(&self, args: &[&str], envs: &[(&str, &str)]) -> Result<String> {
        let (code, out, err) = self.triaged(args, envs).await?;
        ensure!(code == 0, "triaged {args:?} exited {code}: {out}{err}");
        Ok(out)
    }

    /// Runs triaged with fail point `point` armed; it must die there.
    pub async fn crash(&self, args: &[&str], point: &str) -> Result<()> {
        let (code, _, err) = self.triaged(args, &[("TRIAGED_FAILPOINT", point)]).await?;
        ensure!(
            code != 0 && err.contains("fail point"),
            "triaged did not stop at fail point {point} (exit {code}); the tests need a build with \
             `--features failpoints`: {err}"
        );
        Ok(())
    }

    pub fn user(&self) -> Result<&TestUser> {
        self.user.as_ref().context("not an IMAP test")
    }

    pub async fn session(&self) -> Result<ImapSession> {
        imap_login(self.user()?, false).await
    }

    /// The messages of `folder`, read with the test's own client.
    pub async fn listed(&self, folder: &str) -> Result<Vec<Listed>> {
        let mut session = self.session().await?;
        let listed = folder_state(&mut session, folder).await;
        session.logout().await.ok();
        listed
    }

    /// Every folder with its messages (UIDs, dates, flags), to tell whether anything changed.
    pub async fn state(&self) -> Result<BTreeMap<String, Vec<Listed>>> {
        let mut session = self.session().await?;
        let mut out = BTreeMap::new();
        for folder in list_folders(&mut session).await? {
            out.insert(folder.clone(), folder_state(&mut session, &folder).await?);
        }
        session.logout().await.ok();
        Ok(out)
    }

    /// The Message-IDs found in any folder.
    pub async fn ids_everywhere(&self) -> Result<BTreeSet<String>> {
        Ok(self
            .state()
            .await?
            .into_values()
            .flatten()
            .map(|l| l.message_id)
            .filter(|id| !id.is_empty())
            .collect())
    }

    /// The audit events with `action`: (subject, reason, detail), oldest first.
    pub async fn events(&self, action: &str) -> Result<Vec<(String, String, String)>> {
        self.store
            .rows(&format!(
                "SELECT subject, reason, detail FROM events WHERE action = '{action}' ORDER BY id"
            ))
            .await
    }
}
