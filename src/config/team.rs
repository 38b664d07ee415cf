//! The `[team]` table: where the roles and checklists files are (the shipped ones when absent), the
//! Triage term, how long a ping may go unanswered, and the roles that need two available members.
//!
//! Owns reading these keys only. Whether a role named in `critical_roles` exists, and what the files
//! say, is checked by the team room (`team::check`), which knows the roles.

use std::path::PathBuf;
use std::time::Duration;

use super::value::Table;

/// The team settings.
#[derive(Debug, Clone)]
pub struct TeamConfig {
    /// Overrides the shipped roles file (the preconditions of each role).
    pub roles_file: Option<PathBuf>,
    /// Overrides the shipped checklists file (Welcome, Start, New SE).
    pub checklists_file: Option<PathBuf>,
    /// The term served as Triage before SE.
    pub triage_term: Duration,
    /// A member whose latest ping is unanswered this long is unresponsive.
    pub ping_grace: Duration,
    /// Role names (as the roles file writes them) that need two responsive active members.
    pub critical_roles: Vec<String>,
    /// A retired member's rights still granted this long after the retirement raise an alert.
    pub revoke_within: Duration,
}

impl Default for TeamConfig {
    fn default() -> Self {
        TeamConfig {
            roles_file: None,
            checklists_file: None,
            triage_term: Duration::from_secs(90 * 86_400),
            ping_grace: Duration::from_secs(14 * 86_400),
            critical_roles: vec!["triage".to_owned(), "se".to_owned()],
            revoke_within: Duration::from_secs(86_400),
        }
    }
}

pub(super) fn read_team(mut t: Table<'_>) -> TeamConfig {
    let roles_file = t.existing_file("roles_file");
    let checklists_file = t.existing_file("checklists_file");
    let triage_term = t.duration_or("triage_term", "90d");
    let ping_grace = t.duration_or("ping_grace", "14d");
    let critical_roles = t.strings_or("critical_roles", &["triage", "se"]);
    let revoke_within = t.duration_or("revoke_within", "24h");
    t.finish();
    TeamConfig {
        roles_file,
        checklists_file,
        triage_term,
        ping_grace,
        critical_roles,
        revoke_within,
    }
}
