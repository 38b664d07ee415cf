//! The report as a sequence of headings, paragraphs, tables and charts, the same for every form: text,
//! markdown and HTML only lay these blocks out, so they can never say different things.
//!
//! Owns the wording and order of the report and how figures are written (`1h 05m`, `12.5%`).

use std::time::Duration;

use super::TeamReport;
use super::chart::{self, MAX_BUCKETS};
use super::figures::{MailFigures, ResponseRow, RosterChange};
use crate::records::stats::Summary;

/// One piece of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Block {
    /// Level 1 is the title, 2 a part, 3 a sub-part.
    Heading(u8, String),
    Para(String),
    Table(Table),
    Chart(Chart),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns to align right (figures); the first column never is.
    pub numeric: Vec<bool>,
}

impl Table {
    fn new(head: &[&str], rows: Vec<Vec<String>>) -> Table {
        let numeric = (0..head.len()).map(|i| i > 0).collect();
        Table {
            head: head.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            numeric,
        }
    }
}

/// Which chart goes here; the forms decide whether to link, embed or leave it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chart {
    Mail,
    Response,
}

impl Chart {
    pub fn file_name(self) -> &'static str {
        match self {
            Chart::Mail => chart::MAIL_CHART_FILE,
            Chart::Response => chart::RESPONSE_CHART_FILE,
        }
    }

    pub fn caption(self) -> &'static str {
        match self {
            Chart::Mail => "Mail per bucket per month",
            Chart::Response => "Response time per month",
        }
    }
}

/// The whole report, title first.
pub(super) fn build(report: &TeamReport) -> Vec<Block> {
    let p = &report.period;
    let mut doc = vec![
        Block::Heading(1, report.title.clone()),
        Block::Para(format!(
            "Period: {} to {}. Generated {}.",
            p.since,
            p.last_day(),
            report.generated.format("%Y-%m-%d %H:%M UTC")
        )),
    ];
    mail(&mut doc, &report.mail);
    response(&mut doc, report);
    disputes(&mut doc, report);
    roster(&mut doc, report);
    handovers(&mut doc, report);
    retention(&mut doc, report);
    doc
}

fn mail(doc: &mut Vec<Block>, mail: &MailFigures) {
    doc.push(Block::Heading(2, "Mail".to_owned()));
    doc.push(Block::Para(format!(
        "{} sorted into {}.",
        count(mail.total, "message"),
        count(mail.buckets.len() as u64, "bucket")
    )));
    doc.push(Block::Chart(Chart::Mail));
    let grouped = mail.grouped(MAX_BUCKETS);
    let mut head: Vec<&str> = vec!["Month"];
    head.extend(grouped.names.iter().map(String::as_str));
    head.push("Total");
    let mut rows: Vec<Vec<String>> = mail
        .months
        .iter()
        .zip(&grouped.counts)
        .map(|(m, counts)| {
            let mut row = vec![m.month.to_string()];
            row.extend(counts.iter().map(u64::to_string));
            row.push(m.total.to_string());
            row
        })
        .collect();
    let mut total_row = vec!["Total".to_owned()];
    for i in 0..grouped.names.len() {
        total_row.push(grouped.counts.iter().map(|c| c[i]).sum::<u64>().to_string());
    }
    total_row.push(mail.total.to_string());
    rows.push(total_row);
    doc.push(Block::Table(Table::new(&head, rows)));
    if !mail.buckets.is_empty() {
        doc.push(Block::Heading(3, "Per bucket".to_owned()));
        let rows = mail
            .buckets
            .iter()
            .map(|b| {
                let n = mail.totals.get(b).copied().unwrap_or(0);
                vec![b.clone(), n.to_string(), percent(n, mail.total)]
            })
            .collect();
        doc.push(Block::Table(Table::new(
            &["Bucket", "Messages", "Share"],
            rows,
        )));
    }
}

fn response(doc: &mut Vec<Block>, report: &TeamReport) {
    let r = &report.response;
    doc.push(Block::Heading(2, "Response times".to_owned()));
    let counted = match &r.business_hours {
        Some(hours) => format!("counted in business hours ({hours})"),
        None => "counted around the clock".to_owned(),
    };
    doc.push(Block::Para(format!(
        "Target: a first reply within {}, {counted}. {}, {} answered, {}.",
        duration(r.target),
        count(r.total.tickets, "ticket"),
        r.total.answered,
        count(r.total.breaches, "breach")
    )));
    doc.push(Block::Chart(Chart::Response));
    let line = |label: String, row: &ResponseRow| {
        vec![
            label,
            row.tickets.to_string(),
            row.answered.to_string(),
            optional(row.median),
            optional(row.p90),
            row.breaches.to_string(),
        ]
    };
    let mut rows: Vec<Vec<String>> = r
        .months
        .iter()
        .map(|m| line(m.month.to_string(), &m.row))
        .collect();
    rows.push(line("Total".to_owned(), &r.total));
    let head = ["Month", "Tickets", "Answered", "Median", "p90", "Breaches"];
    doc.push(Block::Table(Table::new(&head, rows)));
}

fn disputes(doc: &mut Vec<Block>, report: &TeamReport) {
    let d = &report.disputes;
    doc.push(Block::Heading(2, "Disputes".to_owned()));
    let count = |label: &str, n: u64| vec![label.to_owned(), n.to_string()];
    let rows = vec![
        count("Received", d.received),
        count("Forwarded to Arbitration", d.forwarded),
        count("Acknowledged by Arbitration", d.acknowledged),
        count("Escalated to the team leader", d.escalations),
        count("Open at the end", d.open.len() as u64),
    ];
    doc.push(Block::Table(Table::new(&["Disputes", "Count"], rows)));
    let age = |label: &str, s: &Summary| {
        vec![
            label.to_owned(),
            s.count.to_string(),
            optional(s.median),
            optional(s.p90),
        ]
    };
    let rows = vec![
        age("Received to forwarded", &d.to_forward),
        age("Received to acknowledged", &d.to_acknowledge),
    ];
    let head = ["Time taken", "Disputes", "Median", "p90"];
    doc.push(Block::Table(Table::new(&head, rows)));
    doc.push(Block::Heading(3, "Open disputes".to_owned()));
    if d.open.is_empty() {
        doc.push(Block::Para("None.".to_owned()));
        return;
    }
    let rows = d
        .open
        .iter()
        .map(|o| {
            vec![
                o.ticket.clone(),
                o.case.clone().unwrap_or_else(|| "-".to_owned()),
                o.stage.to_string(),
                duration(o.age),
            ]
        })
        .collect();
    let mut table = Table::new(&["Ticket", "Case", "Stage", "Age"], rows);
    table.numeric = vec![false, false, false, true];
    doc.push(Block::Table(table));
}

fn roster(doc: &mut Vec<Block>, report: &TeamReport) {
    let r = &report.roster;
    doc.push(Block::Heading(2, "Roster".to_owned()));
    let counts = r.role_counts();
    let mut rows: Vec<Vec<String>> = counts
        .iter()
        .map(|(role, start, end)| vec![role.clone(), start.to_string(), end.to_string()])
        .collect();
    rows.push(vec![
        "Total".to_owned(),
        r.at_start.len().to_string(),
        r.at_end.len().to_string(),
    ]);
    doc.push(Block::Table(Table::new(
        &["Role", "At the start", "At the end"],
        rows,
    )));
    changes(doc, "Joined", &r.joins, false);
    changes(doc, "Promoted", &r.promotions, true);
    changes(doc, "Left", &r.departures, false);
}

fn changes(doc: &mut Vec<Block>, title: &str, list: &[RosterChange], promotion: bool) {
    doc.push(Block::Heading(3, format!("{title} ({})", list.len())));
    if list.is_empty() {
        doc.push(Block::Para("None.".to_owned()));
        return;
    }
    let rows = list
        .iter()
        .map(|c| {
            let mut row = vec![c.date.to_string(), c.name.clone()];
            if promotion {
                row.push(c.previous.clone().unwrap_or_else(|| "-".to_owned()));
            }
            row.push(c.role.clone());
            row
        })
        .collect();
    let head: &[&str] = if promotion {
        &["Date", "Name", "From", "To"]
    } else {
        &["Date", "Name", "Role"]
    };
    let mut table = Table::new(head, rows);
    table.numeric = vec![false; head.len()];
    doc.push(Block::Table(table));
}

fn handovers(doc: &mut Vec<Block>, report: &TeamReport) {
    let h = &report.handovers;
    doc.push(Block::Heading(2, "Handovers and pings".to_owned()));
    doc.push(Block::Para(format!(
        "{}. {} sent, {} answered.",
        count(h.handovers.len() as u64, "handover"),
        count(h.pings.sent, "aliveness ping"),
        h.pings.answered
    )));
    if h.handovers.is_empty() {
        return;
    }
    let rows = h
        .handovers
        .iter()
        .map(|row| {
            vec![
                row.date.to_string(),
                row.from.clone(),
                row.to.clone().unwrap_or_else(|| "-".to_owned()),
                row.assets.to_string(),
                if row.verified { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    let mut table = Table::new(&["Date", "From", "To", "Assets", "Verified"], rows);
    table.numeric = vec![false, false, false, true, false];
    doc.push(Block::Table(table));
}

fn retention(doc: &mut Vec<Block>, report: &TeamReport) {
    let r = &report.retention;
    doc.push(Block::Heading(2, "Retention".to_owned()));
    doc.push(Block::Para(format!(
        "{} purged under the data retention practice.",
        count(r.total, "message")
    )));
    if r.purged.is_empty() {
        return;
    }
    let mut rows: Vec<Vec<String>> = r
        .purged
        .iter()
        .map(|(bucket, n)| vec![bucket.clone(), n.to_string()])
        .collect();
    rows.push(vec!["Total".to_owned(), r.total.to_string()]);
    doc.push(Block::Table(Table::new(&["Bucket", "Purged"], rows)));
}

/// `1 ticket`, `2 tickets`, `0 breaches`.
fn count(n: u64, noun: &str) -> String {
    match (n, noun.ends_with("ch")) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        (_, false) => format!("{n} {noun}s"),
    }
}

fn percent(n: u64, total: u64) -> String {
    if total == 0 {
        return "0%".to_owned();
    }
    format!("{:.1}%", n as f64 * 100.0 / total as f64)
}

fn optional(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), duration)
}

/// A duration as people read it, in its two largest units: `45s`, `12m`, `1h 05m`, `3d 4h`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{minutes}m"),
        3600..86_400 if minutes == 0 => format!("{hours}h"),
        3600..86_400 => format!("{hours}h {minutes:02}m"),
        _ if hours == 0 => format!("{days}d"),
        _ => format!("{days}d {hours}h"),
    }
}
