//! Tests that triaged evaluates itself (see `adapt.rs` for which and why): the evaluation side. It reads
//! header values and dates from the parsed message the way Pigeonhole does and decides one adapted test
//! from the strings its probe carried. It must not evaluate anything `adapt.rs` did not hand it.

use super::adapt::{AddressPart, Comparator, Match, Spec, TestKind, Zone};
use super::envelope::Envelope;
use super::pmatch;
use chrono::{DateTime, Datelike, FixedOffset, Local, Offset, TimeZone, Timelike, Utc};
use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;

/// Evaluates `spec` over the message with the probe's arguments; `Some(match values)` when it matches
/// (the values are empty when the test sets none).
pub(crate) fn evaluate(
    spec: &Spec,
    args: &[String],
    msg: &mail_parser::Message<'_>,
    envelope: &Envelope,
    now: DateTime<Utc>,
) -> Option<Vec<String>> {
    let (zone, rest) = if spec.zone == Zone::Given {
        let (z, r) = args.split_first()?;
        (Some(z.as_str()), r)
    } else {
        (None, args)
    };
    let mut lists = Vec::with_capacity(spec.lists.len());
    let mut pos = 0;
    for &n in &spec.lists {
        lists.push(rest.get(pos..pos + n)?);
        pos += n;
    }
    let keys = *lists.last()?;
    let values: Vec<String> = match spec.kind {
        TestKind::Envelope => lists
            .first()?
            .iter()
            .filter_map(|part| match part.to_ascii_lowercase().as_str() {
                "from" => Some(envelope.from.as_str()),
                "to" => Some(envelope.to.as_str()),
                _ => None,
            })
            .filter_map(|address| address_part(address, spec.address_part))
            .collect(),
        TestKind::Str => lists.first()?.to_vec(),
        TestKind::Header => lists
            .first()?
            .iter()
            .flat_map(|name| header_values(msg, name, spec.index))
            .collect(),
        TestKind::Date => {
            let (name, part) = (lists.first()?.first()?, lists.get(1)?.first()?);
            // Pigeonhole 0.5 evaluates `date :index N [:last]` on the first field, whatever N.
            let index = spec.index.map(|_| (1, false));
            header_values(msg, name, index)
                .iter()
                .filter_map(|v| date_of(name, v))
                .filter_map(|d| date_part(&in_zone(d, &spec.zone, zone)?, part))
                .collect()
        }
        TestKind::CurrentDate => {
            let now = now.with_timezone(&Utc.fix());
            let part = lists.first()?.first()?;
            vec![date_part(&in_zone(now, &spec.zone, zone)?, part)?]
        }
    };
    values
        .iter()
        .find_map(|v| keys.iter().find_map(|k| match_one(spec, v, k)))
}

/// The part of an envelope address (kept unquoted in `Envelope`) a test looks at. The null sender is
/// the empty string whatever the part (RFC 5228 5.4); `:detail` of an address without `+` is none.
fn address_part(address: &str, part: AddressPart) -> Option<String> {
    if address.is_empty() {
        return Some(String::new());
    }
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let value = match part {
        AddressPart::All => address,
        AddressPart::LocalPart => local,
        AddressPart::User => local.split_once('+').map_or(local, |(user, _)| user),
        AddressPart::Detail => local.split_once('+')?.1,
    };
    Some(value.to_string())
}

fn match_one(spec: &Spec, value: &str, key: &str) -> Option<Vec<String>> {
    let fold = spec.comparator == Comparator::Casemap;
    match &spec.match_type {
        Match::Matches => pmatch::matches(value.as_bytes(), key.as_bytes(), fold)
            .map(|vs| vs.into_iter().map(lossy_marked).collect()),
        Match::Regex => regex_values(value, key, fold),
        Match::Is => (compare(spec, value, key) == std::cmp::Ordering::Equal).then(Vec::new),
        Match::Value(op) => {
            let ord = compare(spec, value, key);
            let hit = match op.as_str() {
                "gt" => ord.is_gt(),
                "ge" => ord.is_ge(),
                "lt" => ord.is_lt(),
                "le" => ord.is_le(),
                "eq" => ord.is_eq(),
                "ne" => ord.is_ne(),
                _ => false,
            };
            hit.then(Vec::new)
        }
        Match::Contains => {
            let hit = match spec.comparator {
                Comparator::Casemap => value
                    .to_ascii_lowercase()
                    .contains(&key.to_ascii_lowercase()),
                _ => value.contains(key),
            };
            hit.then(Vec::new)
        }
    }
}

/// A match value that is not UTF-8 (a `?` took one octet of a character) keeps a replacement character,
/// which `fileinto` refuses as Pigeonhole refuses the invalid mailbox name.
fn lossy_marked(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// RFC 4790 9.1 `i;ascii-numeric`: the value of the leading digits; none is positive infinity.
fn compare(spec: &Spec, a: &str, b: &str) -> std::cmp::Ordering {
    match spec.comparator {
        Comparator::Numeric => numeric(a).cmp(&numeric(b)),
        Comparator::Octet => a.as_bytes().cmp(b.as_bytes()),
        Comparator::Casemap => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
    }
}

/// Leading digits as (is-infinite, digits without leading zeros) so any length compares correctly.
fn numeric(s: &str) -> (bool, usize, String) {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return (true, 0, String::new());
    }
    let trimmed = digits.trim_start_matches('0').to_string();
    (false, trimmed.len(), trimmed)
}

fn regex_values(value: &str, key: &str, fold: bool) -> Option<Vec<String>> {
    let pattern = if fold && !key.starts_with("(?i)") {
        format!("(?i){key}")
    } else {
        key.to_string()
    };
    let re = fancy_regex::Regex::new(&pattern).ok()?;
    let caps = re.captures(value).ok()??;
    Some(
        (0..caps.len())
            .map(|i| caps.get(i).map_or("", |m| m.as_str()).to_string())
            .collect(),
    )
}

/// Every value of header `name` in the top-level header, unfolded and RFC 2047-decoded, trimmed; with
/// `:index N` only the Nth (`:last`: counted from the end).
pub(crate) fn header_values(
    msg: &mail_parser::Message<'_>,
    name: &str,
    index: Option<(usize, bool)>,
) -> Vec<String> {
    let Some(part) = msg.parts.first() else {
        return Vec::new();
    };
    let mut all: Vec<String> = part
        .headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| {
            if let HeaderValue::Text(text) = &h.value {
                return Some(text.trim().to_string());
            }
            let raw = msg
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)?;
            Some(decode(raw))
        })
        .collect();
    if let Some((n, last)) = index {
        let n = n.max(1);
        let pick = if last {
            all.len().checked_sub(n)
        } else {
            Some(n - 1)
        };
        all = pick.and_then(|i| all.get(i).cloned()).into_iter().collect();
    }
    all
}

fn decode(raw: &[u8]) -> String {
    let mut line = raw.to_vec();
    if !line.ends_with(b"\n") {
        line.push(b'\n');
    }
    match MessageStream::new(&line).parse_unstructured() {
        HeaderValue::Text(t) => t.trim().to_string(),
        _ => String::new(),
    }
}

/// The date in a header value; for `Received` the part after the last `;` (RFC 5260 4.3? Pigeonhole
/// reads Received this way).
fn date_of(name: &str, value: &str) -> Option<DateTime<FixedOffset>> {
    let text = if name.eq_ignore_ascii_case("received") {
        value.rsplit(';').next()?
    } else {
        value
    };
    let line = format!("{}\n", text.trim());
    let HeaderValue::DateTime(d) = MessageStream::new(line.as_bytes()).parse_date() else {
        return None;
    };
    let secs = i32::from(d.tz_hour) * 3600 + i32::from(d.tz_minute) * 60;
    let offset = FixedOffset::east_opt(if d.tz_before_gmt { -secs } else { secs })?;
    offset
        .with_ymd_and_hms(
            i32::from(d.year),
            u32::from(d.month),
            u32::from(d.day),
            u32::from(d.hour),
            u32::from(d.minute),
            u32::from(d.second),
        )
        .single()
}

fn in_zone(
    d: DateTime<FixedOffset>,
    zone: &Zone,
    given: Option<&str>,
) -> Option<DateTime<FixedOffset>> {
    Some(match zone {
        Zone::Original => d,
        Zone::Local => d.with_timezone(&Local).fixed_offset(),
        Zone::Given => {
            let z = given?;
            let (sign, digits) = z.split_at_checked(1)?;
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let h: i32 = digits[..2].parse().ok()?;
            let m: i32 = digits[2..].parse().ok()?;
            let secs = (h * 60 + m) * 60;
            let off = match sign {
                "+" => FixedOffset::east_opt(secs)?,
                "-" => FixedOffset::west_opt(secs)?,
                _ => return None,
            };
            d.with_timezone(&off)
        }
    })
}

/// RFC 5260 4.2 date parts.
fn date_part(d: &DateTime<FixedOffset>, part: &str) -> Option<String> {
    let off = d.offset().local_minus_utc();
    let zone = format!(
        "{}{:02}{:02}",
        if off < 0 { '-' } else { '+' },
        off.abs() / 3600,
        off.abs() % 3600 / 60
    );
    Some(match part.to_ascii_lowercase().as_str() {
        "year" => format!("{:04}", d.year()),
        "month" => format!("{:02}", d.month()),
        "day" => format!("{:02}", d.day()),
        "date" => d.format("%Y-%m-%d").to_string(),
        "julian" => {
            let mjd_epoch = chrono::NaiveDate::from_ymd_opt(1858, 11, 17)?;
            (d.date_naive() - mjd_epoch).num_days().to_string()
        }
        "hour" => format!("{:02}", d.hour()),
        "minute" => format!("{:02}", d.minute()),
        "second" => format!("{:02}", d.second()),
        "time" => d.format("%H:%M:%S").to_string(),
        "iso8601" => d.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "std11" => format!("{} {zone}", d.format("%a, %d %b %Y %H:%M:%S")),
        "zone" => zone,
        "weekday" => d.weekday().num_days_from_sunday().to_string(),
        _ => return None,
    })
}
