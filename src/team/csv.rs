//! The grammar of `team import FILE.csv`: RFC 4180 CSV (commas, double quotes with `""` inside them),
//! a header line naming the columns in any order, one person per line. Columns: `name`, `address` and
//! `role` are required; `alias`, `tz`, `since` (YYYY-MM-DD) and `addresses` (more addresses, separated
//! by spaces or semicolons) may be given. `role` may hold `leader` beside the pipeline role
//! (`se leader`, `se+leader`). Empty lines and lines starting with `#` are skipped.

use chrono::{NaiveDate, TimeZone as _, Utc};

use super::members::NewMember;
use super::{Invalid, Role};

const COLUMNS: &[&str] = &[
    "name",
    "address",
    "role",
    "alias",
    "tz",
    "since",
    "addresses",
];

/// Splits CSV text into records, each with the line it starts on.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, Invalid> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut start) = (1, 1);
    let (mut field, mut fields) = (String::new(), Vec::new());
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(Invalid(format!(
            "line {start}: a quoted field is not closed"
        )));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out
        .into_iter()
        .filter(|(_, f)| {
            let first = f.first().map_or("", |s| s.trim());
            !(f.iter().all(|s| s.trim().is_empty()) || first.starts_with('#'))
        })
        .collect())
}

/// Reads the import file: `(line, person)` for every row. A problem names its line (`FILE:LINE`).
pub fn parse_csv(label: &str, text: &str) -> Result<Vec<(usize, NewMember)>, Invalid> {
    let at = |line: usize, why: String| Invalid(format!("{label}:{line}: {why}"));
    let mut rows = records(text).map_err(|Invalid(why)| Invalid(format!("{label}: {why}")))?;
    if rows.is_empty() {
        return Err(Invalid(format!("{label}: no header line")));
    }
    let (header_line, header) = rows.remove(0);
    let mut index = Vec::with_capacity(header.len());
    for h in &header {
        let name = h.trim().to_ascii_lowercase();
        if !COLUMNS.contains(&name.as_str()) {
            let why = format!("unknown column {h:?} (valid: {})", COLUMNS.join(", "));
            return Err(at(header_line, why));
        }
        index.push(name);
    }
    for required in ["name", "address", "role"] {
        if !index.iter().any(|c| c == required) {
            return Err(at(header_line, format!("the column {required} is missing")));
        }
    }
    rows.into_iter()
        .map(|(line, fields)| {
            if fields.len() != index.len() {
                let why = format!("{} fields, the header has {}", fields.len(), index.len());
                return Err(at(line, why));
            }
            person(&index, &fields)
                .map(|p| (line, p))
                .map_err(|e| at(line, e))
        })
        .collect()
}

fn person(index: &[String], fields: &[String]) -> Result<NewMember, String> {
    let mut p = NewMember::default();
    let mut primary = String::new();
    let mut more = Vec::new();
    for (column, value) in index.iter().zip(fields) {
        let value = value.trim();
        match column.as_str() {
            "name" => value.clone_into(&mut p.name),
            "address" => value.clone_into(&mut primary),
            "role" => p.roles = roles(value)?,
            "alias" => value.clone_into(&mut p.alias),
            "tz" => value.clone_into(&mut p.tz),
            "since" if value.is_empty() => {}
            "since" => p.since = Some(since(value)?),
            _ => more.extend(
                value
                    .split([' ', ';'])
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
            ),
        }
    }
    p.addresses = std::iter::once(primary).chain(more).collect();
    Ok(p)
}

fn roles(value: &str) -> Result<Vec<Role>, String> {
    value
        .split([' ', '+', ';', '/'])
        .filter(|r| !r.is_empty())
        .map(|r| r.parse::<Role>().map_err(|e| e.to_string()))
        .collect()
}

/// `YYYY-MM-DD` as midnight UTC.
pub fn since(value: &str) -> Result<chrono::DateTime<Utc>, String> {
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| format!("since {value:?} is not a date YYYY-MM-DD"))?;
    Ok(Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()))
}
