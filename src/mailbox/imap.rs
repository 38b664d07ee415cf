//! The IMAP source: log in, select the watched folder, find new UIDs, fetch in batches with
//! `BODY.PEEK[]` (nothing is marked seen), carry out grouped operations (UID MOVE, or UID COPY +
//! \Deleted + UID EXPUNGE without MOVE; UID STORE for flags; UID COPY for extra folders), create and
//! subscribe missing folders, and IDLE. Every wait on the server is bounded by the liveness limit.
//! Access control lists (RFC 4314) live in `acl`. It decides nothing about content.

pub mod acl;
mod aged;
pub mod conn;
mod headers;
mod namespace;
mod repair;
mod utf7;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use async_imap::Session;
use async_imap::extensions::idle::IdleResponse;
use futures::TryStreamExt;
use tokio_util::sync::CancellationToken;

use self::conn::{Conn, Endpoint};
use super::Op;
use super::{Fetched, Selected, uid_set};
use crate::clock::mono_ms;
use crate::config::{MailboxConfig, MailboxSource};

/// What the server can do that changes how triaged works with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub moves: bool,
    pub uidplus: bool,
    pub idle: bool,
    /// RFC 4314 access control lists: a folder created here gets INBOX's rights.
    pub acl: bool,
}

/// The server sent nothing for the liveness limit while triaged waited on it: the connection is
/// taken for dead (a caller tells this from a refusal with [`super::connection_failed`]).
#[derive(Debug, thiserror::Error)]
#[error("no reply from the server for {0:?}")]
pub struct Silent(pub Duration);

/// Why an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server announced a change (new mail, expunge, flags).
    Changed,
    /// Time to renew the IDLE (or, without IDLE, to poll).
    Renew,
    /// Shutdown was asked for.
    Cancelled,
}

/// A flag as a plan spells it; `None` for `\Recent`, which no client can set (RFC 3501 §2.3.2).
fn flag_name(flag: &async_imap::types::Flag<'_>) -> Option<String> {
    use async_imap::types::Flag;
    Some(match flag {
        Flag::Seen => "\\Seen".to_owned(),
        Flag::Answered => "\\Answered".to_owned(),
        Flag::Flagged => "\\Flagged".to_owned(),
        Flag::Deleted => "\\Deleted".to_owned(),
        Flag::Draft => "\\Draft".to_owned(),
        Flag::Recent | Flag::MayCreate => return None,
        Flag::Custom(name) => name.to_string(),
    })
}

/// A logged-in connection with the watched folder selected.
pub struct Imap {
    session: Session<Conn>,
    /// The watched folder (Sieve name).
    folder: String,
    pub caps: Caps,
    /// The server's hierarchy separator; Sieve names use `/`.
    delimiter: char,
    /// Folders known to exist (Sieve names), to create missing ones once.
    existing: BTreeSet<String>,
    /// The login: the owner of the tree, whose own ACL entry is never copied.
    user: String,
    /// Whether a folder this session creates gets INBOX's ACL entries: set when the config manages
    /// the tree's rights (an `imap-acl` asset), so a session that manages none never sends GETACL.
    pub copy_rights: bool,
    /// `mono_ms()` of the last byte from the server.
    last_read: Arc<AtomicI64>,
    /// No byte for this long while waiting on the server means the connection is dead.
    liveness: Duration,
}

impl std::fmt::Debug for Imap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap")
            .field("folder", &self.folder)
            .field("caps", &self.caps)
            .finish()
    }
}

/// Resolves when no byte has come from the server for `limit`, counted from when the wait began.
pub async fn dead(last_read: &AtomicI64, limit: Duration) {
    let started = mono_ms();
    let limit_ms = i64::try_from(limit.as_millis()).unwrap_or(i64::MAX);
    loop {
        let heard = last_read.load(Ordering::Relaxed).max(started);
        let silent = mono_ms() - heard;
        if silent >= limit_ms {
            return;
        }
        let left = u64::try_from(limit_ms - silent).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(left.max(10))).await;
    }
}

/// PLAIN SASL (RFC 4616): authorization id empty, then user and password.
struct Plain<'a> {
    user: &'a str,
    password: &'a str,
}

impl async_imap::Authenticator for Plain<'_> {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        format!("\0{}\0{}", self.user, self.password).into_bytes()
    }
}

impl Imap {
    /// Connects, logs in, learns the capabilities and folders, and selects the watched folder.
    pub async fn connect(
        cfg: &MailboxConfig,
        last_read: Arc<AtomicI64>,
    ) -> Result<(Imap, Selected)> {
        let MailboxSource::Imap { folder, user, .. } = &cfg.source else {
            bail!("not an IMAP mailbox");
        };
        let session = open(cfg, &last_read).await?;
        let mut imap = Imap {
            session,
            folder: folder.clone(),
            caps: Caps::default(),
            delimiter: '/',
            existing: BTreeSet::new(),
            user: user.clone(),
            copy_rights: false,
            last_read,
            liveness: cfg.liveness_limit,
        };
        imap.learn().await?;
        let selected = imap.select().await?;
        Ok((imap, selected))
    }

    /// Runs `fut` against the server, failing when the server goes silent for the liveness limit.
    async fn io<T>(
        last_read: &AtomicI64,
        limit: Duration,
        what: &str,
        fut: impl Future<Output = async_imap::error::Result<T>>,
    ) -> Result<T> {
        tokio::select! {
            r = fut => r.with_context(|| what.to_owned()),
            () = dead(last_read, limit) => Err(anyhow::Error::new(Silent(limit)).context(what.to_owned())),
        }
    }

    async fn learn(&mut self) -> Result<()> {
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let caps = Self::io(&lr, limit, "CAPABILITY", self.session.capabilities()).await?;
        self.caps = Caps {
            moves: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            idle: caps.has_str("IDLE"),
            acl: caps.has_str("ACL"),
        };
        let names: Vec<_> = Self::io(&lr, limit, "LIST", async {
            self.session
                .list(Some(""), Some("*"))
                .await?
                .try_collect()
                .await
        })
        .await?;
        self.existing.clear();
        for name in &names {
            if let Some(d) = name.delimiter().and_then(|d| d.chars().next()) {
                self.delimiter = d;
            }
        }
        for name in &names {
            self.existing.insert(self.sieve_name(name.name()));
        }
        tracing::debug!(caps = ?self.caps, folders = self.existing.len(), "imap capabilities");
        self.drain();
        Ok(())
    }

    /// The folders that exist (Sieve names), for `mailboxexists`.
    pub fn folders(&self) -> &BTreeSet<String> {
        &self.existing
    }

    /// The server's name for a Sieve folder name: each level in modified UTF-7, joined by the
    /// server's delimiter.
    fn server_name(&self, sieve: &str) -> String {
        sieve
            .split('/')
            .map(utf7::encode)
            .collect::<Vec<_>>()
            .join(&self.delimiter.to_string())
    }

    /// The Sieve name (`/` separator, Unicode) of a name the server listed.
    fn sieve_name(&self, server: &str) -> String {
        server
            .split(self.delimiter)
            .map(utf7::decode)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Drops unsolicited responses already handled by re-reading state (the channel holds 100).
    fn drain(&mut self) {
        while self.session.unsolicited_responses.try_recv().is_ok() {}
    }

    /// Selects the watched folder: its UIDVALIDITY and UIDNEXT.
    pub async fn select(&mut self) -> Result<Selected> {
        let folder = self.folder.clone();
        self.select_folder(&folder).await
    }

    /// Selects another folder (the quarantine) so that searches, fetches and operations act on it;
    /// false when it does not exist. [`Imap::select`] goes back to the watched folder.
    pub async fn enter(&mut self, folder: &str) -> Result<bool> {
        if !self.existing.contains(folder) {
            return Ok(false);
        }
        self.select_folder(folder).await.map(|_| true)
    }

    async fn select_folder(&mut self, folder: &str) -> Result<Selected> {
        let name = self.server_name(folder);
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let what = format!("select {folder:?}");
        let mb = Self::io(&lr, limit, &what, self.session.select(&name)).await?;
        self.drain();
        Ok(Selected {
            uidvalidity: i64::from(mb.uid_validity.unwrap_or(0)),
            uidnext: i64::from(mb.uid_next.unwrap_or(0)),
            exists: mb.exists,
        })
    }

    /// UIDs above `after` in the watched folder, ascending.
    pub async fn uids_after(&mut self, after: i64) -> Result<Vec<u32>> {
        let start = u32::try_from(after + 1).unwrap_or(u32::MAX);
        self.search(&format!("UID {start}:*")).await.map(|uids| {
            // `N:*` always matches the highest UID even when it is below N (RFC 3501 6.4.8).
            uids.into_iter().filter(|&u| u >= start).collect()
        })
    }

    /// Whether mail came after UID `after` that a pass has not seen: checked just before IDLE, since
    /// the server announces mail that arrives during a command (`* N EXISTS` at its end) once only,
    /// and an announcement swallowed by the pass's own commands would leave the message waiting for
    /// the next IDLE renewal. A UID SEARCH finds mail announced before it; an EXISTS that came with the
    /// SEARCH's own answer is mail announced during it. Mail arriving later is announced in IDLE.
    pub async fn has_new(&mut self, after: i64) -> Result<bool> {
        self.drain();
        if !self.uids_after(after).await?.is_empty() {
            return Ok(true);
        }
        let mut announced = false;
        while let Ok(r) = self.session.unsolicited_responses.try_recv() {
            announced |= matches!(
                r,
                async_imap::types::UnsolicitedResponse::Exists(_)
                    | async_imap::types::UnsolicitedResponse::Recent(_)
            );
        }
        Ok(announced)
    }

    /// Which of `uids` are still in the watched folder.
    pub async fn present(&mut self, uids: &[u32]) -> Result<BTreeSet<u32>> {
        if uids.is_empty() {
            return Ok(BTreeSet::new());
        }
        Ok(self
            .search(&format!("UID {}", uid_set(uids)))
            .await?
            .into_iter()
            .collect())
    }

    async fn search(&mut self, query: &str) -> Result<Vec<u32>> {
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let what = format!("UID SEARCH {query}");
        let set = Self::io(&lr, limit, &what, self.session.uid_search(query)).await?;
        self.drain();
        let mut uids: Vec<u32> = set.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// `UID FETCH` of `items` for the UID set `set` (`uid_set`, or a range such as `n:*`) in the
    /// selected folder, read to the end under the liveness limit; the unsolicited responses it brings
    /// are dropped.
    async fn fetch_items(
        &mut self,
        set: &str,
        items: &str,
    ) -> Result<Vec<async_imap::types::Fetch>> {
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let what = format!("UID FETCH {set} {items}");
        let fetches = Self::io(&lr, limit, &what, async {
            self.session
                .uid_fetch(&set, items)
                .await?
                .try_collect()
                .await
        })
        .await?;
        self.drain();
        Ok(fetches)
    }

    /// Fetches whole messages without setting \Seen.
    pub async fn fetch(&mut self, uids: &[u32]) -> Result<Vec<Fetched>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let fetches = self
            .fetch_items(&uid_set(uids), "(UID FLAGS BODY.PEEK[])")
            .await?;
        let mut out: Vec<Fetched> = fetches
            .iter()
            .filter_map(|f| {
                let uid = f.uid?;
                let raw = f.body()?.to_vec();
                Some(Fetched {
                    uid: i64::from(uid),
                    name: String::new(),
                    raw,
                    flags: f.flags().filter_map(|flag| flag_name(&flag)).collect(),
                })
            })
            .collect();
        out.sort_by_key(|f| f.uid);
        Ok(out)
    }

    /// Creates and subscribes every folder in `folders` that does not exist yet.
    pub async fn ensure_folders<'a>(
        &mut self,
        folders: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        let missing: BTreeSet<String> = folders
            .filter(|f| !self.existing.contains(*f) && !f.eq_ignore_ascii_case("INBOX"))
            .map(str::to_owned)
            .collect();
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        for folder in missing {
            let name = self.server_name(&folder);
            let created = Self::io(&lr, limit, "CREATE", self.session.create(&name)).await;
            if let Err(e) = created {
                // Another client may have created it meanwhile: look again before giving up.
                self.learn().await?;
                if !self.existing.contains(&folder) {
                    return Err(e.context(format!("create folder {folder:?}")));
                }
            }
            let what = format!("subscribe {folder:?}");
            Self::io(&lr, limit, &what, self.session.subscribe(&name)).await?;
            tracing::info!(folder = %folder, "created folder");
            if self.caps.acl && self.copy_rights {
                // Dovecot gives a new top-level folder only the owner's rights: the tree's rights
                // (granted on INBOX and every folder by `team sync` and handovers) are copied onto it.
                let copied =
                    acl::copy_rights(&mut self.session, &lr, limit, ("INBOX", &name), &self.user)
                        .await;
                match copied {
                    Ok(n) => {
                        tracing::info!(folder = %folder, entries = n, "gave the folder INBOX's rights")
                    }
                    Err(e) => tracing::warn!(folder = %folder, error = %format!("{e:#}"),
                        "could not give the new folder INBOX's rights"),
                }
            }
            self.existing.insert(folder);
        }
        Ok(())
    }

    /// Carries out a batch's grouped operations, in order.
    pub async fn apply(&mut self, ops: &[Op<u32>]) -> Result<()> {
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                crate::failpoint::hit("mid-apply");
            }
            match op {
                Op::Flag { flags, ids } => {
                    let query = format!("+FLAGS.SILENT ({})", flags.join(" "));
                    self.store(ids, &query).await?;
                }
                Op::Unflag { flags, ids } => {
                    let query = format!("-FLAGS.SILENT ({})", flags.join(" "));
                    self.store(ids, &query).await?;
                }
                Op::Copy { folder, ids } => self.copy(ids, folder).await?,
                Op::Move { folder, ids } => self.move_to(ids, folder).await?,
                Op::Delete { ids } => self.delete(ids).await?,
            }
        }
        self.drain();
        Ok(())
    }

    async fn store(&mut self, uids: &[u32], query: &str) -> Result<()> {
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let set = uid_set(uids);
        let what = format!("UID STORE {set} {query}");
        Self::io(&lr, limit, &what, async {
            let mut replies = self.session.uid_store(&set, query).await?;
            while replies.try_next().await?.is_some() {}
            Ok(())
        })
        .await
    }

    async fn copy(&mut self, uids: &[u32], folder: &str) -> Result<()> {
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let set = uid_set(uids);
        let name = self.server_name(folder);
        let what = format!("UID COPY {set} to {folder:?}");
        Self::io(&lr, limit, &what, self.session.uid_copy(&set, &name)).await
    }

    async fn move_to(&mut self, uids: &[u32], folder: &str) -> Result<()> {
        if !self.caps.moves {
            self.copy(uids, folder).await?;
            return self.delete(uids).await;
        }
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let set = uid_set(uids);
        let name = self.server_name(folder);
        let what = format!("UID MOVE {set} to {folder:?}");
        Self::io(&lr, limit, &what, self.session.uid_mv(&set, &name)).await
    }

    async fn delete(&mut self, uids: &[u32]) -> Result<()> {
        self.store(uids, "+FLAGS.SILENT (\\Deleted)").await?;
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let set = uid_set(uids);
        if self.caps.uidplus {
            let what = format!("UID EXPUNGE {set}");
            Self::io(&lr, limit, &what, async {
                let replies = self.session.uid_expunge(&set).await?;
                futures::pin_mut!(replies);
                while replies.try_next().await?.is_some() {}
                Ok(())
            })
            .await
        } else {
            // Without UIDPLUS a plain EXPUNGE also removes what other clients marked \Deleted.
            tracing::warn!("server lacks UIDPLUS: plain EXPUNGE");
            Self::io(&lr, limit, "EXPUNGE", async {
                let replies = self.session.expunge().await?;
                futures::pin_mut!(replies);
                while replies.try_next().await?.is_some() {}
                Ok(())
            })
            .await
        }
    }

    /// Waits for the server to announce a change, at most `renew`; polls with NOOP without IDLE.
    /// Fails (the connection is then dropped) when the server is silent for the liveness limit.
    pub async fn idle(self, renew: Duration, cancel: &CancellationToken) -> Result<(Imap, Wake)> {
        if !self.caps.idle {
            return self.poll(renew, cancel).await;
        }
        let Imap {
            session,
            folder,
            caps,
            delimiter,
            existing,
            user,
            copy_rights,
            last_read,
            liveness,
        } = self;
        let mut handle = session.idle();
        Self::io(&last_read, liveness, "IDLE", handle.init()).await?;
        let wake = {
            let (wait, _stop) = handle.wait_with_timeout(renew + Duration::from_secs(60));
            tokio::select! {
                r = wait => match r.context("IDLE")? {
                    IdleResponse::NewData(_) => Wake::Changed,
                    IdleResponse::Timeout | IdleResponse::ManualInterrupt => Wake::Renew,
                },
                () = tokio::time::sleep(renew) => Wake::Renew,
                () = cancel.cancelled() => Wake::Cancelled,
                () = dead(&last_read, liveness) => bail!("IDLE: no byte from the server for {liveness:?}"),
            }
        };
        let done_limit = liveness.min(Duration::from_secs(30));
        let session = Self::io(&last_read, done_limit, "DONE", handle.done()).await?;
        let mut imap = Imap {
            session,
            folder,
            caps,
            delimiter,
            existing,
            user,
            copy_rights,
            last_read,
            liveness,
        };
        imap.drain();
        Ok((imap, wake))
    }

    async fn poll(mut self, every: Duration, cancel: &CancellationToken) -> Result<(Imap, Wake)> {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = cancel.cancelled() => return Ok((self, Wake::Cancelled)),
        }
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        Self::io(&lr, limit, "NOOP", self.session.noop()).await?;
        self.drain();
        Ok((self, Wake::Changed))
    }

    /// Logs out politely, bounded by a short timeout.
    pub async fn logout(mut self) {
        let limit = self.liveness.min(Duration::from_secs(5));
        let lr = self.last_read.clone();
        if let Err(e) = Self::io(&lr, limit, "LOGOUT", self.session.logout()).await {
            tracing::debug!(error = %format!("{e:#}"), "logout");
        }
    }
}

/// Connects and logs in with the configured account, bounded by the liveness limit; selects nothing.
async fn open(cfg: &MailboxConfig, last_read: &Arc<AtomicI64>) -> Result<Session<Conn>> {
    let MailboxSource::Imap {
        security,
        host,
        port,
        user,
        ..
    } = &cfg.source
    else {
        bail!("not an IMAP mailbox");
    };
    let password = cfg
        .password
        .as_ref()
        .ok_or_else(|| anyhow!("no IMAP password configured"))?;
    let ep = Endpoint {
        host,
        port: *port,
        security: *security,
        ca_file: cfg.ca_file.as_deref(),
    };
    let limit = cfg.liveness_limit.min(conn::CONNECT_TIMEOUT);
    bounded(last_read, limit, async {
        let (stream, greeting) = conn::connect(&ep, last_read.clone()).await?;
        let mut client = async_imap::Client::new(stream);
        if greeting {
            client
                .read_response()
                .await
                .context("read IMAP greeting")?
                .ok_or_else(|| anyhow!("server closed the connection before its greeting"))?;
        }
        login(client, user, password.expose()).await
    })
    .await
    .with_context(|| format!("log in to {host}:{port} as {user}"))
}

/// Runs `fut` with the liveness watchdog.
async fn bounded<T>(
    last_read: &AtomicI64,
    limit: Duration,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = fut => r,
        () = dead(last_read, limit) => bail!("no reply from the server for {limit:?}"),
    }
}

/// AUTHENTICATE PLAIN, falling back to LOGIN for servers without it. The password never reaches a log.
async fn login(
    client: async_imap::Client<Conn>,
    user: &str,
    password: &str,
) -> Result<Session<Conn>> {
    match client.authenticate("PLAIN", Plain { user, password }).await {
        Ok(session) => Ok(session),
        Err((first, client)) => {
            tracing::debug!(error = %first, "AUTHENTICATE PLAIN refused, trying LOGIN");
            client
                .login(user, password)
                .await
                .map_err(|(e, _)| anyhow!(e).context("LOGIN refused"))
        }
    }
}
