//! The roster as `team list` prints it: a text table with the team's health below it (thin roles,
//! unresponsive members, overdue items, certificates near expiry, timezone coverage), JSON, or the
//! table for the team's wiki page in markdown or MoinMoin. The wiki tables leave addresses out: the
//! page is read by more people than the team.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Offset as _, Utc};
use serde_json::json;

use super::health::Health;
use super::roster::{Person, Roster};
use super::{Invalid, Role, State, date};

/// How `team list` writes the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Moin,
}

impl std::str::FromStr for Format {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "markdown" | "md" => Format::Markdown,
            "moin" | "moinmoin" => Format::Moin,
            other => {
                return Err(Invalid(format!(
                    "{other:?} is not a format (text, json, markdown, moin)"
                )));
            }
        })
    }
}

/// Which people `team list` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only those holding this role.
    pub role: Option<Role>,
    /// Retired people too.
    pub all: bool,
}

/// The people `filter` selects: the leader first, then down the pipeline, then by name.
fn selected<'a>(roster: &'a Roster, filter: &Filter) -> Vec<&'a Person> {
    let mut people: Vec<&Person> = roster
        .people
        .iter()
        .filter(|p| filter.all || p.state != State::Retired)
        .filter(|p| filter.role.is_none_or(|r| p.has(r)))
        .collect();
    people.sort_by_key(|p| {
        (
            p.state == State::Retired,
            !p.has(Role::Leader),
            std::cmp::Reverse(p.role.rank()),
            p.name.to_lowercase(),
        )
    });
    people
}

fn role_titles(p: &Person) -> String {
    p.roles()
        .iter()
        .map(|r| r.title())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders the roster.
pub fn render(
    roster: &Roster,
    health: &Health,
    filter: &Filter,
    format: Format,
    now: DateTime<Utc>,
) -> Result<String> {
    let people = selected(roster, filter);
    Ok(match format {
        Format::Text => text(&people, health, now),
        Format::Json => serde_json::to_string_pretty(&to_json(&people, health, now))? + "\n",
        Format::Markdown => wiki(
            &people,
            "| ",
            " | ",
            " |",
            Some("|---|---|---|---|---|---|"),
        ),
        Format::Moin => wiki(&people, "||", "||", "||", None),
    })
}

/// The wiki table: one row per person, the header in bold for MoinMoin.
fn wiki(people: &[&Person], open: &str, sep: &str, close: &str, rule: Option<&str>) -> String {
    let header = ["Name", "Alias", "Role", "Since", "Timezone", "State"];
    let moin = rule.is_none();
    let cell = |s: &str| {
        let s = s.replace(['\r', '\n'], " ");
        if moin && s.is_empty() {
            // `||||` would span two columns in MoinMoin: an empty cell holds a space.
            " ".to_owned()
        } else if moin {
            s.replace('|', "¦")
        } else {
            s.replace('|', "\\|")
        }
    };
    let mut out = String::new();
    let head: Vec<String> = header
        .iter()
        .map(|h| {
            if moin {
                format!("'''{h}'''")
            } else {
                (*h).to_owned()
            }
        })
        .collect();
    out.push_str(&format!("{open}{}{close}\n", head.join(sep)));
    if let Some(rule) = rule {
        out.push_str(rule);
        out.push('\n');
    }
    for p in people {
        let row = [
            cell(&p.name),
            cell(&p.alias),
            role_titles(p),
            date(p.role_since_ms),
            cell(&p.tz),
            p.state.name().to_owned(),
        ];
        out.push_str(&format!("{open}{}{close}\n", row.join(sep)));
    }
    out
}

fn notes(p: &Person, health: &Health, now: DateTime<Utc>) -> String {
    let mut notes = Vec::new();
    if let Some(u) = health.unresponsive.iter().find(|u| u.person_id == p.id) {
        notes.push(format!("unresponsive (pinged {})", date(u.pinged_ms)));
    }
    match health.overdue_of(p.id) {
        0 => {}
        n => notes.push(format!("{n} overdue")),
    }
    for e in health.expiring.iter().filter(|e| e.person_id == p.id) {
        notes.push(format!("{} certificate {}", e.scheme, e.when(now)));
    }
    notes.join("; ")
}

fn text(people: &[&Person], health: &Health, now: DateTime<Utc>) -> String {
    let mut rows = vec![
        [
            "NAME",
            "ALIAS",
            "ADDRESS",
            "ROLE",
            "SINCE",
            "STATE",
            "TZ",
            "LAST SEEN",
            "NOTES",
        ]
        .map(str::to_owned),
    ];
    for p in people {
        let roles: Vec<&str> = p.roles().iter().map(|r| r.name()).collect();
        rows.push([
            p.name.clone(),
            p.alias.clone(),
            p.primary().to_owned(),
            roles.join("+"),
            date(p.role_since_ms),
            p.state.name().to_owned(),
            p.tz.clone(),
            date(p.last_seen_ms),
            notes(p, health, now),
        ]);
    }
    let mut widths = [0usize; 9];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, w) in row.iter().zip(widths) {
            line.push_str(&format!("{c:<w$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&summary(people, health, now));
    out
}

/// The lines under the text table: what needs attention, and where the team's members are.
fn summary(people: &[&Person], health: &Health, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for w in health.warnings() {
        out.push_str(&format!("warning: {w}\n"));
    }
    for u in &health.unresponsive {
        out.push_str(&format!(
            "unresponsive: {} (pinged {}, silent past {})\n",
            u.name,
            date(u.pinged_ms),
            super::days(health.grace)
        ));
    }
    for o in &health.overdue {
        out.push_str(&format!(
            "overdue: {}: {}/{} {:?} (due {})\n",
            o.name,
            o.checklist,
            o.item,
            o.text,
            date(o.due_ms)
        ));
    }
    for e in &health.expiring {
        out.push_str(&format!(
            "certificate: {}: {} {} {} (renew it, or have them send signed mail with the new one)\n",
            e.name,
            e.scheme,
            e.fingerprint,
            e.when(now)
        ));
    }
    let mut offsets: BTreeMap<String, usize> = BTreeMap::new();
    for p in people.iter().filter(|p| p.is_active()) {
        let key = match p.tz.parse::<chrono_tz::Tz>() {
            Ok(tz) => format!("UTC{}", now.with_timezone(&tz).offset().fix()),
            Err(_) => "unknown".to_owned(),
        };
        *offsets.entry(key).or_default() += 1;
    }
    if !offsets.is_empty() {
        let parts: Vec<String> = offsets.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!("coverage: {}\n", parts.join(", ")));
    }
    out
}

fn to_json(people: &[&Person], health: &Health, now: DateTime<Utc>) -> serde_json::Value {
    let members: Vec<serde_json::Value> = people
        .iter()
        .map(|p| {
            let overdue: Vec<serde_json::Value> = health
                .overdue
                .iter()
                .filter(|o| o.person_id == p.id)
                .map(|o| json!({"checklist": o.checklist, "item": o.item, "text": o.text, "due": date(o.due_ms)}))
                .collect();
            let expiring: Vec<serde_json::Value> = health
                .expiring
                .iter()
                .filter(|e| e.person_id == p.id)
                .map(|e| json!({"scheme": e.scheme, "fingerprint": e.fingerprint, "not_after": date(e.not_after_ms), "expired": e.not_after_ms < now.timestamp_millis()}))
                .collect();
            json!({
                "name": p.name,
                "alias": p.alias,
                "addresses": p.addresses,
                "roles": p.roles().iter().map(|r| r.name()).collect::<Vec<_>>(),
                "since": date(p.role_since_ms),
                "leader_since": p.leader_since_ms.map(date),
                "state": p.state.name(),
                "tz": p.tz,
                "last_seen": (p.last_seen_ms > 0).then(|| date(p.last_seen_ms)),
                "unresponsive": health.is_unresponsive(p.id),
                "overdue": overdue,
                "certificates_expiring": expiring,
            })
        })
        .collect();
    let roles: Vec<serde_json::Value> = health
        .roles
        .iter()
        .map(|r| {
            json!({"role": r.role.name(), "active": r.active, "responsive": r.responsive,
                   "critical": r.critical, "thin": r.thin()})
        })
        .collect();
    json!({"members": members, "roles": roles, "warnings": health.warnings()})
}
