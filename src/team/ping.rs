//! Aliveness pings. `team ping` queues one individual mail per active member through the outbox (the
//! `ping` template), all in one transaction, and records each ping's Message-ID. The worker hands every
//! batch of classified messages to [`note_ping_replies`] inside the verdicts' transaction: a message
//! whose In-Reply-To or References names a ping marks that member seen (`last_seen`), while the message
//! itself is sorted by the rules as usual. Automatic answers (vacation notices, bounces) do not count.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

use super::roster::Roster;
use super::{Ev, Role, Settings, days, event_in};
use crate::message::MessageInfo;
use crate::outbox::Outbox;
use crate::store::{NewEvent, NewPing, Store, Tx};
use crate::templates::{Ping, Templates, first_name};

/// One ping queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinged {
    pub name: String,
    pub address: String,
    pub outbox_id: i64,
    /// With angle brackets, as the mail carries it.
    pub message_id: String,
    /// Why the mail is held instead of queued (a certificate missing for `encrypt = "always"`).
    pub held: Option<String>,
}

/// `team ping [--role R]`: one individual mail per active member (holding `role`, when given).
#[allow(clippy::too_many_arguments)]
pub async fn ping(
    store: &Store,
    outbox: &Outbox,
    templates: &Templates,
    settings: &Settings,
    role: Option<Role>,
    leader: &Mailbox,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Pinged>> {
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    let mut out = Vec::new();
    for person in roster
        .people
        .iter()
        .filter(|p| p.is_active() && role.is_none_or(|r| p.has(r)))
    {
        let to = person.mailbox()?;
        let ctx = Ping {
            recipient: to.to_string(),
            name: person.name.clone(),
            role: person
                .roles()
                .iter()
                .map(|r| r.title())
                .collect::<Vec<_>>()
                .join(", "),
            team_leader: first_name(leader),
            team_address: outbox.config().from.email.to_string(),
            reply_within: days(settings.ping_grace),
        };
        let mail = templates.render(&ctx)?;
        let queued = outbox
            .enqueue_in(&mut tx, &mail, "cli:team ping", now)
            .await?;
        let bare = bare_id(&queued.message_id);
        let ping = NewPing {
            person_id: person.id,
            outbox_id: queued.id,
            message_id: &bare,
            address: person.primary(),
            sent_ms: now.timestamp_millis(),
        };
        Store::team_insert_ping_in(&mut tx, &ping).await?;
        let detail = format!("outbox {} {}", queued.id, queued.message_id);
        let ev = Ev {
            actor,
            action: "pinged",
            reason: "team ping",
            detail: &detail,
        };
        event_in(&mut tx, person, ev, now).await?;
        out.push(Pinged {
            name: person.name.clone(),
            address: person.primary().to_owned(),
            outbox_id: queued.id,
            message_id: queued.message_id,
            held: queued.held,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// A Message-ID without its angle brackets.
fn bare_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// An automatic message (RFC 3834 `Auto-Submitted` other than `no`, a delivery report, a bounce): it
/// proves nobody is there.
fn automatic(info: &MessageInfo) -> bool {
    let auto = info
        .auto_submitted
        .as_deref()
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| !t.trim().eq_ignore_ascii_case("no"));
    let daemon = info.return_path.as_deref().is_some_and(|r| {
        r.trim().is_empty() || r.to_ascii_lowercase().starts_with("mailer-daemon")
    });
    auto || info.report || daemon
}

/// Marks seen every member whose ping one of `messages` answers (In-Reply-To or References names the
/// ping), inside the caller's transaction (the worker's verdicts); records `ping-answered`. A reply
/// already counted is not counted again. Returns how many pings were answered.
pub async fn note_ping_replies<'a>(
    tx: &mut Tx,
    messages: impl IntoIterator<Item = &'a MessageInfo>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let replies: Vec<&MessageInfo> = messages
        .into_iter()
        .filter(|m| !m.in_reply_to.is_empty() || !m.references.is_empty())
        .filter(|m| !automatic(m))
        .collect();
    let named: BTreeSet<String> = replies
        .iter()
        .flat_map(|m| m.in_reply_to.iter().chain(&m.references))
        .map(|id| bare_id(id))
        .collect();
    if named.is_empty() {
        return Ok(0);
    }
    let named: Vec<String> = named.into_iter().collect();
    let pings = Store::team_pings_named_in(tx, &named).await?;
    let mut answered = 0;
    for reply in replies {
        let reply_id = reply.message_id.as_deref().unwrap_or("");
        let names: BTreeSet<String> = reply
            .in_reply_to
            .iter()
            .chain(&reply.references)
            .map(|id| bare_id(id))
            .collect();
        for m in pings.iter().filter(|m| names.contains(&m.ping.message_id)) {
            if !reply_id.is_empty() && m.ping.answered_by == reply_id {
                continue;
            }
            Store::team_answer_ping_in(
                tx,
                m.ping.id,
                m.ping.person_id,
                reply_id,
                now.timestamp_millis(),
            )
            .await?;
            let subject = format!("person:{}", m.primary);
            let reason = format!("reply <{reply_id}>");
            let detail = format!(
                "from {} to the ping <{}>",
                reply.from.as_deref().unwrap_or("(no From)"),
                m.ping.message_id
            );
            let event = NewEvent {
                at_ms: now.timestamp_millis(),
                actor: "worker",
                subject: &subject,
                action: "ping-answered",
                reason: &reason,
                detail: &detail,
            };
            Store::record_event_in(tx, &event).await?;
            tracing::info!(person = %m.primary, reply = %reply_id, "ping answered");
            answered += 1;
        }
    }
    Ok(answered)
}
