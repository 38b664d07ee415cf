//! Chart tests: traffic of a known shape is drawn with marks that follow it (read back from the SVG), and
//! an empty report still draws both charts.

use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use crate::records::business_time::Target;
use crate::records::report::{
    MailFigures, Month, Period, ResponseFigures, TeamReport, TicketTiming,
};

/// A rectangle or dot as the SVG places it.
#[derive(Debug, Clone, Copy)]
struct Mark {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

fn number(node: roxmltree::Node<'_, '_>, name: &str) -> Result<f64> {
    node.attribute(name)
        .with_context(|| format!("<{}> without {name}", node.tag_name().name()))?
        .parse()
        .with_context(|| format!("{name} is not a number"))
}

fn same_colour(node: roxmltree::Node<'_, '_>, attr: &str, colour: Rgb) -> bool {
    node.attribute(attr)
        .is_some_and(|c| c.eq_ignore_ascii_case(&colour.hex()))
}

/// Filled rectangles of `colour` inside the plot (left of the legend), left to right.
fn bars(svg: &str, colour: Rgb) -> Result<Vec<Mark>> {
    let doc = roxmltree::Document::parse(svg)?;
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("rect")) {
        if !same_colour(node, "fill", colour) {
            continue;
        }
        let mark = Mark {
            x: number(node, "x")?,
            y: number(node, "y")?,
            width: number(node, "width")?,
            height: number(node, "height")?,
        };
        if mark.x < f64::from(WIDTH - LEGEND_WIDTH) {
            out.push(mark);
        }
    }
    out.sort_by(|a, b| a.x.total_cmp(&b.x));
    Ok(out)
}

/// Dots of `colour`, left to right, as (cx, cy).
fn dots(svg: &str, colour: Rgb) -> Result<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg)?;
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("circle")) {
        if same_colour(node, "fill", colour) {
            out.push((number(node, "cx")?, number(node, "cy")?));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

/// Lines of `colour` inside the plot, each as its points.
fn lines(svg: &str, colour: Rgb) -> Result<Vec<Vec<(f64, f64)>>> {
    let doc = roxmltree::Document::parse(svg)?;
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("polyline")) {
        if !same_colour(node, "stroke", colour) {
            continue;
        }
        let points: Vec<(f64, f64)> = node
            .attribute("points")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.split_once(','))
            .filter_map(|(x, y)| Some((x.parse().ok()?, y.parse().ok()?)))
            .collect();
        if points
            .first()
            .is_some_and(|p| p.0 < f64::from(WIDTH - LEGEND_WIDTH))
        {
            out.push(points);
        }
    }
    Ok(out)
}

/// Every text the SVG shows, top to bottom.
fn texts(svg: &str) -> Result<Vec<String>> {
    let doc = roxmltree::Document::parse(svg)?;
    Ok(doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect())
}

fn year() -> Result<Period> {
    Ok(Period::year_until(
        NaiveDate::from_ymd_opt(2026, 1, 1).context("a date")?,
    ))
}

/// Triage grows 10, 20, ... 120 a month; Junk is 30 every month; Lists/x has 40 in March only.
fn shaped_mail() -> Result<MailFigures> {
    let period = year()?;
    let mut rows = Vec::new();
    for (i, month) in period.months().into_iter().enumerate() {
        rows.push((month, "Triage".to_owned(), 10 * (i as u64 + 1)));
        rows.push((month, "Junk".to_owned(), 30));
    }
    rows.push((period.months()[2], "Lists/x".to_owned(), 40));
    Ok(MailFigures::from_counts(&period, rows))
}

#[test]
fn every_series_has_its_own_colour() {
    let mut all: Vec<String> = PALETTE
        .iter()
        .chain([&MEDIAN, &P90, &TARGET])
        .map(|c| c.hex())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), MAX_BUCKETS + 3);
}

#[test]
fn bar_heights_follow_the_mail() -> Result<()> {
    let svg = mail_chart(&shaped_mail()?)?;
    // Triage has the largest total, so it is drawn first (at the bottom) in the first colour.
    let triage = bars(&svg, PALETTE[0])?;
    let junk = bars(&svg, PALETTE[1])?;
    let lists = bars(&svg, PALETTE[2])?;
    assert_eq!((triage.len(), junk.len(), lists.len()), (12, 12, 1));
    let per_message = triage[11].height / 120.0;
    assert!(
        per_message > 1.0,
        "bars are tall enough to measure: {per_message}"
    );
    for (i, bar) in triage.iter().enumerate() {
        let want = per_message * 10.0 * (i as f64 + 1.0);
        assert!(
            (bar.height - want).abs() <= 1.5,
            "month {i}: {} vs {want}",
            bar.height
        );
        if i > 0 {
            assert!(bar.height > triage[i - 1].height, "month {i} is taller");
            assert!(bar.x > triage[i - 1].x + bar.width, "months side by side");
        }
    }
    for (t, j) in triage.iter().zip(&junk) {
        assert!(
            (j.height - per_message * 30.0).abs() <= 1.5,
            "junk: {}",
            j.height
        );
        assert!((j.y + j.height - t.y).abs() <= 1.0, "junk sits on triage");
        assert!((j.x - t.x).abs() <= 1.0);
    }
    assert!(
        (lists[0].x - triage[2].x).abs() <= 1.0,
        "lists only in March"
    );
    assert!((lists[0].height - per_message * 40.0).abs() <= 1.5);
    assert!((lists[0].y + lists[0].height - junk[2].y).abs() <= 1.0);
    // The legend names the buckets in the same order as the colours.
    let shown = texts(&svg)?;
    let at = |name: &str| shown.iter().position(|t| t == name);
    assert!(at("Triage") < at("Junk") && at("Junk") < at("Lists/x") && at("Lists/x").is_some());
    Ok(())
}

#[test]
fn more_buckets_than_colours_share_the_last_one() -> Result<()> {
    let period = year()?;
    let month = period.months()[0];
    let rows = (0..12u64).map(|i| (month, format!("bucket-{i:02}"), 100 - i));
    let svg = mail_chart(&MailFigures::from_counts(&period, rows))?;
    let shown = texts(&svg)?;
    assert!(shown.iter().any(|t| t == "bucket-06"));
    assert!(
        !shown.iter().any(|t| t == "bucket-07"),
        "summed into (other)"
    );
    assert!(shown.iter().any(|t| t == crate::records::report::OTHER));
    let other = bars(&svg, PALETTE[MAX_BUCKETS - 1])?;
    let first = bars(&svg, PALETTE[0])?;
    assert_eq!(other.len(), 1);
    // The whole stack (1134 messages) gives the scale without the rounding of one short bar.
    let per_message = (first[0].y + first[0].height - other[0].y) / 1134.0;
    let want = per_message * (93 + 92 + 91 + 90 + 89) as f64;
    assert!(
        (other[0].height - want).abs() <= 1.5,
        "{} vs {want}",
        other[0].height
    );
    Ok(())
}

#[test]
fn response_lines_follow_the_times_and_break_on_empty_months() -> Result<()> {
    let period = year()?;
    let target = Target {
        within: Duration::from_secs(3600),
        hours: None,
    };
    // Month i: ten tickets answered after 10*(i+1) .. 10*(i+1)+9 minutes; none in May (i = 4).
    let mut tickets = Vec::new();
    for (i, month) in period
        .months()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
    {
        let opened =
            Utc.from_utc_datetime(&month.first_day().and_hms_opt(12, 0, 0).context("noon")?);
        for k in 0..10u64 {
            let minutes = 10 * (i as u64 + 1) + k;
            tickets.push(TicketTiming {
                opened,
                response: Some(Duration::from_secs(minutes * 60)),
                breached: minutes > 60,
            });
        }
    }
    let figures = ResponseFigures::from_tickets(&period, &target, tickets);
    let svg = response_chart(&figures)?;
    let median = dots(&svg, MEDIAN)?;
    let p90 = dots(&svg, P90)?;
    assert_eq!((median.len(), p90.len()), (11, 11), "no dot for May");
    for i in 1..median.len() {
        assert!(
            median[i].1 < median[i - 1].1,
            "later months wait longer (drawn higher)"
        );
        assert!(p90[i].1 < median[i].1, "p90 above the median");
    }
    // 10 minutes between months' medians: equal steps on the axis.
    let step = median[0].1 - median[1].1;
    assert!(step > 5.0);
    assert!((median[2].1 - median[3].1 - step).abs() <= 1.0);
    assert_eq!(lines(&svg, MEDIAN)?.len(), 2, "the line breaks at May");
    let target_line = lines(&svg, TARGET)?;
    assert_eq!(target_line.len(), 1);
    let y = target_line[0][0].1;
    // The target (60 min) lies between April's median (44.5 min) and June's (64.5 min).
    assert!(
        median[3].1 > y && y > median[4].1,
        "{y} between {:?}",
        (median[3], median[4])
    );
    Ok(())
}

#[test]
fn an_empty_report_still_draws_both_charts() -> Result<()> {
    let period = year()?;
    let generated = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .context("instant")?;
    let target = Target {
        within: Duration::from_secs(3600),
        hours: None,
    };
    let report = TeamReport::empty("Empty", period, generated, &target);
    let charts = draw(&report)?;
    for svg in [&charts.mail, &charts.response] {
        let shown = texts(svg)?;
        for month in period.months() {
            assert!(shown.contains(&month.short_label()), "{month} on the axis");
        }
        assert!(
            PALETTE
                .iter()
                .all(|c| bars(svg, *c).is_ok_and(|b| b.is_empty()))
        );
    }
    assert!(
        texts(&charts.mail)?
            .iter()
            .any(|t| t == "No mail in this period")
    );
    let response = texts(&charts.response)?;
    assert!(
        response
            .iter()
            .any(|t| t == "No answered tickets in this period")
    );
    assert!(response.iter().any(|t| t == "target (1h)"));
    assert_eq!(
        lines(&charts.response, TARGET)?.len(),
        1,
        "the target is drawn"
    );
    // A period with no months at all still gives two drawable charts.
    let none = Period {
        since: period.since,
        until: period.since,
    };
    let charts = draw(&TeamReport::empty("None", none, generated, &target))?;
    assert!(roxmltree::Document::parse(&charts.mail).is_ok());
    assert!(roxmltree::Document::parse(&charts.response).is_ok());
    Ok(())
}

#[test]
fn long_response_times_are_shown_in_hours() -> Result<()> {
    let period = year()?;
    let target = Target {
        within: Duration::from_secs(4 * 3600),
        hours: None,
    };
    let month: Month = period.months()[0];
    let opened =
        Utc.from_utc_datetime(&month.first_day().and_hms_opt(0, 0, 0).context("midnight")?);
    let ticket = TicketTiming {
        opened,
        response: Some(Duration::from_secs(6 * 3600)),
        breached: true,
    };
    let svg = response_chart(&ResponseFigures::from_tickets(&period, &target, [ticket]))?;
    assert!(texts(&svg)?.iter().any(|t| t == "hours"));
    assert!(texts(&svg)?.iter().any(|t| t == "target (4h)"));
    Ok(())
}
