//! The report as Markdown to paste into a wiki page: headings, pipe tables with aligned columns, and the
//! charts as images whose files `write_report` puts beside it.
//!
//! Owns layout only; the content comes from `document`.

use super::document::{Block, Table};
use super::text::{pad, widths};

pub(super) fn render(doc: &[Block]) -> String {
    let mut out = String::new();
    for block in doc {
        if !out.is_empty() {
            out.push('\n');
        }
        match block {
            Block::Heading(level, text) => {
                out.push_str(&"#".repeat(usize::from(*level)));
                out.push(' ');
                out.push_str(text);
                out.push('\n');
            }
            Block::Para(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Block::Table(table) => self::table(&mut out, table),
            Block::Chart(chart) => {
                out.push_str(&format!("![{}]({})\n", chart.caption(), chart.file_name()));
            }
        }
    }
    out
}

/// A cell that cannot end the cell early: a pipe is escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn table(out: &mut String, table: &Table) {
    let escaped = Table {
        head: table.head.iter().map(|h| cell(h)).collect(),
        rows: table
            .rows
            .iter()
            .map(|r| r.iter().map(|c| cell(c)).collect())
            .collect(),
        numeric: table.numeric.clone(),
    };
    // A rule needs three dashes at least.
    let widths: Vec<usize> = widths(&escaped).into_iter().map(|w| w.max(3)).collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&escaped.numeric)
            .map(|((c, w), right)| pad(c, *w, *right))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    out.push_str(&line(&escaped.head));
    let rule: Vec<String> = widths
        .iter()
        .zip(&escaped.numeric)
        .map(|(w, right)| {
            if *right {
                format!("{}:", "-".repeat(w - 1))
            } else {
                "-".repeat(*w)
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in &escaped.rows {
        out.push_str(&line(row));
    }
}
