//! # triaged
//!
//! Watches a support team's shared mailbox, sorts every message into a bucket with the team's Sieve
//! scripts, acts on the verdict, sends the team's templated mail through a durable outbox, and keeps
//! the team's records. `DESIGN.md`-style overview: incoming mail flows mailbox → message → classify →
//! actions; outgoing mail flows templates → outbox → transport; the store sits under both.
//!
//! # Layout
//! - `cli`: argument parsing, exit codes, logging set-up; no logic of its own.
//! - `config`: `triaged.toml` read, checked and resolved once; secrets from files or the environment.
//! - `clock`: the one source of wall-clock time, movable in tests.
//! - `message`: the parsed message the rest of the code sees (mail-parser), validated first.
//! - `classify`: Sieve compile (with limits) and evaluation into a `Verdict`; `triaged classify`.
//! - `mailbox`: the watched mailbox over IMAP or Maildir: fetch, move, flag, IDLE/watch.
//! - `actions`: a verdict turned into mailbox operations, grouped per batch.
//! - `worker`: the loops of `triaged run` (watch, sort, reconnect, shut down) and `status`.
//! - `metrics`: Prometheus counters and the `/healthz` listener.
//! - `failpoint`: test-only crash points, compiled out of normal builds.
//! - `store`: every SQL statement, SQLite and PostgreSQL, with embedded migrations.
//! - `templates`: the team's mail templates (minijinja, front matter, typed contexts) rendered to mail.
//! - `outbox`: the durable outgoing queue: compose, OpenPGP, RFC 3834 guard, SMTP or file delivery.
//! - `disputes`: dispute filings (the ABC request) checked part by part before they are sent.
//! - `lists`: mailing-list memberships and posting rights through Mailman 3's REST API.

pub mod actions;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod disputes;
pub mod failpoint;
pub mod lists;
pub mod mailbox;
pub mod message;
pub mod metrics;
pub mod outbox;
pub mod store;
pub mod templates;
pub mod worker;
