//! The team leader's records: response times against the target, the disputes bridge, retention, and the
//! annual team report with its charts.
//!
//! Owns the rules of these records and how they are shown. It must not change mail except through
//! `mailbox`, nor write SQL (that is `store`), nor spawn loops (that is the worker's scheduler).
//!
//! # Layout
//! - `business_time`: business hours counted between instants (DST-correct), and the response target.
//! - `stats`: median and 90th percentile of a set of durations.
//! - `disputes`: the ABC filing checked part by part (and recorded as a dispute when queued), and the
//!   stages a dispute goes through on its way to Arbitration.
//! - `bridge`: the disputes bridge: each dispute followed through its stages as its mail is sorted, the
//!   team leader told once per stage when one stalls, the open ones listed.
//! - `report`: the annual team report: its figures, built from plain rows, and rendered as text, markdown,
//!   JSON or one self-contained HTML file, with its charts as SVG (`report::chart`, plotters): mail per
//!   bucket per month, response time per month.
//! - `threads`: support tickets `sYYYYMMDD.NNN` and their threads: what opens a ticket, what joins one,
//!   who answered; recorded in the verdict's transaction.
//! - `sla`: response times: the team's first reply per ticket (watched mailbox, sent folders, outbox),
//!   breaches of the target, `report sla`, and the timings the annual report uses.
//! - `buckets`: the bucket names the config may use, learnt from the Sieve script.
//! - `retention`: the data retention practice: purge runs (dry by default) over the bucket folders,
//!   holds (open disputes, case numbers, manual holds), the purge journal, pruning triaged's own records.

pub mod bridge;
pub mod buckets;
pub mod business_time;
pub mod disputes;
pub mod report;
pub mod retention;
pub mod sla;
pub mod stats;
pub mod threads;
