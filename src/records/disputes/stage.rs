//! The stages a dispute goes through between Support and Arbitration (the disputes bridge).
//!
//! Owns the stage names and their order; following a dispute through them (and escalating) builds on
//! this. It must not send mail except through the outbox.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Where a dispute stands, in the order it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Sorted into a disputes bucket, or filed by triaged.
    Received,
    /// Sent on to the arbitration case-management list (by triaged or a person).
    Forwarded,
    /// The list's own copy has come back to the watched mailbox.
    OnList,
    /// Arbitration replied, or a case number appeared in the thread.
    Acknowledged,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Received,
        Stage::Forwarded,
        Stage::OnList,
        Stage::Acknowledged,
    ];

    /// The name used in the config (`escalate_after`), the store and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Received => "received",
            Stage::Forwarded => "forwarded",
            Stage::OnList => "on-list",
            Stage::Acknowledged => "acknowledged",
        }
    }

    /// Whether the dispute still waits on someone (every stage before `acknowledged`).
    pub fn is_open(self) -> bool {
        self != Stage::Acknowledged
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage name that is not one of [`Stage::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a dispute stage (valid: received, forwarded, on-list, acknowledged)")]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_follows_the_bridge() -> anyhow::Result<()> {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>()?, stage);
            assert_eq!(serde_json::to_string(&stage)?, format!("\"{stage}\""));
        }
        assert!(Stage::Received < Stage::Forwarded && Stage::OnList < Stage::Acknowledged);
        assert!(Stage::OnList.is_open() && !Stage::Acknowledged.is_open());
        assert!("answered".parse::<Stage>().is_err());
        Ok(())
    }
}
