//! The store: every SQL statement triaged runs, on SQLite (the embedded default) or PostgreSQL.
//!
//! One [`Store`] wraps a sqlx `Any` pool, so the same statements (written with `$1` placeholders, which
//! both backends accept) serve both; where the dialects differ, the SQL branches on [`Backend`]. Schema
//! changes are migrations per backend under `migrations/{sqlite,postgres}`, embedded in the binary. Each
//! domain keeps its statements in a `store/*.rs` part; nothing outside `store` writes SQL.

mod disputes;
mod events;
mod handover;
mod leases;
mod outbox;
mod prune;
mod quarantine;
mod report;
mod retention;
mod sla;
mod sync;
mod team;
mod threads;
mod verdicts;

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Transaction};

pub use self::disputes::{DisputeMark, DisputeRow, NewDispute};
pub use self::events::{Event, NewEvent};
pub use self::handover::{DriftRow, HandoverAssetRow, HandoverRow, NewHandover};
pub use self::leases::{Fenced, LeaseRow, WorkerRow};
pub use self::outbox::{
    Delivery, HeldSource, NewOutboxMail, OutboxMail, OutboxRecipient, RecipientState,
};
pub use self::prune::{KeptVerdict, PRUNED, Pruned};
pub use self::quarantine::{
    GIVEN_UP, GONE, HELD, QuarantineFailure, QuarantineRow, RELEASED, RELEASING,
};
pub use self::report::TeamRows;
pub use self::retention::{HoldKind, HoldRow, NewPurge, PurgeRow, RunEnd};
pub use self::sla::{QueuedMailRow, TicketTimeRow};
pub use self::sync::SyncState;
pub use self::team::{
    AddressRow, CertificateBytes, CertificateRow, FactRow, ItemRow, NewCertificate, NewFact,
    NewItem, NewPerson, NewPing, PersonRow, PingMatch, PingRow, RoleRow, RosterRows,
};
pub use self::threads::{
    KEY_CASE, KEY_MESSAGE_ID, NewThreadMessage, NewTicket, OUTBOX, RECEIVED, SENT_FOLDER,
    ThreadMessageRow, TicketRow,
};
pub use self::verdicts::{APPLIED, NewVerdict, RECORDED, VerdictRow};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A transaction on the store; commit it or it rolls back when dropped.
pub type Tx = Transaction<'static, Any>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Versions applied by this run, oldest first; empty when the schema was current.
    pub applied: Vec<i64>,
    /// Every version the binary knows.
    pub known: usize,
}

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`), creating the SQLite file's directory.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!(
                "store url {:?} is neither sqlite nor postgres",
                redact_url(url)
            );
        };
        if backend == Backend::Sqlite {
            create_sqlite_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url)
            .with_context(|| format!("parse store url {:?}", redact_url(url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers work while one writer commits; busy_timeout makes a second
                        // writer wait for the lock instead of failing with SQLITE_BUSY.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connect to store {:?}", redact_url(url)))?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies the embedded migrations that are not applied yet; a second run applies none.
    pub async fn migrate(&self) -> Result<MigrateReport> {
        let migrator = self.migrator();
        let before = self.applied_versions().await?;
        migrator.run(&self.pool).await.context("apply migrations")?;
        let after = self.applied_versions().await?;
        let applied = after.into_iter().filter(|v| !before.contains(v)).collect();
        Ok(MigrateReport {
            applied,
            known: migrator.iter().count(),
        })
    }

    /// Versions recorded in sqlx's migration table (none on a fresh database).
    async fn applied_versions(&self) -> Result<Vec<i64>> {
        let exists: i64 = match self.backend {
            Backend::Sqlite => sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            ),
            Backend::Postgres => sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
            ),
        }
        .fetch_one(&self.pool)
        .await
        .context("look for the migrations table")?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        .context("read applied migrations")
    }

    /// Fails unless every embedded migration has been applied (commands other than `migrate` call this).
    pub async fn ensure_current(&self) -> Result<()> {
        let applied = self.applied_versions().await?;
        let missing: Vec<i64> = self
            .migrator()
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "the store is missing migrations {missing:?}: run `triaged migrate`"
        );
        Ok(())
    }

    /// Opens the store and applies what migrations it lacks (`migrate`, and the start of `run`).
    pub async fn open_migrated(url: &str) -> Result<(Store, MigrateReport)> {
        let store = Store::open(url).await?;
        let report = store.migrate().await.context("migrate the store")?;
        Ok((store, report))
    }

    /// Opens the store and fails unless its schema is current (every command but `migrate` and `run`).
    pub async fn open_current(url: &str) -> Result<Store> {
        let store = Store::open(url).await?;
        store.ensure_current().await?;
        Ok(store)
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx> {
        self.pool.begin().await.context("begin transaction")
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection, waiting for them to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The database file of a SQLite store URL; `None` for an in-memory one.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Placeholders for `n` values bound in order, the first being parameter `first`: `$first, ...` on
/// PostgreSQL, `?, ...` on SQLite. SQLite's parser looks each `$N` up among the names it has seen, so a
/// statement costs the square of its parameters (ten 500-row inserts of 11 columns: 0.67 s with `$N`,
/// 0.01 s with `?`), and the batch statements have thousands.
fn binds(tx: &Tx, first: usize, n: usize) -> String {
    if tx.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
        vec!["?"; n].join(", ")
    } else {
        verdicts::placeholders(first, n)
    }
}

/// The rows `sql` selects for `values`, in `tx`: `sql` has one `{}` where the placeholder list goes
/// (`... WHERE key IN ({})`), and runs once per [`threads::CHUNK`] values.
async fn rows_among(
    tx: &mut Tx,
    sql: &str,
    values: &[String],
    what: &str,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut out = Vec::new();
    for chunk in values.chunks(threads::CHUNK) {
        let sql = sql.replace("{}", &binds(tx, 1, chunk.len()));
        let mut q = sqlx::query(&sql);
        for v in chunk {
            q = q.bind(v);
        }
        out.extend(
            q.fetch_all(&mut **tx)
                .await
                .with_context(|| format!("look up {what}"))?,
        );
    }
    Ok(out)
}

/// The `VALUES` list of a multi-row INSERT: `rows` rows of `cols` values each, bound in order.
fn value_rows(tx: &Tx, rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|i| format!("({})", binds(tx, i * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_sqlite_dir(url: &str) -> Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("create store directory {}", dir.display()))?;
    }
    Ok(())
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match ::url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
#[path = "store/store_tests.rs"]
mod tests;
