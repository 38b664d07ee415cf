//! Report tests: the sample year against golden files, an empty report in every form, the files
//! `--out DIR` gets, and the counting rules of each part.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::*;
use crate::records::disputes::Stage;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/records")
}

fn generated() -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 30, 0)
        .single()
        .context("a valid instant")
}

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).context("a valid date")
}

fn hour() -> Target {
    Target {
        within: Duration::from_secs(3600),
        hours: None,
    }
}

/// Compares `text` with `tests/golden/records/NAME` (run with `UPDATE_GOLDEN=1` to rewrite it after an
/// intended change).
fn golden(name: &str, text: &str) -> Result<()> {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir())?;
        std::fs::write(&path, text)?;
    }
    let expected = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("read {}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()))?;
    assert_eq!(text, expected, "golden file {}", path.display());
    Ok(())
}

#[test]
fn the_sample_year_in_markdown_matches_its_golden_file() -> Result<()> {
    let report = example(generated()?);
    let charts = chart::draw(&report)?;
    golden(
        "sample-report.md",
        &render(&report, Format::Markdown, &charts)?,
    )
}

#[test]
fn the_sample_year_in_text_matches_its_golden_file() -> Result<()> {
    let report = example(generated()?);
    let charts = chart::draw(&report)?;
    golden(
        "sample-report.txt",
        &render(&report, Format::Text, &charts)?,
    )
}

#[test]
fn an_empty_report_prints_zeros_in_every_form() -> Result<()> {
    let period = Period::year_until(date(2026, 1, 1)?);
    let report = TeamReport::empty("Support team report", period, generated()?, &hour());
    let charts = chart::draw(&report)?;
    for format in Format::ALL {
        let out = render(&report, format, &charts)?;
        assert!(!out.is_empty(), "{format}");
        if format != Format::Json {
            assert!(
                out.contains("0 messages sorted into 0 buckets"),
                "{format}: {out}"
            );
            assert!(out.contains("2025-12"), "{format}: every month is listed");
        }
    }
    let markdown = render(&report, Format::Markdown, &charts)?;
    assert!(markdown.contains("| 2025-07 |     0 |"), "{markdown}");
    let total = "| Total   |       0 |        0 |      - |   - |        0 |";
    assert!(markdown.contains(total), "{markdown}");
    let json: serde_json::Value = serde_json::from_str(&render(&report, Format::Json, &charts)?)?;
    assert_eq!(json["mail"]["total"], 0);
    assert_eq!(json["mail"]["months"].as_array().map(Vec::len), Some(12));
    assert_eq!(
        json["response"]["total"]["median_secs"],
        serde_json::Value::Null
    );
    assert_eq!(json["response"]["target_secs"], 3600);
    assert_eq!(json["period"]["since"], "2025-01-01");
    Ok(())
}

#[test]
fn html_is_one_file_with_both_charts_inside() -> Result<()> {
    let mut report = example(generated()?);
    report.title = "Support <team> & friends".to_owned();
    let charts = chart::draw(&report)?;
    let html = render(&report, Format::Html, &charts)?;
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg ").count(), 2, "both charts inline");
    assert!(html.contains("<title>Support &lt;team&gt; &amp; friends</title>"));
    assert!(!html.contains("<team>"), "text is escaped");
    for outside in ["src=", "href=", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "nothing loaded from elsewhere: {outside}"
        );
    }
    Ok(())
}

#[test]
fn out_dir_gets_the_report_and_both_charts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let report = example(generated()?);
    for format in [Format::Markdown, Format::Html] {
        let written = write_report(dir.path(), &report, format)?;
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            names,
            [
                format.file_name(),
                chart::MAIL_CHART_FILE,
                chart::RESPONSE_CHART_FILE
            ]
        );
    }
    let markdown = std::fs::read_to_string(dir.path().join("report.md"))?;
    assert!(markdown.contains(&format!("]({})", chart::MAIL_CHART_FILE)));
    assert!(markdown.contains(&format!("]({})", chart::RESPONSE_CHART_FILE)));
    let svg = std::fs::read_to_string(dir.path().join(chart::MAIL_CHART_FILE))?;
    assert!(svg.starts_with("<svg "), "{}", &svg[..40.min(svg.len())]);
    Ok(())
}

#[test]
fn months_cover_every_day_of_the_period() -> Result<()> {
    let p = Period {
        since: date(2025, 3, 15)?,
        until: date(2025, 5, 1)?,
    };
    let months: Vec<String> = p.months().iter().map(ToString::to_string).collect();
    assert_eq!(months, ["2025-03", "2025-04"]);
    assert_eq!(p.last_day(), date(2025, 4, 30)?);
    let empty = Period {
        since: date(2025, 3, 15)?,
        until: date(2025, 3, 15)?,
    };
    assert!(empty.months().is_empty());
    let year = Period::year_until(date(2026, 2, 1)?);
    assert_eq!(year.since, date(2025, 2, 1)?);
    assert_eq!(year.months().len(), 12);
    Ok(())
}

#[test]
fn mail_is_ordered_by_total_and_the_rest_is_grouped() -> Result<()> {
    let period = Period::year_until(date(2026, 1, 1)?);
    let jan = Month::of(date(2025, 1, 10)?);
    let outside = Month::of(date(2024, 12, 1)?);
    let rows = (0..10u64)
        .map(|i| (jan, format!("b{i}"), 10 + i))
        .chain([(outside, "b0".to_owned(), 1000), (jan, "b0".to_owned(), 5)]);
    let mail = MailFigures::from_counts(&period, rows);
    assert_eq!(mail.buckets[..3], ["b9", "b8", "b7"]);
    assert_eq!(
        mail.totals["b0"], 15,
        "rows add up; months outside are left out"
    );
    assert_eq!(mail.total, (10..20).sum::<u64>() + 5);
    let grouped = mail.grouped(4);
    assert_eq!(grouped.names, ["b9", "b8", "b7", OTHER]);
    assert_eq!(grouped.counts[0], [19, 18, 17, mail.total - 19 - 18 - 17]);
    assert!(grouped.counts[1].iter().all(|n| *n == 0));
    Ok(())
}

#[test]
fn response_rows_count_by_the_month_a_ticket_opened() -> Result<()> {
    let period = Period::year_until(date(2026, 1, 1)?);
    let at = |m: u32, d: u32| Utc.with_ymd_and_hms(2025, m, d, 12, 0, 0).single();
    let ticket = |opened: Option<DateTime<Utc>>, minutes: Option<u64>, breached| {
        opened.map(|opened| TicketTiming {
            opened,
            response: minutes.map(|m| Duration::from_secs(m * 60)),
            breached,
        })
    };
    let tickets = [
        ticket(at(3, 31), Some(30), false),
        ticket(at(3, 2), Some(90), true),
        ticket(at(3, 3), None, true),
        ticket(at(4, 1), Some(10), false),
    ]
    .into_iter()
    .collect::<Option<Vec<_>>>()
    .context("valid instants")?;
    let r = ResponseFigures::from_tickets(&period, &hour(), tickets);
    let march = &r.months[2].row;
    assert_eq!((march.tickets, march.answered, march.breaches), (3, 2, 2));
    assert_eq!(march.median, Some(Duration::from_secs(60 * 60)));
    assert_eq!(r.months[3].row.tickets, 1);
    assert_eq!((r.total.tickets, r.total.answered), (4, 3));
    assert_eq!(r.total.median, Some(Duration::from_secs(30 * 60)));
    Ok(())
}

#[test]
fn open_disputes_are_those_not_acknowledged_by_the_end() -> Result<()> {
    let period = Period::year_until(date(2026, 1, 1)?);
    let at = |m: u32, d: u32| {
        Utc.with_ymd_and_hms(2025, m, d, 0, 0, 0)
            .single()
            .unwrap_or_default()
    };
    let record = |ticket: &str, forwarded, on_list, acknowledged| DisputeRecord {
        ticket: ticket.to_owned(),
        case: None,
        received: at(12, 1),
        forwarded,
        on_list,
        acknowledged,
        escalations: 1,
    };
    let now = at(12, 11);
    let figures = DisputeFigures::from_disputes(
        &period,
        now,
        [
            record("done", Some(at(12, 2)), Some(at(12, 2)), Some(at(12, 5))),
            record("on-list", Some(at(12, 2)), Some(at(12, 3)), None),
            record("forwarded", Some(at(12, 2)), None, None),
            record("received", None, None, None),
            record("later", Some(at(12, 2)), Some(at(12, 3)), Some(at(12, 20))),
        ],
    );
    let open: Vec<(&str, Stage)> = figures
        .open
        .iter()
        .map(|o| (o.ticket.as_str(), o.stage))
        .collect();
    assert_eq!(
        open,
        [
            ("forwarded", Stage::Forwarded),
            ("later", Stage::OnList),
            ("on-list", Stage::OnList),
            ("received", Stage::Received),
        ],
        "acknowledged after `now` is still open; oldest first, then by ticket"
    );
    assert!(
        figures
            .open
            .iter()
            .all(|o| o.age == Duration::from_secs(10 * 86_400))
    );
    assert_eq!(
        (figures.received, figures.forwarded, figures.acknowledged),
        (5, 4, 2)
    );
    assert_eq!(figures.escalations, 5);
    assert_eq!(figures.to_acknowledge.count, 2);
    Ok(())
}

#[test]
fn roles_are_counted_at_both_ends() -> Result<()> {
    let report = example(generated()?);
    let counts = report.roster.role_counts();
    assert_eq!(
        counts,
        [
            ("triage".to_owned(), 2, 2),
            ("se".to_owned(), 2, 2),
            ("cm".to_owned(), 1, 1)
        ]
    );
    Ok(())
}

#[test]
fn formats_parse_by_name() {
    for format in Format::ALL {
        assert_eq!(format.as_str().parse::<Format>(), Ok(format));
    }
    let err = "pdf".parse::<Format>().err().unwrap_or_default();
    assert!(err.contains("text, markdown, json, html"), "{err}");
}

#[test]
fn durations_read_as_people_write_them() {
    let cases = [
        (45, "45s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (3900, "1h 05m"),
        (86_400, "1d"),
        (3 * 86_400 + 4 * 3600 + 59, "3d 4h"),
    ];
    for (secs, want) in cases {
        assert_eq!(duration_text(Duration::from_secs(secs)), want);
    }
}
