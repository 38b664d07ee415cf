//! Disputes: the filing of an Arbitrated Background Check (ABC) request in the Dispute Resolution
//! Policy's form (§1.4: Claimant, Respondent, Complaint, Relief), checked part by part before it is
//! rendered, and the stages a dispute then goes through on its way to Arbitration (`stage`).
//!
//! Owns the rules of a complete filing; rendering is `templates`, sending is `outbox`. A filing with a
//! part missing is refused with that part named, and nothing is queued.
//!
//! A filing queued is recorded as a dispute (`received`, and `forwarded` when its copy goes to the
//! list); following it further is `records::bridge`.

mod stage;

pub use self::stage::Stage;

use lettre::message::Mailbox;

use crate::config::DisputesConfig;
use crate::templates::{AbcFiling, Role};

/// The Security Policy clause an ABC is asked under by default ("ABC is to be done on every individual
/// in a critical role").
pub const DEFAULT_CLAUSE: &str = "9.1.4.2";

/// What the team leader gives for an ABC filing; every part is checked by [`abc_filing`].
#[derive(Debug, Clone, Default)]
pub struct AbcRequest {
    /// The candidate, `Name <addr>`: the Respondent.
    pub candidate: Option<Mailbox>,
    /// The name the candidate is known by in the community.
    pub alias: Option<String>,
    pub current_role: Option<Role>,
    pub proposed_role: Option<Role>,
    /// The Claimant; `[disputes] claimant` when absent.
    pub claimant: Option<Mailbox>,
    /// The Security Policy clause; [`DEFAULT_CLAUSE`] when absent.
    pub clause: Option<String>,
}

/// A filing that lacks a part the policy requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ABC filing is incomplete: {part} is missing")]
pub struct MissingPart {
    /// The part, as the policy names it (`Respondent (the candidate's address)`, `Relief`).
    pub part: String,
}

fn missing(part: &str) -> MissingPart {
    MissingPart {
        part: part.to_owned(),
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|v| !v.is_empty())
}

/// Checks every part of the request and builds the filing's context.
pub fn abc_filing(req: &AbcRequest, config: &DisputesConfig) -> Result<AbcFiling, MissingPart> {
    let claimant = req.claimant.as_ref().unwrap_or(&config.claimant);
    let claimant_name =
        non_empty(claimant.name.as_deref()).ok_or_else(|| missing("Claimant (a name)"))?;
    let candidate = req
        .candidate
        .as_ref()
        .ok_or_else(|| missing("Respondent (the candidate)"))?;
    let candidate_name = non_empty(candidate.name.as_deref())
        .ok_or_else(|| missing("Respondent's name (--candidate \"NAME <ADDR>\")"))?;
    let alias = non_empty(req.alias.as_deref()).ok_or_else(|| missing("candidate's alias"))?;
    let current = req
        .current_role
        .ok_or_else(|| missing("candidate's current role"))?;
    let proposed = req
        .proposed_role
        .ok_or_else(|| missing("proposed role (the Relief asks for it)"))?;
    let clause = match &req.clause {
        None => DEFAULT_CLAUSE.to_owned(),
        Some(c) => non_empty(Some(c)).ok_or_else(|| missing("Security Policy clause"))?,
    };
    let complaint = format!("ABC Request over {candidate_name}");
    let relief = format!("An Arbitrated Background Check over {candidate_name}");
    Ok(AbcFiling {
        disputes_address: config.address.to_string(),
        claimant: claimant.to_string(),
        claimant_name,
        respondent: candidate.to_string(),
        candidate_address: candidate.email.to_string(),
        candidate_name,
        candidate_alias: alias,
        current_role: current.title().to_owned(),
        proposed_role: proposed.title().to_owned(),
        clause,
        complaint,
        relief,
    })
}

/// A filing queued, and the roster member it is about.
#[derive(Debug, Clone)]
pub struct Filed {
    pub queued: crate::outbox::Queued,
    /// The candidate's name on the roster, when they are on it: an ABC pending is recorded for them.
    pub member: Option<String>,
}

/// Queues the rendered filing `mail` about `candidate` (copied to `[disputes] list` when `[disputes]
/// forward` is on), records it as a dispute for the bridge to follow and, when the candidate is on the
/// roster, records an ABC pending on them (`abc = pending`, noting the filing), in one transaction.
pub async fn queue_filing(
    store: &crate::store::Store,
    outbox: &crate::outbox::Outbox,
    config: &DisputesConfig,
    mail: &crate::templates::RenderedMail,
    candidate: &Mailbox,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Filed> {
    let mut mail = mail.clone();
    let forward = match (&config.list, config.forward) {
        (Some(list), true) => {
            if !mail
                .to
                .iter()
                .chain(&mail.cc)
                .any(|m| m.email == list.email)
            {
                mail.cc.push(list.clone());
            }
            true
        }
        _ => false,
    };
    let mut tx = store.begin().await?;
    let queued = outbox
        .enqueue_in(&mut tx, &mail, "cli:dispute abc", now)
        .await?;
    record_filing_in(
        &mut tx,
        &queued.message_id,
        forward && queued.held.is_none(),
        now,
    )
    .await?;
    let person = crate::team::by_address_in(&mut tx, candidate.email.as_ref()).await?;
    if let Some(p) = &person {
        let note = format!(
            "ABC filing queued as outbox {} {}",
            queued.id, queued.message_id
        );
        crate::team::record_fact_in(
            &mut tx,
            p,
            crate::team::Fact::ABC,
            "pending",
            &note,
            actor,
            now,
        )
        .await?;
    }
    anyhow::Context::context(tx.commit().await, "commit the filing")?;
    Ok(Filed {
        queued,
        member: person.map(|p| p.name),
    })
}

/// Records a queued filing as a dispute, `forwarded` at once when its copy went to the list; each stage
/// with its audit event (subject `dispute:<id>`).
async fn record_filing_in(
    tx: &mut crate::store::Tx,
    message_id: &str,
    forwarded: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<i64> {
    use crate::store::{DisputeMark, NewDispute, NewEvent, Store};
    let at_ms = now.timestamp_millis();
    let message_id = message_id.trim().trim_matches(['<', '>']);
    let (id, _) = Store::dispute_insert_in(
        tx,
        &NewDispute {
            message_id,
            origin: "filing",
            ticket: "",
            received_ms: at_ms,
        },
    )
    .await?;
    let subject = format!("dispute:{id}");
    let mut actions = vec![("dispute-received", "cli:dispute abc")];
    if forwarded && Store::dispute_mark_in(tx, id, DisputeMark::Forwarded, at_ms, "outbox").await? {
        actions.push(("dispute-forwarded", "outbox"));
    }
    for (action, reason) in actions {
        let event = NewEvent {
            at_ms,
            actor: "cli",
            subject: &subject,
            action,
            reason,
            detail: "",
        };
        Store::record_event_in(tx, &event).await?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> anyhow::Result<DisputesConfig> {
        Ok(DisputesConfig {
            address: "Support <support@example.org>".parse()?,
            claimant: "Team Leader <stl@example.org>".parse()?,
            buckets: Vec::new(),
            list: None,
            forward: false,
            arbitration_addresses: Vec::new(),
            escalate_after: crate::config::EscalateAfter {
                received: std::time::Duration::from_secs(7 * 86_400),
                forwarded: std::time::Duration::from_secs(86_400),
                on_list: std::time::Duration::from_secs(7 * 86_400),
            },
        })
    }

    fn full() -> anyhow::Result<AbcRequest> {
        Ok(AbcRequest {
            candidate: Some("Santa Claus <presents@example.org>".parse()?),
            alias: Some("St Nick".to_owned()),
            current_role: Some(Role::Triage),
            proposed_role: Some(Role::Se),
            claimant: None,
            clause: None,
        })
    }

    #[test]
    fn a_complete_request_names_all_four_parts() -> anyhow::Result<()> {
        let filing = abc_filing(&full()?, &config()?)?;
        assert_eq!(filing.claimant, "Team Leader <stl@example.org>");
        assert_eq!(filing.respondent, "Santa Claus <presents@example.org>");
        assert_eq!(filing.complaint, "ABC Request over Santa Claus");
        assert_eq!(
            filing.relief,
            "An Arbitrated Background Check over Santa Claus"
        );
        assert_eq!(filing.proposed_role, "Support Engineer");
        assert_eq!(filing.clause, "9.1.4.2");
        assert_eq!(filing.current_role, "Triage");
        Ok(())
    }

    #[test]
    fn each_missing_part_is_named() -> anyhow::Result<()> {
        let cases: Vec<(AbcRequest, &str)> = vec![
            (
                AbcRequest {
                    candidate: None,
                    ..full()?
                },
                "Respondent (the candidate)",
            ),
            (
                AbcRequest {
                    candidate: Some("presents@example.org".parse()?),
                    ..full()?
                },
                "Respondent's name",
            ),
            (
                AbcRequest {
                    alias: Some("  ".to_owned()),
                    ..full()?
                },
                "alias",
            ),
            (
                AbcRequest {
                    current_role: None,
                    ..full()?
                },
                "current role",
            ),
            (
                AbcRequest {
                    proposed_role: None,
                    ..full()?
                },
                "proposed role",
            ),
            (
                AbcRequest {
                    clause: Some(String::new()),
                    ..full()?
                },
                "Security Policy clause",
            ),
            (
                AbcRequest {
                    claimant: Some("stl@example.org".parse()?),
                    ..full()?
                },
                "Claimant",
            ),
        ];
        for (req, part) in cases {
            let err = abc_filing(&req, &config()?).err().map(|e| e.part);
            assert!(
                err.as_deref().is_some_and(|p| p.contains(part)),
                "expected {part:?} missing, got {err:?}"
            );
        }
        Ok(())
    }
}
