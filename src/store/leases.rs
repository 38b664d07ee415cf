//! Workers and mailbox leases: the SQL that lets several `triaged run` processes share one store.
//!
//! - A worker registers a row at start ([`Store::register_worker`]), beats ([`Store::heartbeat`]) and
//!   marks itself stopped on a clean exit. It is live while `heartbeat_ms + ttl_ms` is ahead of the
//!   database's clock.
//! - A lease row per mailbox identity: the holder, an expiry and a fencing token. A worker takes a lease
//!   that has expired or was never held, which raises the token ([`Store::acquire_lease`]); it renews
//!   only the leases it still holds, before they expire ([`Store::renew_leases`]).
//! - [`Store::fence_in`] runs inside a transaction that records or applies for a mailbox: it locks the
//!   lease row `FOR SHARE` on PostgreSQL (a takeover's `UPDATE` then waits for the transaction to end)
//!   and fails with [`Fenced`] unless the row still names this holder, this token and an expiry ahead.
//!
//! Every time here is the database's clock ([`Store::db_now_ms`]), never the host's, so that hosts with
//! skewed clocks agree on who holds what.

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, Tx};

/// The database's clock in milliseconds since the epoch, as SQL.
pub(super) fn now_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "(extract(epoch from clock_timestamp()) * 1000)::bigint",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

/// A write for a mailbox was refused because this worker no longer holds its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    pub mailbox: String,
    pub token: i64,
    /// Who holds the lease now ('' when nobody), and under which token.
    pub holder: String,
    pub holder_token: i64,
}

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.holder.is_empty() {
            write!(
                f,
                "lease on {} lost: token {} expired and nobody holds it now",
                self.mailbox, self.token
            )
        } else {
            write!(
                f,
                "lease on {} lost: token {} is stale, {} holds it under token {}",
                self.mailbox, self.token, self.holder, self.holder_token
            )
        }
    }
}

impl std::error::Error for Fenced {}

/// One registered worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub pidns: String,
    pub pid: i64,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    pub ttl_ms: i64,
    pub stopped_ms: i64,
}

impl WorkerRow {
    /// Live at `now_ms`: not stopped, and heard from within its ttl.
    pub fn live_at(&self, now_ms: i64) -> bool {
        self.stopped_ms == 0 && self.heartbeat_ms + self.ttl_ms > now_ms
    }
}

/// One mailbox's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub mailbox: String,
    pub name: String,
    pub holder: String,
    pub expires_ms: i64,
    pub token: i64,
    pub acquired_ms: i64,
    pub last_error: String,
}

impl LeaseRow {
    /// Held at `now_ms`: a holder, and an expiry ahead.
    pub fn held_at(&self, now_ms: i64) -> bool {
        !self.holder.is_empty() && self.expires_ms > now_ms
    }
}

fn worker_row(row: &AnyRow) -> Result<WorkerRow, sqlx::Error> {
    Ok(WorkerRow {
        id: row.try_get("id")?,
        host: row.try_get("host")?,
        pidns: row.try_get("pidns")?,
        pid: row.try_get("pid")?,
        started_ms: row.try_get("started_ms")?,
        heartbeat_ms: row.try_get("heartbeat_ms")?,
        ttl_ms: row.try_get("ttl_ms")?,
        stopped_ms: row.try_get("stopped_ms")?,
    })
}

fn lease_row(row: &AnyRow) -> Result<LeaseRow, sqlx::Error> {
    Ok(LeaseRow {
        mailbox: row.try_get("mailbox")?,
        name: row.try_get("name")?,
        holder: row.try_get("holder")?,
        expires_ms: row.try_get("expires_ms")?,
        token: row.try_get("token")?,
        acquired_ms: row.try_get("acquired_ms")?,
        last_error: row.try_get("last_error")?,
    })
}

const LEASE_COLUMNS: &str = "mailbox, name, holder, expires_ms, token, acquired_ms, last_error";

impl Store {
    /// The database's clock, in milliseconds since the epoch.
    pub async fn db_now_ms(&self) -> Result<i64> {
        sqlx::query_scalar(&format!("SELECT {}", now_sql(self.backend)))
            .fetch_one(self.pool())
            .await
            .context("read the database's clock")
    }

    /// Registers worker `id` (host and PID namespace, pid, ttl) as live now; returns the database's
    /// time.
    pub async fn register_worker(
        &self,
        id: &str,
        (host, pidns): (&str, &str),
        pid: i64,
        ttl_ms: i64,
    ) -> Result<i64> {
        let now = self.db_now_ms().await?;
        sqlx::query(
            "INSERT INTO workers (id, host, pidns, pid, started_ms, heartbeat_ms, ttl_ms, \
             stopped_ms) VALUES ($1, $2, $3, $4, $5, $5, $6, 0)",
        )
        .bind(id)
        .bind(host)
        .bind(pidns)
        .bind(pid)
        .bind(now)
        .bind(ttl_ms)
        .execute(self.pool())
        .await
        .with_context(|| format!("register worker {id}"))?;
        Ok(now)
    }

    /// Records that worker `id` is alive; returns the database's time of the beat, or `None` when its
    /// row is gone or marked stopped (it must not go on).
    pub async fn heartbeat(&self, id: &str) -> Result<Option<i64>> {
        let now = now_sql(self.backend);
        let beat: Option<i64> = sqlx::query_scalar(&format!(
            "UPDATE workers SET heartbeat_ms = {now} WHERE id = $1 AND stopped_ms = 0 \
             RETURNING heartbeat_ms"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .with_context(|| format!("heartbeat of worker {id}"))?;
        Ok(beat)
    }

    /// Marks worker `id` stopped and gives up every lease it holds, so that others take them at once.
    pub async fn stop_worker(&self, id: &str) -> Result<()> {
        let now = now_sql(self.backend);
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE leases SET holder = '', expires_ms = 0 WHERE holder = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .context("release the leases")?;
        sqlx::query(&format!(
            "UPDATE workers SET stopped_ms = {now} WHERE id = $1"
        ))
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("mark the worker stopped")?;
        tx.commit().await.context("commit the stop")?;
        Ok(())
    }

    /// Every registered worker, newest first, with the database's time to judge them by.
    pub async fn workers(&self) -> Result<(Vec<WorkerRow>, i64)> {
        let rows = sqlx::query(
            "SELECT id, host, pidns, pid, started_ms, heartbeat_ms, ttl_ms, stopped_ms FROM workers \
             ORDER BY started_ms DESC, id",
        )
        .fetch_all(self.pool())
        .await
        .context("read the workers")?;
        let workers = rows
            .iter()
            .map(worker_row)
            .collect::<Result<_, _>>()
            .context("decode a worker")?;
        Ok((workers, self.db_now_ms().await?))
    }

    /// Forgets workers stopped or silent for longer than `keep_ms` (their leases long expired).
    pub async fn forget_workers(&self, keep_ms: i64) -> Result<u64> {
        let now = now_sql(self.backend);
        let done = sqlx::query(&format!(
            "DELETE FROM workers WHERE heartbeat_ms + ttl_ms + $1 < {now} \
             AND id NOT IN (SELECT holder FROM leases)"
        ))
        .bind(keep_ms)
        .execute(self.pool())
        .await
        .context("forget old workers")?;
        Ok(done.rows_affected())
    }

    /// Makes sure a lease row exists for each `(mailbox, name)`; the name is refreshed.
    pub async fn ensure_leases(&self, mailboxes: &[(String, String)]) -> Result<()> {
        for (mailbox, name) in mailboxes {
            sqlx::query(
                "INSERT INTO leases (mailbox, name) VALUES ($1, $2) \
                 ON CONFLICT (mailbox) DO UPDATE SET name = excluded.name",
            )
            .bind(mailbox)
            .bind(name)
            .execute(self.pool())
            .await
            .with_context(|| format!("create the lease row of {mailbox}"))?;
        }
        Ok(())
    }

    /// Takes the lease on `mailbox` for `worker` when it has expired or was never held: the token
    /// grows by one. Returns the new token, or `None` when another worker holds it.
    pub async fn acquire_lease(
        &self,
        mailbox: &str,
        worker: &str,
        ttl_ms: i64,
    ) -> Result<Option<i64>> {
        let now = now_sql(self.backend);
        sqlx::query_scalar(&format!(
            "UPDATE leases SET holder = $1, token = token + 1, expires_ms = {now} + $2, \
             acquired_ms = {now}, last_error = '' \
             WHERE mailbox = $3 AND (holder = '' OR expires_ms <= {now}) RETURNING token"
        ))
        .bind(worker)
        .bind(ttl_ms)
        .bind(mailbox)
        .fetch_optional(self.pool())
        .await
        .with_context(|| format!("acquire the lease on {mailbox}"))
    }

    /// Extends by `ttl_ms` from now every lease `worker` holds that has not expired, in one statement;
    /// returns those renewed with their tokens (a lease missing from it, or under another token, is
    /// lost).
    pub async fn renew_leases(&self, worker: &str, ttl_ms: i64) -> Result<Vec<(String, i64)>> {
        let now = now_sql(self.backend);
        let rows = sqlx::query(&format!(
            "UPDATE leases SET expires_ms = {now} + $1 \
             WHERE holder = $2 AND expires_ms > {now} RETURNING mailbox, token"
        ))
        .bind(ttl_ms)
        .bind(worker)
        .fetch_all(self.pool())
        .await
        .context("renew the leases")?;
        rows.iter()
            .map(|r| Ok((r.try_get("mailbox")?, r.try_get("token")?)))
            .collect()
    }

    /// Gives the lease on `mailbox` up, if `worker` still holds it under `token`.
    pub async fn release_lease(&self, mailbox: &str, worker: &str, token: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE leases SET holder = '', expires_ms = 0 \
             WHERE mailbox = $1 AND holder = $2 AND token = $3",
        )
        .bind(mailbox)
        .bind(worker)
        .bind(token)
        .execute(self.pool())
        .await
        .with_context(|| format!("release the lease on {mailbox}"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the holder's last error for `mailbox` ('' clears it), under its token.
    pub async fn set_lease_error(&self, mailbox: &str, token: i64, error: &str) -> Result<()> {
        sqlx::query("UPDATE leases SET last_error = $1 WHERE mailbox = $2 AND token = $3")
            .bind(error)
            .bind(mailbox)
            .bind(token)
            .execute(self.pool())
            .await
            .with_context(|| format!("record the error of {mailbox}"))?;
        Ok(())
    }

    /// Every lease, by mailbox, with the database's time to judge them by.
    pub async fn leases(&self) -> Result<(Vec<LeaseRow>, i64)> {
        let rows = sqlx::query(&format!(
            "SELECT {LEASE_COLUMNS} FROM leases ORDER BY name, mailbox"
        ))
        .fetch_all(self.pool())
        .await
        .context("read the leases")?;
        let leases = rows
            .iter()
            .map(lease_row)
            .collect::<Result<_, _>>()
            .context("decode a lease")?;
        Ok((leases, self.db_now_ms().await?))
    }

    /// The fencing check, inside the transaction `tx` whose writes it guards: fails with [`Fenced`]
    /// unless `worker` holds `mailbox` under `token` with an expiry ahead. On PostgreSQL the lease row
    /// stays share-locked until `tx` ends, so no takeover can commit in between.
    pub async fn fence_in(
        &self,
        tx: &mut Tx,
        mailbox: &str,
        worker: &str,
        token: i64,
    ) -> Result<()> {
        let now = now_sql(self.backend);
        let lock = match self.backend {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "SELECT holder, token, CASE WHEN expires_ms > {now} THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS ahead \
             FROM leases WHERE mailbox = $1{lock}"
        ))
        .bind(mailbox)
        .fetch_optional(&mut **tx)
        .await
        .with_context(|| format!("check the lease on {mailbox}"))?;
        let (holder, holder_token, ahead): (String, i64, i64) = match &row {
            Some(r) => (
                r.try_get("holder")?,
                r.try_get("token")?,
                r.try_get("ahead")?,
            ),
            None => (String::new(), 0, 0),
        };
        if holder == worker && holder_token == token && ahead == 1 {
            return Ok(());
        }
        Err(Fenced {
            mailbox: mailbox.to_owned(),
            token,
            holder: if ahead == 1 { holder } else { String::new() },
            holder_token,
        }
        .into())
    }
}

#[cfg(test)]
#[path = "leases_tests.rs"]
mod tests;
