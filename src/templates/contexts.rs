//! The typed contexts the shipped templates render from, one per kind of mail, and their sample data
//! for `triaged check` and the golden tests.
//!
//! Owns what each template may refer to; building a context from user input (and refusing a filing
//! with a missing part) belongs to the callers (`disputes`, `outbox::cli`).

use lettre::message::Mailbox;
use serde::Serialize;

/// A context that knows which template renders it.
pub trait MailContext: Serialize {
    /// The template's name (`welcome-triage`).
    fn template(&self) -> &'static str;
}

/// A role in the team's pipeline: Assurer → Triage → Support Engineer → Case Manager → Arbitrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Assurer,
    Triage,
    Se,
    Cm,
    Arbitrator,
}

impl Role {
    /// How the role is written in mail.
    pub fn title(self) -> &'static str {
        match self {
            Role::Assurer => "Assurer",
            Role::Triage => "Triage",
            Role::Se => "Support Engineer",
            Role::Cm => "Case Manager",
            Role::Arbitrator => "Arbitrator",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "assurer" => Role::Assurer,
            "triage" => Role::Triage,
            "se" | "support-engineer" => Role::Se,
            "cm" | "case-manager" => Role::Cm,
            "arbitrator" => Role::Arbitrator,
            _ => {
                return Err(format!(
                    "{s:?} is not a role (assurer, triage, se, cm, arbitrator)"
                ));
            }
        })
    }
}

/// The name to greet someone by: the display name, else the address's local part.
pub fn first_name(mailbox: &Mailbox) -> String {
    match mailbox.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => mailbox.email.user().to_owned(),
    }
}

/// A welcome pack for a new Triage volunteer (`welcome-triage`) or Support Engineer (`welcome-se`).
#[derive(Debug, Clone, Serialize)]
pub struct Welcome {
    #[serde(skip)]
    pub role: Role,
    /// The newcomer, `Name <addr>`.
    pub recipient: String,
    pub name: String,
    /// Who signs the mail (the team leader, `[disputes] claimant`).
    pub team_leader: String,
    /// The team's address (`[outbox] from`).
    pub team_address: String,
}

impl Welcome {
    pub fn new(role: Role, to: &Mailbox, team_leader: &Mailbox, team: &Mailbox) -> Welcome {
        Welcome {
            role,
            recipient: to.to_string(),
            name: first_name(to),
            team_leader: first_name(team_leader),
            team_address: team.email.to_string(),
        }
    }
}

impl MailContext for Welcome {
    fn template(&self) -> &'static str {
        match self.role {
            Role::Se => "welcome-se",
            _ => "welcome-triage",
        }
    }
}

/// A dispute filing asking Arbitration for an Arbitrated Background Check, in the Dispute Resolution
/// Policy's form (Claimant, Respondent, Complaint, Relief). Built and checked by `disputes`.
#[derive(Debug, Clone, Serialize)]
pub struct AbcFiling {
    /// Where filings go (`[disputes] address`).
    pub disputes_address: String,
    /// `Name <addr>` of the Claimant, and the name alone.
    pub claimant: String,
    pub claimant_name: String,
    /// The Respondent: the candidate, `Name <addr>`.
    pub respondent: String,
    pub candidate_name: String,
    pub candidate_alias: String,
    pub candidate_address: String,
    pub current_role: String,
    pub proposed_role: String,
    /// The Security Policy clause the check is asked under (9.1.4.2).
    pub clause: String,
    /// "ABC Request over NAME".
    pub complaint: String,
    /// What the Claimant asks the Arbitrator for.
    pub relief: String,
}

impl MailContext for AbcFiling {
    fn template(&self) -> &'static str {
        "abc-filing"
    }
}

/// An acknowledgement of receipt for a message sent to the team.
#[derive(Debug, Clone, Serialize)]
pub struct Ack {
    /// Who is acknowledged, `Name <addr>`.
    pub requester: String,
    pub requester_name: String,
    /// The support ticket number, `sYYYYMMDD.NNN`.
    pub ticket: String,
    /// The acknowledged message's subject (decoded), or "(no subject)".
    pub original_subject: String,
    /// When the message arrived, as written in the reply (`2026-11-28 19:45 UTC`).
    pub received: String,
    pub team_address: String,
}

impl MailContext for Ack {
    fn template(&self) -> &'static str {
        "ack"
    }
}

/// A notice that someone hands a role and its assets over to someone else.
#[derive(Debug, Clone, Serialize)]
pub struct HandoverNotice {
    /// Who is told, `Name <addr>` (the team list, the incoming member).
    pub recipient: String,
    pub recipient_name: String,
    pub outgoing: String,
    pub incoming: String,
    pub role: String,
    /// The assets changing hands (the support@ mailbox, ticket-system admin, ...).
    pub assets: Vec<String>,
    /// When the handover takes effect (`2026-12-01`).
    pub effective: String,
}

impl MailContext for HandoverNotice {
    fn template(&self) -> &'static str {
        "handover-notice"
    }
}

/// An individual ping to a member on the roster, asking them to confirm they are still with the team
/// ("send an individual ping to everyone listed to confirm participation and aliveness"). Their reply,
/// which names this mail in In-Reply-To or References, marks them alive.
#[derive(Debug, Clone, Serialize)]
pub struct Ping {
    /// The member, `Name <addr>`.
    pub recipient: String,
    pub name: String,
    /// The role they hold, as written for people (`Support Engineer`).
    pub role: String,
    /// Who signs the mail (the team leader, `[disputes] claimant`).
    pub team_leader: String,
    /// The team's address (`[outbox] from`).
    pub team_address: String,
    /// How long a member may stay silent before being listed as unresponsive (`14 days`).
    pub reply_within: String,
}

impl MailContext for Ping {
    fn template(&self) -> &'static str {
        "ping"
    }
}

/// The escalation of a dispute stuck in one stage, to the team leader.
#[derive(Debug, Clone, Serialize)]
pub struct DisputeEscalation {
    /// The team leader, `Name <addr>`.
    pub recipient: String,
    pub name: String,
    /// How the dispute is known: its ticket, else its first Message-ID.
    pub dispute: String,
    /// The stage it waits in, as people read it (`forwarded to the list`).
    pub stage: String,
    /// When it was received and when it reached the stage (`2026-11-30 09:15 UTC`).
    pub received: String,
    pub since: String,
    /// How long it has waited, and the limit for the stage (`2 days`, `1 day`).
    pub waited: String,
    pub limit: String,
    /// What is missing, in a sentence.
    pub next_step: String,
    /// The arbitration case number, empty when none is known.
    pub case: String,
    /// The first message's Message-ID, without angle brackets.
    pub message_id: String,
    /// The team's address (`[outbox] from`).
    pub team_address: String,
}

impl MailContext for DisputeEscalation {
    fn template(&self) -> &'static str {
        "dispute-escalation"
    }
}

/// Sample data for every template, by template name, for `triaged check` and the golden files.
pub fn sample_contexts() -> Vec<(&'static str, serde_json::Value)> {
    let mut out = Vec::new();
    let mut push = |name: &'static str, value: Result<serde_json::Value, serde_json::Error>| {
        out.push((name, value.unwrap_or_default()));
    };
    for role in [Role::Triage, Role::Se] {
        let ctx = Welcome {
            role,
            recipient: "Santa Claus <presents@example.org>".to_owned(),
            name: "Santa Claus".to_owned(),
            team_leader: "Team Leader".to_owned(),
            team_address: "support@example.org".to_owned(),
        };
        push(ctx.template(), serde_json::to_value(&ctx));
    }
    let filing = AbcFiling {
        disputes_address: "support@example.org".to_owned(),
        claimant: "Team Leader <stl@example.org>".to_owned(),
        claimant_name: "Team Leader".to_owned(),
        respondent: "Santa Claus <presents@example.org>".to_owned(),
        candidate_name: "Santa Claus".to_owned(),
        candidate_alias: "St Nick".to_owned(),
        candidate_address: "presents@example.org".to_owned(),
        current_role: Role::Triage.title().to_owned(),
        proposed_role: Role::Se.title().to_owned(),
        clause: "9.1.4.2".to_owned(),
        complaint: "ABC Request over Santa Claus".to_owned(),
        relief: "An Arbitrated Background Check over Santa Claus".to_owned(),
    };
    push("abc-filing", serde_json::to_value(&filing));
    let ack = Ack {
        requester: "Alice Example <alice@example.net>".to_owned(),
        requester_name: "Alice Example".to_owned(),
        ticket: "s20261128.001".to_owned(),
        original_subject: "I cannot log in with my client certificate".to_owned(),
        received: "2026-11-28 19:45 UTC".to_owned(),
        team_address: "support@example.org".to_owned(),
    };
    push("ack", serde_json::to_value(&ack));
    let handover = HandoverNotice {
        recipient: "Support Team <support-team@example.org>".to_owned(),
        recipient_name: "Support Team".to_owned(),
        outgoing: "Michael".to_owned(),
        incoming: "Werner".to_owned(),
        role: "Support Team Leader".to_owned(),
        assets: vec![
            "the support@ mailbox (IMAP access rights)".to_owned(),
            "ticket-system administration".to_owned(),
            "wiki administration of the Support Engineer pages".to_owned(),
        ],
        effective: "2026-12-01".to_owned(),
    };
    push("handover-notice", serde_json::to_value(&handover));
    let ping = Ping {
        recipient: "Santa Claus <presents@example.org>".to_owned(),
        name: "Santa Claus".to_owned(),
        role: Role::Triage.title().to_owned(),
        team_leader: "Team Leader".to_owned(),
        team_address: "support@example.org".to_owned(),
        reply_within: "14 days".to_owned(),
    };
    push("ping", serde_json::to_value(&ping));
    let escalation = DisputeEscalation {
        recipient: "Team Leader <stl@example.org>".to_owned(),
        name: "Team Leader".to_owned(),
        dispute: "s20261130.004".to_owned(),
        stage: "forwarded to the list".to_owned(),
        received: "2026-11-30 09:15 UTC".to_owned(),
        since: "2026-11-30 09:16 UTC".to_owned(),
        waited: "2 days".to_owned(),
        limit: "1 day".to_owned(),
        next_step: "Its copy from the arbitration list has not come back: check that the list \
                    received it."
            .to_owned(),
        case: String::new(),
        message_id: "1764494100000.5f0c@example.org".to_owned(),
        team_address: "support@example.org".to_owned(),
    };
    push("dispute-escalation", serde_json::to_value(&escalation));
    out
}
