//! The roles: the pipeline Assurer → Triage → Support Engineer → Case Manager → Arbitrator, of which a
//! person holds one, and Team Leader, held beside it by at most one active member. The set and the order
//! are fixed here; what each role requires is data (the roles file).

use std::fmt;

use super::Unknown;

/// A role on the team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Assurer,
    Triage,
    Se,
    Cm,
    Arbitrator,
    /// Held beside a pipeline role.
    Leader,
}

impl Role {
    /// Every role, the pipeline in order, then `leader`.
    pub const ALL: [Role; 6] = [
        Role::Assurer,
        Role::Triage,
        Role::Se,
        Role::Cm,
        Role::Arbitrator,
        Role::Leader,
    ];

    /// How the role is written in commands and files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Assurer => "assurer",
            Role::Triage => "triage",
            Role::Se => "se",
            Role::Cm => "cm",
            Role::Arbitrator => "arbitrator",
            Role::Leader => "leader",
        }
    }

    /// How the role is written for people (lists, mail).
    pub fn title(self) -> &'static str {
        match self {
            Role::Assurer => "Assurer",
            Role::Triage => "Triage",
            Role::Se => "Support Engineer",
            Role::Cm => "Case Manager",
            Role::Arbitrator => "Arbitrator",
            Role::Leader => "Team Leader",
        }
    }

    /// The position in the pipeline (Assurer 0 … Arbitrator 4); `None` for `leader`.
    pub fn rank(self) -> Option<usize> {
        Role::ALL[..5].iter().position(|r| *r == self)
    }

    pub fn is_pipeline(self) -> bool {
        self != Role::Leader
    }

    /// Every role's name, for messages listing the valid ones.
    pub fn names() -> Vec<String> {
        Role::ALL.iter().map(|r| r.name().to_owned()).collect()
    }

    /// The role as the mail templates know it (`leader` has no welcome pack of its own).
    pub fn mail_role(self) -> Option<crate::templates::Role> {
        use crate::templates::Role as Mail;
        Some(match self {
            Role::Assurer => Mail::Assurer,
            Role::Triage => Mail::Triage,
            Role::Se => Mail::Se,
            Role::Cm => Mail::Cm,
            Role::Arbitrator => Mail::Arbitrator,
            Role::Leader => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Role {
    type Err = Unknown;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase();
        let alias = match key.as_str() {
            "support-engineer" => "se",
            "case-manager" => "cm",
            "team-leader" => "leader",
            other => other,
        };
        Role::ALL
            .into_iter()
            .find(|r| r.name() == alias)
            .ok_or_else(|| Unknown::new("role", s, Role::names()))
    }
}
