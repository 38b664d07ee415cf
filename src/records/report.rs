//! The annual team report: its figures ([`TeamReport`]), built from plain rows by pure functions, and its
//! forms (text, markdown, JSON, one self-contained HTML file), written to a directory with its charts.
//!
//! Owns what the report says and how each form lays it out. The figures are built from plain rows by
//! pure functions and read no clock: callers pass the instant the report is made. `gather` reads those
//! rows from the store (its only reader), so a report over an empty store is all zeros, not an error.

pub mod chart;
mod document;
mod example;
mod figures;
mod gather;
mod html;
mod markdown;
mod text;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::{Serialize, Serializer};

use self::chart::Charts;
pub use self::document::duration as duration_text;
pub use self::example::example;
pub use self::figures::{
    DisputeFigures, DisputeRecord, Grouped, HandoverFigures, HandoverRow, MailFigures, Member,
    MonthMail, MonthResponse, OTHER, OpenDispute, PingFigures, ResponseFigures, ResponseRow,
    RetentionFigures, RosterChange, RosterFigures, TicketTiming,
};
pub use self::gather::{Made, TITLE, make, team_report};
use super::business_time::Target;

/// A calendar month, shown as `2026-01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The month an instant falls in, in UTC.
    pub fn at(instant: DateTime<Utc>) -> Month {
        Month::of(instant.date_naive())
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn next(self) -> Month {
        Month::of(self.first_day() + Months::new(1))
    }

    /// A short label for a chart axis: `Jan 26`.
    pub fn short_label(self) -> String {
        self.first_day().format("%b %y").to_string()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The days a report covers: from `since` up to, not including, `until` (dates in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub since: NaiveDate,
    pub until: NaiveDate,
}

impl Period {
    /// The year up to `until`: the default span of the annual report.
    pub fn year_until(until: NaiveDate) -> Period {
        Period {
            since: until - Months::new(12),
            until,
        }
    }

    /// Every month with at least one day in the period, in order; none for an empty period.
    pub fn months(&self) -> Vec<Month> {
        let mut out = Vec::new();
        if self.until <= self.since {
            return out;
        }
        let last = Month::of(self.until.pred_opt().unwrap_or(self.until));
        let mut month = Month::of(self.since);
        while month <= last {
            out.push(month);
            month = month.next();
        }
        out
    }

    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        let day = instant.date_naive();
        self.since <= day && day < self.until
    }

    /// The first instant after the period (midnight UTC starting `until`).
    pub fn end(&self) -> DateTime<Utc> {
        self.until.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// The last day in the period, for showing it as `since – last day`.
    pub fn last_day(&self) -> NaiveDate {
        self.until.pred_opt().unwrap_or(self.until).max(self.since)
    }
}

/// Everything the annual report says, for the Board and the general meeting.
#[derive(Debug, Clone, Serialize)]
pub struct TeamReport {
    /// The heading, e.g. "Support team report".
    pub title: String,
    pub period: Period,
    /// When the report was made (from the clock the caller reads).
    pub generated: DateTime<Utc>,
    pub mail: MailFigures,
    pub response: ResponseFigures,
    pub disputes: DisputeFigures,
    pub roster: RosterFigures,
    pub handovers: HandoverFigures,
    pub retention: RetentionFigures,
}

impl TeamReport {
    /// A report with every figure zero (every month present, nothing counted), to be filled in.
    pub fn empty(
        title: &str,
        period: Period,
        generated: DateTime<Utc>,
        target: &Target,
    ) -> TeamReport {
        TeamReport {
            title: title.to_owned(),
            period,
            generated,
            mail: MailFigures::from_counts(&period, []),
            response: ResponseFigures::from_tickets(&period, target, []),
            disputes: DisputeFigures::from_disputes(&period, generated, []),
            roster: RosterFigures::default(),
            handovers: HandoverFigures::default(),
            retention: RetentionFigures::from_counts([]),
        }
    }
}

/// The forms a report is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Html,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Text, Format::Markdown, Format::Json, Format::Html];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Html => "html",
        }
    }

    /// The name of the report's file in `--out DIR`.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Text => "report.txt",
            Format::Markdown => "report.md",
            Format::Json => "report.json",
            Format::Html => "report.html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a report format (text, markdown, json, html)"))
    }
}

/// The report in `format`. Markdown refers to the charts by their file names (written beside it by
/// [`write_report`]); HTML embeds them; text and JSON carry the figures only.
pub fn render(report: &TeamReport, format: Format, charts: &Charts) -> Result<String> {
    let doc = document::build(report);
    Ok(match format {
        Format::Text => text::render(&doc),
        Format::Markdown => markdown::render(&doc),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(report).context("report as JSON")?;
            json.push('\n');
            json
        }
        Format::Html => html::render(&report.title, &doc, charts),
    })
}

/// Writes the report in `format` to `dir` (created if missing) as [`Format::file_name`], with both
/// charts beside it as SVG files; returns the paths written, the report first.
pub fn write_report(dir: &Path, report: &TeamReport, format: Format) -> Result<Vec<PathBuf>> {
    let charts = chart::draw(report)?;
    let body = render(report, format, &charts)?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, content) in [
        (format.file_name(), &body),
        (chart::MAIL_CHART_FILE, &charts.mail),
        (chart::RESPONSE_CHART_FILE, &charts.response),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
#[path = "report/report_tests.rs"]
mod tests;
