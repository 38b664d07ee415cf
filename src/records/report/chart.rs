//! The team report's charts as SVG, drawn with plotters' SVG backend: mail per bucket per month (stacked
//! bars, one colour per bucket) and response time per month (median and p90 lines, the target as a line).
//!
//! Owns the drawing only. plotters is built without default features: the SVG backend writes `<text>`
//! elements and estimates their size itself, so no system font is read. An empty report still draws both
//! charts, with their axes, months and a note that there is nothing to show.

use std::time::Duration;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::{
    BLACK, Cartesian2d, ChartBuilder, ChartContext, Circle, Color, DrawingArea, IntoDrawingArea,
    IntoFont, PathElement, RGBColor, Rectangle, SVGBackend, Text, WHITE,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{MailFigures, Month, ResponseFigures, TeamReport};

/// The mail chart's file name beside a written report.
pub const MAIL_CHART_FILE: &str = "mail-per-month.svg";
/// The response-time chart's file name beside a written report.
pub const RESPONSE_CHART_FILE: &str = "response-times.svg";

/// Size of each chart in pixels; the legend takes the right-hand `LEGEND_WIDTH` of it.
pub const WIDTH: u32 = 860;
pub const HEIGHT: u32 = 420;
pub const LEGEND_WIDTH: u32 = 190;

/// Buckets drawn in their own colour; the rest are summed as one, in the last colour.
pub const MAX_BUCKETS: usize = 8;

/// A colour, as the SVG writes it (`#RRGGBB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
    }
}

impl From<Rgb> for RGBColor {
    fn from(c: Rgb) -> RGBColor {
        RGBColor(c.0, c.1, c.2)
    }
}

/// Bucket colours, in stacking order: the Okabe–Ito palette (told apart with every common colour vision
/// deficiency), then a dark grey for the summed rest.
pub const PALETTE: [Rgb; MAX_BUCKETS] = [
    Rgb(0x00, 0x72, 0xB2),
    Rgb(0xE6, 0x9F, 0x00),
    Rgb(0x00, 0x9E, 0x73),
    Rgb(0xD5, 0x5E, 0x00),
    Rgb(0x56, 0xB4, 0xE9),
    Rgb(0xCC, 0x79, 0xA7),
    Rgb(0xF0, 0xE4, 0x42),
    Rgb(0x66, 0x66, 0x66),
];
/// The response chart's series: Paul Tol's high-contrast scheme (also safe for colour vision
/// deficiencies), apart from the bucket colours so each series can be told from the others on one page.
pub const MEDIAN: Rgb = Rgb(0x00, 0x44, 0x88);
pub const P90: Rgb = Rgb(0xBB, 0x55, 0x66);
pub const TARGET: Rgb = Rgb(0xDD, 0xAA, 0x33);

/// Both charts of a report, as SVG documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charts {
    pub mail: String,
    pub response: String,
}

pub fn draw(report: &TeamReport) -> Result<Charts> {
    Ok(Charts {
        mail: mail_chart(&report.mail)?,
        response: response_chart(&report.response)?,
    })
}

type Plot<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn drawing<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
) -> impl Fn(E) -> anyhow::Error {
    let what = what.to_owned();
    move |e| anyhow!("draw the {what} chart: {e}")
}

/// Stacked bars: one per month, one segment per bucket, in [`PALETTE`] order.
pub fn mail_chart(mail: &MailFigures) -> Result<String> {
    let fail = || drawing("mail");
    let grouped = mail.grouped(MAX_BUCKETS);
    let months: Vec<Month> = mail.months.iter().map(|m| m.month).collect();
    let top = mail.months.iter().map(|m| m.total).max().unwrap_or(0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(fail())?;
        let (area, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let y_max = nice_ceiling(top as f64).max(5.0);
        let mut plot = axes(
            &area,
            "Mail per bucket per month",
            &months,
            y_max,
            "messages",
        )?;
        let mut base = vec![0u64; months.len()];
        for (j, _) in grouped.names.iter().enumerate() {
            let colour = RGBColor::from(PALETTE[j.min(MAX_BUCKETS - 1)]).filled();
            let mut bars = Vec::new();
            for (i, counts) in grouped.counts.iter().enumerate() {
                let n = counts[j];
                if n > 0 {
                    let x = i as f64;
                    let (y0, y1) = (base[i] as f64, (base[i] + n) as f64);
                    bars.push(Rectangle::new([(x + 0.15, y0), (x + 0.85, y1)], colour));
                    base[i] += n;
                }
            }
            plot.draw_series(bars).map_err(fail())?;
        }
        let entries: Vec<(String, Rgb, Swatch)> = grouped
            .names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                (
                    name.clone(),
                    PALETTE[j.min(MAX_BUCKETS - 1)],
                    Swatch::Square,
                )
            })
            .collect();
        draw_legend(&legend, &entries)?;
        if mail.total == 0 {
            note(&plot, "No mail in this period", y_max)?;
        }
        root.present().map_err(fail())?;
    }
    Ok(svg)
}

/// Median and p90 per month as lines (broken where a month has no answered ticket), and the target as a
/// horizontal line; minutes on the axis, or hours when the figures run past three hours.
pub fn response_chart(response: &ResponseFigures) -> Result<String> {
    let fail = || drawing("response time");
    let months: Vec<Month> = response.months.iter().map(|m| m.month).collect();
    let longest = response
        .months
        .iter()
        .filter_map(|m| m.row.p90.max(m.row.median))
        .chain([response.target])
        .max()
        .unwrap_or_default();
    let (unit, unit_name) = if longest <= Duration::from_secs(3 * 3600) {
        (60.0, "minutes")
    } else {
        (3600.0, "hours")
    };
    let in_unit = |d: Duration| d.as_secs_f64() / unit;
    let y_max = nice_ceiling(in_unit(longest) * 1.1).max(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(fail())?;
        let (area, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let mut plot = axes(&area, "Response time per month", &months, y_max, unit_name)?;
        let target = in_unit(response.target);
        let width = months.len().max(1) as f64;
        let target_line = PathElement::new(
            vec![(0.0, target), (width, target)],
            RGBColor::from(TARGET).stroke_width(2),
        );
        plot.draw_series([target_line]).map_err(fail())?;
        let median: Vec<Option<f64>> = response
            .months
            .iter()
            .map(|m| m.row.median.map(in_unit))
            .collect();
        let p90: Vec<Option<f64>> = response
            .months
            .iter()
            .map(|m| m.row.p90.map(in_unit))
            .collect();
        series(&mut plot, &p90, P90)?;
        series(&mut plot, &median, MEDIAN)?;
        let entries = [
            ("median".to_owned(), MEDIAN, Swatch::Line),
            ("p90".to_owned(), P90, Swatch::Line),
            (
                format!("target ({})", short(response.target)),
                TARGET,
                Swatch::Line,
            ),
        ];
        draw_legend(&legend, &entries)?;
        if response.total.answered == 0 {
            note(&plot, "No answered tickets in this period", y_max)?;
        }
        root.present().map_err(fail())?;
    }
    Ok(svg)
}

/// The plotting area with its caption, a y axis from 0 to `y_max` and a month label under each slot
/// (drawn here, centred on the slot, since plotters' numeric axis would not place them there).
fn axes<'a>(
    area: &DrawingArea<SVGBackend<'a>, Shift>,
    caption: &str,
    months: &[Month],
    y_max: f64,
    y_desc: &str,
) -> Result<Plot<'a>> {
    let fail = || drawing(caption);
    let slots = months.len().max(1) as f64;
    let mut plot = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20).into_font())
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..slots, 0.0..y_max)
        .map_err(fail())?;
    let whole = |v: &f64| {
        if y_max >= 10.0 || v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    plot.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .max_light_lines(1)
        .y_label_formatter(&whole)
        .y_desc(y_desc)
        .label_style(("sans-serif", 13).into_font())
        .axis_desc_style(("sans-serif", 13).into_font())
        .draw()
        .map_err(fail())?;
    let style = ("sans-serif", 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    // Every label when they fit, else every second or third, so they never overlap.
    let step = months.len().div_ceil(18).max(1);
    for (i, month) in months.iter().enumerate().step_by(step) {
        let (x, y) = plot.backend_coord(&(i as f64 + 0.5, 0.0));
        area.draw(&Text::new(month.short_label(), (x, y + 8), style.clone()))
            .map_err(fail())?;
    }
    Ok(plot)
}

/// One line with a dot per value; a month without a value breaks the line.
fn series(plot: &mut Plot<'_>, values: &[Option<f64>], colour: Rgb) -> Result<()> {
    let fail = || drawing("response time");
    let colour = RGBColor::from(colour);
    let points: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    for (k, (i, v)) in points.iter().enumerate() {
        let point = (*i as f64 + 0.5, *v);
        match runs.last_mut() {
            Some(run) if k > 0 && points[k - 1].0 + 1 == *i => run.push(point),
            _ => runs.push(vec![point]),
        }
    }
    let lines = runs
        .into_iter()
        .filter(|r| r.len() > 1)
        .map(|r| PathElement::new(r, colour.stroke_width(3)));
    plot.draw_series(lines).map_err(fail())?;
    let dots = points
        .iter()
        .map(|(i, v)| Circle::new((*i as f64 + 0.5, *v), 4, colour.filled()));
    plot.draw_series(dots).map_err(fail())?;
    Ok(())
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swatch {
    Square,
    Line,
}

/// The legend, one entry per row, in the right-hand part of the chart.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[(String, Rgb, Swatch)],
) -> Result<()> {
    let fail = || drawing("legend of the");
    let style = ("sans-serif", 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (k, (name, colour, swatch)) in entries.iter().enumerate() {
        let y = 60 + 24 * k as i32;
        let colour = RGBColor::from(*colour);
        match swatch {
            Swatch::Square => area
                .draw(&Rectangle::new([(8, y - 7), (22, y + 7)], colour.filled()))
                .map_err(fail())?,
            Swatch::Line => area
                .draw(&PathElement::new(
                    vec![(4, y), (26, y)],
                    colour.stroke_width(3),
                ))
                .map_err(fail())?,
        }
        let label: String = if name.chars().count() > 22 {
            name.chars().take(21).chain(['…']).collect()
        } else {
            name.clone()
        };
        area.draw(&Text::new(label, (32, y), style.clone()))
            .map_err(fail())?;
    }
    Ok(())
}

/// A note in the middle of an empty plot.
fn note(plot: &Plot<'_>, text: &str, y_max: f64) -> Result<()> {
    let style = ("sans-serif", 16)
        .into_font()
        .color(&RGBColor(0x55, 0x55, 0x55))
        .pos(Pos::new(HPos::Center, VPos::Center));
    let x = plot.x_range();
    let centre = ((x.start + x.end) / 2.0, y_max / 2.0);
    plot.plotting_area()
        .draw(&Text::new(text.to_owned(), centre, style))
        .map_err(drawing("empty"))
}

/// The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at or above `v`; 0 for
/// nothing to show.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 0.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|f| f * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

/// The target as the legend shows it.
fn short(d: Duration) -> String {
    super::duration_text(d)
}

#[cfg(test)]
#[path = "chart_tests.rs"]
mod tests;
