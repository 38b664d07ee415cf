//! What the team tests share: a temp dir with a config (a Maildir, or a test user's INBOX over IMAP)
//! and a store on the backend the test asked for, and the `triaged` binary run in it as the OS user
//! `tester`, with the clock moved when a test asks (`TRIAGED_CLOCK_OFFSET`, a `failpoints` build).

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context as _, Result, ensure};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::super::support::{Backend, ConfigBuilder, TestStore, TestUser, mailserver, new_user};

/// One test's world.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub store: TestStore,
    pub user: Option<TestUser>,
}

/// What a run of the binary printed.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Standard output and error together, for messages.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Env {
    /// A Maildir config with `sections` appended, migrated.
    pub async fn maildir(backend: Backend, sections: &[&str]) -> Result<Env> {
        let dir = tempfile::tempdir().context("temp dir")?;
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.path().join("mail").join(sub))?;
        }
        let store = TestStore::new(backend, dir.path()).await?;
        let mut builder = ConfigBuilder::new().store(store.url());
        for s in sections {
            builder = builder.section(s);
        }
        let config = builder.write(dir.path(), None)?;
        Env::ready(dir, config, store, None).await
    }

    /// A config watching a fresh test user's INBOX on the shared Dovecot, `sections` appended, migrated.
    pub async fn imap(backend: Backend, prefix: &str, sections: &[&str]) -> Result<Env> {
        let server = mailserver().await?;
        let user = new_user(prefix).await?;
        let dir = tempfile::tempdir().context("temp dir")?;
        let store = TestStore::new(backend, dir.path()).await?;
        let mut builder = ConfigBuilder::new().imap(server, &user).store(store.url());
        for s in sections {
            builder = builder.section(s);
        }
        let config = builder.write(dir.path(), Some(&user))?;
        Env::ready(dir, config, store, Some(user)).await
    }

    async fn ready(
        dir: tempfile::TempDir,
        config: PathBuf,
        store: TestStore,
        user: Option<TestUser>,
    ) -> Result<Env> {
        let env = Env {
            dir,
            config,
            store,
            user,
        };
        env.ok(&["migrate"]).await?;
        Ok(env)
    }

    /// `triaged ARGS --config CONFIG` as the OS user `tester`, the clock moved by `offset`.
    pub fn command(&self, args: &[&str], offset: Option<&str>) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"));
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env("USER", "tester")
            .env("TRIAGED_LOG", "warn")
            .env_remove("TRIAGED_FAILPOINT")
            .env_remove("TRIAGED_CLOCK_OFFSET")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(offset) = offset {
            cmd.env("TRIAGED_CLOCK_OFFSET", offset);
        }
        cmd
    }

    /// Runs the binary to its end.
    pub async fn run_at(&self, args: &[&str], offset: Option<&str>) -> Result<Out> {
        let out = self
            .command(args, offset)
            .output()
            .await
            .with_context(|| format!("run triaged {args:?}"))?;
        Ok(Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    pub async fn run(&self, args: &[&str]) -> Result<Out> {
        self.run_at(args, None).await
    }

    /// Runs the binary, which must exit 0; returns its standard output.
    pub async fn ok(&self, args: &[&str]) -> Result<String> {
        let out = self.run(args).await?;
        ensure!(
            out.code == Some(0),
            "triaged {args:?} failed: {}",
            out.all()
        );
        Ok(out.stdout)
    }

    /// Runs the binary, which must exit with `code`; returns what it printed.
    pub async fn fails(&self, args: &[&str], code: i32) -> Result<Out> {
        let out = self.run(args).await?;
        ensure!(
            out.code == Some(code),
            "triaged {args:?} exited {:?}, expected {code}: {}",
            out.code,
            out.all()
        );
        Ok(out)
    }
}

/// A port nobody listens on now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The body of `GET path` on a local port.
pub async fn http_get(port: u16, path: &str) -> Result<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    Ok(text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned())
}
