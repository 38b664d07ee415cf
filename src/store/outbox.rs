//! The outbox's SQL: queued mails with their recipients, delivery claims and outcomes, automatic-reply
//! records (RFC 3834 "one per sender per period") and the per-day support ticket counter.
//!
//! - **Claims.** Each attempt claims its recipient for the worker making it (`claimed_by`, a
//!   `workers.id`). A row claimed by a live worker (see `store::leases`) is neither due nor claimable by
//!   another; a dead worker's claim (stopped, or silent past its ttl, by the database's clock) is
//!   anybody's again; recording the outcome clears it. On PostgreSQL the claim locks the row with
//!   `FOR UPDATE SKIP LOCKED`, so a flusher never waits behind another's claim in progress, and the
//!   liveness test is evaluated again under the lock; SQLite has one writer, and a conditional `UPDATE`
//!   does the same.
//! - **One automatic reply per sender per period** is a key: `auto_reply_senders` holds each sender's
//!   last reply, taken with an upsert inside the transaction that queues the reply, so that of two
//!   transactions answering one sender only one finds the period free.
//!
//! Owns every statement on `outbox_mails`, `outbox_recipients`, `auto_replies`, `auto_reply_senders` and
//! `ticket_counters`; decides nothing about retries or policy (that is `outbox`), it only records what
//! it is told.

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::leases::now_sql;
use super::{Backend, Store, Tx};

/// Where one recipient of a mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecipientState {
    /// Waiting for its next attempt.
    Queued,
    /// Accepted by the server (or written to the file transport).
    Sent,
    /// Refused for good, or given up on; never tried again unless retried by hand.
    Failed,
    /// Not sendable as it stands (e.g. encryption required but no key); never sent until retried.
    Held,
    /// Cancelled by hand.
    Cancelled,
}

impl RecipientState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Queued => "queued",
            RecipientState::Sent => "sent",
            RecipientState::Failed => "failed",
            RecipientState::Held => "held",
            RecipientState::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "queued" => RecipientState::Queued,
            "sent" => RecipientState::Sent,
            "failed" => RecipientState::Failed,
            "held" => RecipientState::Held,
            "cancelled" => RecipientState::Cancelled,
            other => anyhow::bail!("unknown recipient state {other:?}"),
        })
    }
}

impl std::fmt::Display for RecipientState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mail to queue: its final bytes and the recipients of its envelope.
#[derive(Debug, Clone)]
pub struct NewOutboxMail<'a> {
    pub created_at_ms: i64,
    /// The template it was rendered from (`welcome-triage`), for listings.
    pub template: &'a str,
    pub message_id: &'a str,
    pub subject: &'a str,
    /// SMTP MAIL FROM; empty for the null sender (`<>`), which automatic replies use.
    pub envelope_from: &'a str,
    /// The complete message, sent byte for byte on every attempt; empty while held.
    pub raw: &'a [u8],
    /// The rendered mail as JSON, so a held mail can be composed again once it can be.
    pub source: &'a str,
    /// Non-empty holds every recipient with this error.
    pub hold_error: &'a str,
    pub give_up_at_ms: i64,
    /// Envelope recipients (bare addresses), each delivered in its own SMTP transaction.
    pub recipients: &'a [String],
}

/// One recipient's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecipient {
    pub id: i64,
    pub mail_id: i64,
    pub address: String,
    pub state: RecipientState,
    /// Attempts started so far (a started attempt counts even if the process died during it).
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: String,
    pub updated_at_ms: i64,
    /// The worker whose attempt holds it ('' when none); it holds only while that worker is live.
    pub claimed_by: String,
}

/// A queued mail without its bytes, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: i64,
    pub created_at_ms: i64,
    pub template: String,
    pub message_id: String,
    pub subject: String,
    pub envelope_from: String,
    pub hold_error: String,
    pub give_up_at_ms: i64,
    pub recipients: Vec<OutboxRecipient>,
}

/// What one delivery attempt needs.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub recipient: OutboxRecipient,
    pub message_id: String,
    pub envelope_from: String,
    pub raw: Vec<u8>,
    pub give_up_at_ms: i64,
}

/// A held mail's stored source, to compose it again.
#[derive(Debug, Clone)]
pub struct HeldSource {
    pub message_id: String,
    pub created_at_ms: i64,
    pub source: String,
}

const MAIL_COLUMNS: &str = "id, created_at_ms, template, message_id, subject, envelope_from, \
                            hold_error, give_up_at_ms";

const RECIPIENT_COLUMNS: &str = "id, mail_id, address, state, attempts, next_attempt_at_ms, \
                                 last_error, updated_at_ms, claimed_by";

/// SQL true when the worker bound as `worker` may take the recipient row whose `claimed_by` column is
/// `column`: unclaimed, claimed by that worker itself (a claim it left when recording failed; a worker
/// makes one attempt at a time), or claimed by a worker that is not live: stopped, silent past its ttl
/// by the database's clock, or forgotten.
fn claimable(backend: Backend, column: &str, worker: &str) -> String {
    let now = now_sql(backend);
    format!(
        "({column} IN ('', {worker}) OR NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = {column} \
         AND w.stopped_ms = 0 AND w.heartbeat_ms + w.ttl_ms > {now}))"
    )
}

fn recipient(row: &AnyRow) -> Result<OutboxRecipient> {
    Ok(OutboxRecipient {
        id: row.try_get("id")?,
        mail_id: row.try_get("mail_id")?,
        address: row.try_get("address")?,
        state: RecipientState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
        last_error: row.try_get("last_error")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        claimed_by: row.try_get("claimed_by")?,
    })
}

impl Store {
    /// Queues a mail and its recipients inside the caller's transaction; returns the mail's id.
    pub async fn insert_outbox_mail_in(tx: &mut Tx, mail: &NewOutboxMail<'_>) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox_mails (created_at_ms, template, message_id, subject, envelope_from, \
             raw, source, hold_error, give_up_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(mail.created_at_ms)
        .bind(mail.template)
        .bind(mail.message_id)
        .bind(mail.subject)
        .bind(mail.envelope_from)
        .bind(mail.raw.to_vec())
        .bind(mail.source)
        .bind(mail.hold_error)
        .bind(mail.give_up_at_ms)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("queue mail {}", mail.message_id))?;
        let state = if mail.hold_error.is_empty() {
            RecipientState::Queued
        } else {
            RecipientState::Held
        };
        for address in mail.recipients {
            sqlx::query(
                "INSERT INTO outbox_recipients (mail_id, address, state, next_attempt_at_ms, \
                 last_error, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(address)
            .bind(state.as_str())
            .bind(mail.created_at_ms)
            .bind(mail.hold_error)
            .bind(mail.created_at_ms)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("queue recipient {address} of outbox mail {id}"))?;
        }
        Ok(id)
    }

    /// Queued recipients due at `now_ms` (all queued ones when `ignore_schedule`) that `worker` may
    /// claim (none another live worker holds), oldest first.
    pub async fn due_recipients(
        &self,
        worker: &str,
        now_ms: i64,
        ignore_schedule: bool,
        limit: i64,
    ) -> Result<Vec<OutboxRecipient>> {
        let due = if ignore_schedule { i64::MAX } else { now_ms };
        let free = claimable(self.backend, "outbox_recipients.claimed_by", "$3");
        let rows = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM outbox_recipients \
             WHERE state = 'queued' AND next_attempt_at_ms <= $1 AND {free} \
             ORDER BY next_attempt_at_ms, id LIMIT $2"
        ))
        .bind(due)
        .bind(limit)
        .bind(worker)
        .fetch_all(self.pool())
        .await
        .context("read due outbox recipients")?;
        rows.iter().map(recipient).collect()
    }

    /// The earliest next attempt among queued recipients that `worker` may claim, if any.
    pub async fn next_outbox_due(&self, worker: &str) -> Result<Option<i64>> {
        let free = claimable(self.backend, "outbox_recipients.claimed_by", "$1");
        sqlx::query_scalar(&format!(
            "SELECT MIN(next_attempt_at_ms) FROM outbox_recipients WHERE state = 'queued' AND {free}"
        ))
        .bind(worker)
        .fetch_one(self.pool())
        .await
        .context("read the next outbox attempt time")
    }

    /// Claims one attempt at recipient `id` for `worker`: counts it, moves the next attempt to
    /// `next_at_ms` and sets `claimed_by`, but only if it is still queued, no attempt started since it
    /// was read (`seen_attempts`) and no other live worker holds it. The claim is committed before the
    /// attempt: while `worker` lives no other worker touches the recipient, and if it dies mid-attempt
    /// the recipient is queued again for its next turn.
    pub async fn claim_recipient(
        &self,
        id: i64,
        worker: &str,
        seen_attempts: i64,
        next_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool> {
        let set = "UPDATE outbox_recipients SET attempts = attempts + 1, next_attempt_at_ms = $1, \
                   updated_at_ms = $2, claimed_by = $3";
        let sql = match self.backend {
            // A row another transaction is claiming right now is skipped, not waited for; once
            // locked, the conditions are read again from the row's latest version.
            Backend::Postgres => {
                let free = claimable(self.backend, "c.claimed_by", "$3");
                format!(
                    "{set} WHERE id = (SELECT c.id FROM outbox_recipients c WHERE c.id = $4 \
                     AND c.state = 'queued' AND c.attempts = $5 AND {free} FOR UPDATE SKIP LOCKED)"
                )
            }
            Backend::Sqlite => {
                let free = claimable(self.backend, "outbox_recipients.claimed_by", "$3");
                format!("{set} WHERE id = $4 AND state = 'queued' AND attempts = $5 AND {free}")
            }
        };
        let done = sqlx::query(&sql)
            .bind(next_at_ms)
            .bind(now_ms)
            .bind(worker)
            .bind(id)
            .bind(seen_attempts)
            .execute(self.pool())
            .await
            .with_context(|| format!("claim outbox recipient {id}"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Everything one attempt for recipient `id` needs.
    pub async fn delivery(&self, id: i64) -> Result<Delivery> {
        let row = sqlx::query(
            "SELECT r.id, r.mail_id, r.address, r.state, r.attempts, r.next_attempt_at_ms, \
             r.last_error, r.updated_at_ms, r.claimed_by, m.message_id, m.envelope_from, m.raw, m.give_up_at_ms \
             FROM outbox_recipients r JOIN outbox_mails m ON m.id = r.mail_id WHERE r.id = $1",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await
        .with_context(|| format!("read outbox recipient {id}"))?;
        Ok(Delivery {
            recipient: recipient(&row)?,
            message_id: row.try_get("message_id")?,
            envelope_from: row.try_get("envelope_from")?,
            raw: row.try_get("raw")?,
            give_up_at_ms: row.try_get("give_up_at_ms")?,
        })
    }

    /// Records `worker`'s outcome for a queued recipient and clears its claim: `Sent`, `Failed`, or
    /// `Queued` (a transient failure, whose next attempt the claim already set). Refused (`false`)
    /// when the recipient is no longer queued, or another live worker holds it: `worker` was taken
    /// for dead and its claim taken over, and the new holder's attempt records its own outcome.
    pub async fn record_attempt(
        &self,
        id: i64,
        worker: &str,
        state: RecipientState,
        error: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let free = claimable(self.backend, "outbox_recipients.claimed_by", "$5");
        let done = sqlx::query(&format!(
            "UPDATE outbox_recipients SET state = $1, last_error = $2, updated_at_ms = $3, \
             claimed_by = '' WHERE id = $4 AND state = 'queued' AND {free}"
        ))
        .bind(state.as_str())
        .bind(error)
        .bind(now_ms)
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await
        .with_context(|| format!("record the outcome for outbox recipient {id}"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The newest `limit` mails with their recipients, newest first.
    pub async fn outbox_mails(&self, limit: i64) -> Result<Vec<OutboxMail>> {
        let rows = sqlx::query(&format!(
            "SELECT {MAIL_COLUMNS} FROM outbox_mails ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .context("list outbox mails")?;
        let mut mails = Vec::with_capacity(rows.len());
        for row in &rows {
            mails.push(self.mail(row).await?);
        }
        Ok(mails)
    }

    /// One mail with its recipients.
    pub async fn outbox_mail(&self, id: i64) -> Result<Option<OutboxMail>> {
        let row = sqlx::query(&format!(
            "SELECT {MAIL_COLUMNS} FROM outbox_mails WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .with_context(|| format!("read outbox mail {id}"))?;
        match row {
            Some(row) => Ok(Some(self.mail(&row).await?)),
            None => Ok(None),
        }
    }

    async fn mail(&self, row: &AnyRow) -> Result<OutboxMail> {
        let id: i64 = row.try_get("id")?;
        Ok(OutboxMail {
            id,
            created_at_ms: row.try_get("created_at_ms")?,
            template: row.try_get("template")?,
            message_id: row.try_get("message_id")?,
            subject: row.try_get("subject")?,
            envelope_from: row.try_get("envelope_from")?,
            hold_error: row.try_get("hold_error")?,
            give_up_at_ms: row.try_get("give_up_at_ms")?,
            recipients: self.outbox_recipients(id).await?,
        })
    }

    /// The recipients of mail `mail_id`, in the order they were queued.
    pub async fn outbox_recipients(&self, mail_id: i64) -> Result<Vec<OutboxRecipient>> {
        let rows = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM outbox_recipients WHERE mail_id = $1 ORDER BY id"
        ))
        .bind(mail_id)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read recipients of outbox mail {mail_id}"))?;
        rows.iter().map(recipient).collect()
    }

    /// The raw bytes stored for mail `id` (what every attempt sends).
    pub async fn outbox_raw(&self, id: i64) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT raw FROM outbox_mails WHERE id = $1")
            .bind(id)
            .fetch_one(self.pool())
            .await
            .with_context(|| format!("read outbox mail {id}"))
    }

    /// The stored source of a mail, to compose a held one again.
    pub async fn outbox_source(&self, id: i64) -> Result<HeldSource> {
        let row =
            sqlx::query("SELECT message_id, created_at_ms, source FROM outbox_mails WHERE id = $1")
                .bind(id)
                .fetch_one(self.pool())
                .await
                .with_context(|| format!("read the source of outbox mail {id}"))?;
        Ok(HeldSource {
            message_id: row.try_get("message_id")?,
            created_at_ms: row.try_get("created_at_ms")?,
            source: row.try_get("source")?,
        })
    }

    /// Requeues mail `id`'s failed and held recipients (due at once, with a new give-up time) and, for a
    /// held mail composed again, stores its new bytes; returns how many recipients were requeued.
    pub async fn requeue_outbox_mail(
        &self,
        id: i64,
        raw: Option<&[u8]>,
        give_up_at_ms: i64,
        now_ms: i64,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        let mail = sqlx::query("UPDATE outbox_mails SET give_up_at_ms = $1 WHERE id = $2")
            .bind(give_up_at_ms)
            .bind(id);
        mail.execute(&mut *tx)
            .await
            .with_context(|| format!("requeue outbox mail {id}"))?;
        if let Some(raw) = raw {
            sqlx::query("UPDATE outbox_mails SET raw = $1, hold_error = '' WHERE id = $2")
                .bind(raw.to_vec())
                .bind(id)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("store the composed outbox mail {id}"))?;
        }
        let done = sqlx::query(
            "UPDATE outbox_recipients SET state = 'queued', next_attempt_at_ms = $1, \
             updated_at_ms = $1, last_error = '' WHERE mail_id = $2 AND state IN ('failed', 'held')",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("requeue recipients of outbox mail {id}"))?;
        tx.commit().await.context("commit requeue")?;
        Ok(done.rows_affected())
    }

    /// Records a new hold error for a held mail whose second composition failed too.
    pub async fn hold_outbox_mail(&self, id: i64, error: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE outbox_mails SET hold_error = $1 WHERE id = $2")
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await
            .with_context(|| format!("hold outbox mail {id}"))?;
        sqlx::query(
            "UPDATE outbox_recipients SET last_error = $1, updated_at_ms = $2 \
             WHERE mail_id = $3 AND state = 'held'",
        )
        .bind(error)
        .bind(now_ms)
        .bind(id)
        .execute(self.pool())
        .await
        .with_context(|| format!("hold recipients of outbox mail {id}"))?;
        Ok(())
    }

    /// Cancels mail `id`'s queued and held recipients; returns how many were cancelled.
    pub async fn cancel_outbox_mail(&self, id: i64, now_ms: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE outbox_recipients SET state = 'cancelled', updated_at_ms = $1, claimed_by = '' \
             WHERE mail_id = $2 AND state IN ('queued', 'held')",
        )
        .bind(now_ms)
        .bind(id)
        .execute(self.pool())
        .await
        .with_context(|| format!("cancel outbox mail {id}"))?;
        Ok(done.rows_affected())
    }

    /// When `sender` (lowercased address) last got an automatic reply after `since_ms`.
    pub async fn auto_replied_since(&self, sender: &str, since_ms: i64) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT MAX(at_ms) FROM auto_replies WHERE sender = $1 AND at_ms > $2")
            .bind(sender)
            .bind(since_ms)
            .fetch_one(self.pool())
            .await
            .with_context(|| format!("look up automatic replies to {sender}"))
    }

    /// Takes the period for an automatic reply to `sender` (lowercased address) at `at_ms`, inside the
    /// transaction that queues the reply: `None` when taken (the sender's last reply, if any, was at or
    /// before `since_ms`; it is now `at_ms`), else `Some(when the sender was last answered)`.
    ///
    /// It is the sender's row in `auto_reply_senders` that decides. On PostgreSQL a second transaction
    /// answering the same sender waits on that row until the first ends, then reads the row as the
    /// first left it: it finds the period taken if the first committed, free if it rolled back.
    pub async fn claim_auto_reply_in(
        tx: &mut Tx,
        sender: &str,
        at_ms: i64,
        since_ms: i64,
    ) -> Result<Option<i64>> {
        let done = sqlx::query(
            "INSERT INTO auto_reply_senders (sender, last_at_ms) VALUES ($1, $2) \
             ON CONFLICT (sender) DO UPDATE SET last_at_ms = excluded.last_at_ms \
             WHERE auto_reply_senders.last_at_ms <= $3",
        )
        .bind(sender)
        .bind(at_ms)
        .bind(since_ms)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("take the automatic-reply period of {sender}"))?;
        if done.rows_affected() == 1 {
            return Ok(None);
        }
        let last =
            sqlx::query_scalar("SELECT last_at_ms FROM auto_reply_senders WHERE sender = $1")
                .bind(sender)
                .fetch_one(&mut **tx)
                .await
                .with_context(|| format!("read the last automatic reply to {sender}"))?;
        Ok(Some(last))
    }

    /// Records an automatic reply to `sender` (lowercased address) carried by outbox mail `mail_id`.
    pub async fn record_auto_reply_in(
        tx: &mut Tx,
        sender: &str,
        at_ms: i64,
        mail_id: i64,
        ticket: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO auto_replies (sender, at_ms, mail_id, ticket) VALUES ($1, $2, $3, $4)",
        )
        .bind(sender)
        .bind(at_ms)
        .bind(mail_id)
        .bind(ticket)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("record automatic reply to {sender}"))?;
        Ok(())
    }

    /// The ticket number [`Store::next_ticket_in`] would hand out next for `day`, without taking it (for a
    /// dry run, which shows the mail and changes nothing).
    pub async fn peek_ticket(&self, day: &str) -> Result<i64> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT last FROM ticket_counters WHERE day = $1")
                .bind(day)
                .fetch_optional(self.pool())
                .await
                .with_context(|| format!("read the ticket counter of {day}"))?;
        Ok(last.unwrap_or(0) + 1)
    }

    /// Hands out the next ticket number of `day` (`YYYYMMDD`): 1, 2, 3 ... never the same one twice.
    pub async fn next_ticket_in(tx: &mut Tx, day: &str) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO ticket_counters (day, last) VALUES ($1, 1) \
             ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last",
        )
        .bind(day)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("allocate a ticket number for {day}"))
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
