//! # triaged
//!
//! Watches a support team's shared mailbox, sorts every message into a bucket with the team's Sieve
//! scripts, acts on the verdict, sends the team's templated mail through a durable outbox, and keeps
//! the team's records. Incoming mail flows mailbox → message → classify →
//! actions; outgoing mail flows templates → outbox → transport; the store sits under both.
//!
//! # Layout
//! Rooms from the top down; a room imports only rooms below it (`scripts/check-layout` holds the code to
//! this), and only `store` writes SQL.
//! - `cli`: every subcommand: arguments, what it prints, exit codes, logging set-up; no domain rules.
//! - `worker`: `triaged run`: the one scheduler and its loops (watch, sort, send), `check`, `status`.
//! - `handover`: the rights each person should hold on each asset (IMAP folders, mailing lists, manual
//!   items), `team sync` against the real systems, handovers confirmed, applied, read back, verified.
//! - `machine`: this host's name and PID namespace, as the workers table knows them.
//! - `lists`: mailing-list memberships and posting rights through Mailman 3's REST API; no roles.
//! - `team`: the roster, the role pipeline with its preconditions, onboarding checklists, aliveness
//!   pings; touches neither IMAP nor the lists.
//! - `records`: the team leader's records: dispute filings and stages, business hours and the response
//!   target, the bucket names the config may use, the annual team report with its SVG charts.
//! - `actions`: what a verdict causes: the plan for the message (lowered to mailbox steps) and the mail
//!   it causes (acknowledgements, redirects, vacation replies).
//! - `mailbox`: the watched mailbox over IMAP or Maildir: fetch, grouped operations, IDLE/watch.
//! - `outbox`: the durable outgoing queue: compose, S/MIME and OpenPGP (and learning members'
//!   certificates from their signed mail), RFC 3834 guard, SMTP or file delivery.
//! - `classify`: Sieve compile (with limits) and evaluation of a raw message into a `Verdict`.
//! - `message`: raw bytes to the parsed message: validation, header repair as Pigeonhole reads it,
//!   digest, the header values the worker acts on.
//! - `templates`: the team's mail templates (minijinja, front matter, typed contexts).
//! - `config`: `triaged.toml` read, checked and resolved once; secrets from files or the environment.
//! - `store`: every SQL statement, SQLite and PostgreSQL, with embedded migrations.
//! - `clock`: the one source of wall-clock time, movable in tests.
//! - `metrics`: Prometheus counters and the `/healthz` answer.
//! - `failpoint`: test-only crash points, compiled out of normal builds.

pub mod actions;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod failpoint;
pub mod handover;
pub mod lists;
pub mod machine;
pub mod mailbox;
pub mod message;
pub mod metrics;
pub mod outbox;
pub mod records;
pub mod store;
pub mod team;
pub mod templates;
pub mod worker;
