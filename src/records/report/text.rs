//! The report as plain text for a terminal: underlined headings and aligned columns; charts are left out.
//!
//! Owns layout only; the content comes from `document`.

use super::document::{Block, Table};

pub(super) fn render(doc: &[Block]) -> String {
    let mut out = String::new();
    for block in doc.iter().filter(|b| !matches!(b, Block::Chart(_))) {
        if !out.is_empty() {
            out.push('\n');
        }
        match block {
            Block::Heading(1, text) => underline(&mut out, text, '='),
            Block::Heading(2, text) => underline(&mut out, text, '-'),
            Block::Heading(_, text) => {
                out.push_str(text);
                out.push_str(":\n");
            }
            Block::Para(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Block::Table(table) => self::table(&mut out, table),
            Block::Chart(_) => {}
        }
    }
    out
}

fn underline(out: &mut String, text: &str, mark: char) {
    out.push_str(text);
    out.push('\n');
    out.extend(std::iter::repeat_n(mark, text.chars().count()));
    out.push('\n');
}

/// Column widths in characters: the widest cell of each column, heading included.
pub(super) fn widths(table: &Table) -> Vec<usize> {
    let mut widths: Vec<usize> = table.head.iter().map(|h| h.chars().count()).collect();
    for row in &table.rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths
}

/// `cell` padded to `width`, on the right for figures.
pub(super) fn pad(cell: &str, width: usize, right: bool) -> String {
    if right {
        format!("{cell:>width$}")
    } else {
        format!("{cell:<width$}")
    }
}

fn table(out: &mut String, table: &Table) {
    let widths = widths(table);
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&table.numeric)
            .map(|((c, w), right)| pad(c, *w, *right))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(&table.head));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("{}\n", rule.join("  ")));
    for row in &table.rows {
        out.push_str(&line(row));
    }
}
