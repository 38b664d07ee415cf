//! The one way integration tests write a `triaged.toml`: defaults that work in a temp dir (a Maildir
//! `mail`, a SQLite store, the shipped rules, a file transport), and a method per part a test changes.
//! A test that checks how bad configs are reported writes its broken TOML by hand instead.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::{MailServer, TestUser};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// A config to write; every part has a default.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    /// The body of `[mailbox]`.
    mailbox: String,
    /// The bodies of `[[mailbox]]` entries, written instead of `[mailbox]` when there are any.
    entries: Vec<String>,
    store_url: String,
    script: String,
    include_dir: String,
    /// The body of `[outbox]` besides `from`.
    outbox: String,
    from: String,
    /// Whole extra tables (`[ack]`, `[metrics]`, ...), appended as they are.
    sections: Vec<String>,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        ConfigBuilder {
            mailbox: "url = \"maildir:mail\"\n".to_owned(),
            entries: Vec::new(),
            store_url: "sqlite:triaged.db".to_owned(),
            script: format!("{MANIFEST}/rules/support.sieve"),
            include_dir: format!("{MANIFEST}/rules"),
            outbox: "transport = \"file:outbox\"\n".to_owned(),
            from: "Support <support@test.example>".to_owned(),
            sections: Vec::new(),
        }
    }
}

impl ConfigBuilder {
    pub fn new() -> Self {
        ConfigBuilder::default()
    }

    /// `[mailbox]` watching `user`'s INBOX on `server` over STARTTLS, its password in the file
    /// `password` beside the config (written by [`ConfigBuilder::write`]), the test CA trusted.
    pub fn imap(self, server: &MailServer, user: &TestUser) -> Self {
        let url = format!("imap://{}@localhost:{}/INBOX", user.name, server.imap_port);
        self.mailbox(&format!(
            "url = \"{url}\"\npassword_file = \"password\"\nca_file = \"{}\"\n",
            server.ca.display()
        ))
    }

    /// The whole body of `[mailbox]`.
    pub fn mailbox(mut self, body: &str) -> Self {
        self.mailbox = body.to_owned();
        self
    }

    /// Lines added to `[mailbox]`.
    pub fn mailbox_extra(mut self, lines: &str) -> Self {
        self.mailbox.push_str(lines);
        if !self.mailbox.ends_with('\n') {
            self.mailbox.push('\n');
        }
        self
    }

    /// `[[mailbox]]` entries (each body with its `name`), instead of the one `[mailbox]`.
    pub fn mailboxes(mut self, entries: &[String]) -> Self {
        self.entries = entries.to_vec();
        self
    }

    /// `[store] url`.
    pub fn store(mut self, url: &str) -> Self {
        url.clone_into(&mut self.store_url);
        self
    }

    /// `[rules] script` (the include directory stays the shipped rules').
    pub fn script(mut self, path: &Path) -> Self {
        self.script = path.display().to_string();
        self
    }

    /// The body of `[outbox]` besides `from`: the transport and its options.
    pub fn outbox(mut self, body: &str) -> Self {
        self.outbox = body.to_owned();
        self
    }

    /// `[outbox] from`.
    pub fn from(mut self, from: &str) -> Self {
        from.clone_into(&mut self.from);
        self
    }

    /// A whole extra table (`"[ack]\nbuckets = [\"Triage\"]\n"`).
    pub fn section(mut self, toml: &str) -> Self {
        self.sections.push(toml.to_owned());
        self
    }

    /// The TOML text.
    pub fn text(&self) -> String {
        let mailboxes = if self.entries.is_empty() {
            format!("[mailbox]\n{}", self.mailbox)
        } else {
            self.entries
                .iter()
                .map(|body| format!("[[mailbox]]\n{body}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!(
            "{}\n[store]\nurl = \"{}\"\n\n[rules]\nscript = \"{}\"\ninclude_dir = \"{}\"\n\n\
             [outbox]\n{}from = \"{}\"\n\n{}",
            mailboxes,
            self.store_url,
            self.script,
            self.include_dir,
            self.outbox,
            self.from,
            self.sections.join("\n")
        )
    }

    /// Writes `dir/triaged.toml` (and `dir/password` for `user`, when given) and returns its path.
    pub fn write(&self, dir: &Path, user: Option<&TestUser>) -> Result<PathBuf> {
        if let Some(user) = user {
            std::fs::write(dir.join("password"), &user.password).context("write password")?;
        }
        let path = dir.join("triaged.toml");
        std::fs::write(&path, self.text()).context("write config")?;
        Ok(path)
    }

    /// Writes the config as `path` (one of several configs in a test's directory).
    pub fn write_as(&self, path: &Path) -> Result<PathBuf> {
        std::fs::write(path, self.text()).with_context(|| format!("write {}", path.display()))?;
        Ok(path.to_owned())
    }
}
