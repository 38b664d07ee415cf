//! The report as one self-contained HTML file: the tables, and both charts embedded as inline SVG, with a
//! small stylesheet in the page; nothing is loaded from elsewhere.
//!
//! Owns layout only; the content comes from `document`, the charts from `chart`. The page's own colours
//! are greys, so the charts' series colours appear nowhere else on it.

use super::chart::Charts;
use super::document::{Block, Chart, Table};

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;color:#222;background:#fff;\
max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}\
table{border-collapse:collapse;margin:0.5rem 0 1rem}\
th,td{border:1px solid #bbb;padding:0.2rem 0.6rem}th{background:#eee}\
td.n{text-align:right}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}";

pub(super) fn render(title: &str, doc: &[Block], charts: &Charts) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
    for block in doc {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", escape(text)));
            }
            Block::Para(text) => out.push_str(&format!("<p>{}</p>\n", escape(text))),
            Block::Table(table) => self::table(&mut out, table),
            Block::Chart(chart) => {
                let svg = match chart {
                    Chart::Mail => &charts.mail,
                    Chart::Response => &charts.response,
                };
                // The chart draws its own caption; the label is for screen readers.
                out.push_str(&format!(
                    "<figure role=\"img\" aria-label=\"{}\">\n{svg}</figure>\n",
                    escape(chart.caption())
                ));
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn table(out: &mut String, table: &Table) {
    out.push_str("<table>\n<thead><tr>");
    for head in &table.head {
        out.push_str(&format!("<th>{}</th>", escape(head)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (cell, numeric) in row.iter().zip(&table.numeric) {
            let class = if *numeric { " class=\"n\"" } else { "" };
            out.push_str(&format!("<td{class}>{}</td>", escape(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Text made safe for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
