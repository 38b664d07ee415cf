//! The team leader's records: what triaged keeps about the team's work beyond single messages. Today
//! that is the dispute filings (`disputes`: the Arbitrated Background Check request checked part by
//! part before it is sent). It changes mail only through `mailbox` and sends only through `outbox`.

pub mod disputes;
