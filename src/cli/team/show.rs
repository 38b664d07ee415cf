//! What `team show` and `team checklist` print: one person in full (roles with their history, facts
//! with who recorded them, checklists, the last ping, the audit trail), and a person's checklists.

use std::process::ExitCode;

use anyhow::Result;

use super::{Now, open};
use crate::cli::{ConfigArg, os_user};
use crate::outln;
use crate::store::ItemRow;
use crate::team::{Opened, Person, Settings, Shown, date};

/// `2026-11-29 14:05` (UTC) for the audit trail.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The checklists a role opened, and what was ticked at once.
pub(super) fn opened(opened: &[Opened]) {
    for o in opened {
        outln!(
            "opened checklist {} ({} items{})",
            o.title,
            o.items,
            if o.ticked.is_empty() {
                String::new()
            } else {
                format!(", {} ticked already", o.ticked.len())
            }
        );
        for t in &o.ticked {
            outln!("  ticked {t}: {}", t.text);
        }
    }
}

/// One item line: `[x]` done, `[ ]` open, `[-]` closed, with when, by whom, and overdue.
fn item_line(i: &ItemRow, now_ms: i64) -> String {
    let mark = match i.state.as_str() {
        "done" => "[x]",
        "closed" => "[-]",
        _ => "[ ]",
    };
    let mut tail = Vec::new();
    match i.state.as_str() {
        "done" => tail.push(format!("{} by {}", date(i.done_ms), i.done_by)),
        "open" if i.due_ms > 0 && i.due_ms < now_ms => {
            tail.push(format!("OVERDUE since {}", date(i.due_ms)));
        }
        "open" if i.due_ms > 0 => tail.push(format!("due {}", date(i.due_ms))),
        _ => {}
    }
    if !i.note.is_empty() {
        tail.push(i.note.clone());
    }
    let tail = if tail.is_empty() {
        String::new()
    } else {
        format!(" ({})", tail.join("; "))
    };
    format!("{mark} {}/{}: {}{tail}", i.checklist, i.item, i.text)
}

fn items(items: &[ItemRow], now_ms: i64) {
    let mut title = "";
    for i in items {
        if i.title != title {
            title = &i.title;
            outln!("  {title}");
        }
        outln!("    {}", item_line(i, now_ms));
    }
}

/// `team show NAME`.
pub(super) async fn show(arg: &ConfigArg, name: &str, now: Now) -> Result<ExitCode> {
    let (config, store) = open(arg).await?;
    let settings = Settings::new(&config)?;
    let s = crate::team::show(&store, &settings, name, now).await?;
    person(&s);
    facts(&s.person);
    outln!("checklists");
    if s.items.is_empty() {
        outln!("  none");
    }
    items(&s.items, now.timestamp_millis());
    outln!("history");
    for e in &s.events {
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", e.detail)
        };
        outln!(
            "  {}  {}  {}  [{}]{detail}",
            when(e.at_ms),
            e.actor,
            e.action,
            e.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The person's roster entry: addresses, roles with their history, state, timezone, pings.
fn person(s: &Shown) {
    let p = &s.person;
    outln!("{} <{}>", p.name, p.primary());
    let alias = if p.alias.is_empty() { "-" } else { &p.alias };
    outln!("  alias         {alias}");
    outln!("  addresses     {}", p.addresses.join(", "));
    outln!(
        "  role          {} since {}",
        p.role.title(),
        date(p.role_since_ms)
    );
    if let Some(since) = p.leader_since_ms {
        outln!("  leader        since {}", date(since));
    }
    for st in s.stints.iter().filter(|st| st.until_ms > 0) {
        outln!(
            "  earlier       {} {} to {}",
            st.role,
            date(st.since_ms),
            date(st.until_ms)
        );
    }
    outln!(
        "  state         {} since {}",
        p.state.name(),
        date(p.state_since_ms)
    );
    outln!(
        "  timezone      {}",
        if p.tz.is_empty() { "-" } else { &p.tz }
    );
    outln!("  last seen     {}", date(p.last_seen_ms));
    if let Some(ping) = &s.ping {
        let answer = if ping.answered_ms > 0 {
            format!("answered {}", date(ping.answered_ms))
        } else if s.unresponsive {
            "no answer: UNRESPONSIVE".to_owned()
        } else {
            "no answer yet".to_owned()
        };
        outln!("  last ping     {} ({answer})", date(ping.sent_ms));
    }
}

/// The latest value of each fact, when and by whom it was recorded.
fn facts(p: &Person) {
    outln!("facts");
    if p.facts.is_empty() {
        outln!("  none recorded");
    }
    for (fact, row) in &p.facts {
        let value = if row.value.is_empty() {
            String::new()
        } else {
            format!(" = {}", row.value)
        };
        let note = if row.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", row.note)
        };
        outln!(
            "  {fact}{value}: {} by {}{note}",
            date(row.at_ms),
            row.actor
        );
    }
}

/// `team checklist NAME [--done ITEM] [--note NOTE]`.
pub(super) async fn checklist(
    arg: &ConfigArg,
    name: &str,
    done: Option<&str>,
    note: &str,
    now: Now,
) -> Result<ExitCode> {
    let (_, store) = open(arg).await?;
    let view = crate::team::tick(&store, name, done, note, &os_user(), now).await?;
    if let Some(outcome) = &view.outcome {
        for t in &outcome.ticked {
            outln!("ticked {t}: {}", t.text);
        }
        for i in &outcome.already {
            outln!(
                "{}/{} was done already ({} by {})",
                i.checklist,
                i.item,
                date(i.done_ms),
                i.done_by
            );
        }
    }
    outln!("{} <{}>", view.person.name, view.person.primary());
    if view.items.is_empty() {
        outln!("  no checklists");
    }
    items(&view.items, now.timestamp_millis());
    Ok(ExitCode::SUCCESS)
}
