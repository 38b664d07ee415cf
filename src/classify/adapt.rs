//! Tests that triaged evaluates itself because sieve-rs decides them differently from Pigeonhole: the
//! rewrite side. Such a test is replaced in the script by a probe, `mailboxexists` on a marker name
//! followed by the test's string arguments (so sieve-rs expands their variables); the event loop answers
//! the probe with `evaluate.rs` and, when the test sets match variables, stores them in a global
//! variable that a following `string :regex` test copies into `${0}`...`${N}`. It must not change which
//! tests a script has or their order.
//!
//! Adapted tests (anything else stays with sieve-rs):
//! - `date`/`currentdate` with `:regex` (sieve-rs evaluates it as a glob);
//! - `header`/`string` with `:matches` when the key has a `?` or a variable (Pigeonhole's scan differs
//!   from a glob there, see `pmatch.rs`);
//! - `date` with `:index` (Pigeonhole 0.5 reads the first header field whatever the index; sieve-rs
//!   honours it, and misses the date of some `Received` fields);
//! - `header`/`string` with `:comparator "i;ascii-numeric"` (RFC 4790 9.1: only the leading digits
//!   count, a value without them is positive infinity; sieve-rs parses the whole value as a number);
//! - `envelope` with `:localpart`, `:user` or `:detail`, in the form of the script used for a message
//!   whose envelope has a quoted local part (`quoted_envelope`): sieve-rs is handed a sender with a quoted local
//!   part in its quoted form (it refuses the unquoted one) and splits that; Pigeonhole's local part is
//!   unquoted (`"john doe"@example.com` has the local part `john doe`).

use super::fixes::encode_for_sieve_rs;
use super::lexer::{Edit, Kind, Token, arg_range, unquote};

/// Prefix of the mailbox name of an evaluation probe; the spec index follows.
pub(crate) const EVAL_MARKER: &str = "\u{1}triaged-eval:";
/// Global variable holding the match values of the last adapted test that matched, NUL-separated.
pub(crate) const MATCH_VAR: &str = "triaged_mv";

/// Which test, with what match type and comparator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TestKind {
    Envelope,
    Header,
    Str,
    Date,
    CurrentDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    Is,
    Contains,
    Matches,
    Regex,
    /// `:value` with its relation (`gt`, `ge`, `lt`, `le`, `eq`, `ne`), lowercase.
    Value(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Comparator {
    Octet,
    Casemap,
    Numeric,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Zone {
    /// No zone argument: the local time zone.
    Local,
    Original,
    /// `:zone` (its value is the first probe argument).
    Given,
}

/// Which part of an address a test looks at (RFC 5228 2.7.4, RFC 5233).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressPart {
    All,
    LocalPart,
    User,
    Detail,
}

/// One adapted test as compiled; the probe supplies its strings at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub kind: TestKind,
    pub match_type: Match,
    pub comparator: Comparator,
    pub zone: Zone,
    /// `:index N` (1-based) and `:last`.
    pub index: Option<(usize, bool)>,
    /// The address part of an `envelope` test (`:localpart`, `:user`, `:detail`; `:all` otherwise).
    pub address_part: AddressPart,
    /// How many strings each positional argument list has, in order (the keys last).
    pub lists: Vec<usize>,
    /// How many match values to hand back, `${0}` included (0: the script uses none).
    pub match_values: usize,
}

/// A test's parsed arguments: tags with their values, then the positional string lists.
struct Parsed<'t> {
    tags: Vec<(String, Option<&'t Token>)>,
    lists: Vec<Vec<&'t Token>>,
}

fn parse_args<'t>(src: &[u8], args: &'t [Token]) -> Option<Parsed<'t>> {
    let lower = |t: &Token| String::from_utf8_lossy(&src[t.start..t.end]).to_ascii_lowercase();
    let mut out = Parsed {
        tags: Vec::new(),
        lists: Vec::new(),
    };
    let mut i = 0;
    while let Some(t) = args.get(i) {
        match t.kind {
            Kind::Tag => {
                let name = lower(t);
                let takes = matches!(
                    name.as_str(),
                    ":comparator" | ":zone" | ":index" | ":value" | ":count"
                );
                let arg = takes.then(|| args.get(i + 1)).flatten();
                out.tags.push((name, arg));
                i += if takes { 2 } else { 1 };
            }
            Kind::Quoted => {
                out.lists.push(vec![t]);
                i += 1;
            }
            Kind::Open => {
                let close = args[i..].iter().position(|t| t.kind == Kind::Close)? + i;
                let items: Vec<&Token> = args[i + 1..close]
                    .iter()
                    .filter(|t| t.kind != Kind::Comma)
                    .collect();
                if items.iter().any(|t| t.kind != Kind::Quoted) {
                    return None;
                }
                out.lists.push(items);
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The tags a test was given, asked about by name.
struct Tags<'a, 't> {
    src: &'a [u8],
    args: &'a Parsed<'t>,
}

impl Tags<'_, '_> {
    fn has(&self, name: &str) -> bool {
        self.args.tags.iter().any(|t| t.0 == name)
    }

    /// The lowercased string value of a tag that takes one (`:comparator "i;octet"`).
    fn value(&self, name: &str) -> Option<String> {
        let token = self.args.tags.iter().find(|t| t.0 == name)?.1?;
        Some(unquote(self.src, token).to_ascii_lowercase())
    }

    /// The number a tag takes (`:index 2`).
    fn number(&self, name: &str) -> Option<usize> {
        let t = self.args.tags.iter().find(|t| t.0 == name)?.1?;
        std::str::from_utf8(&self.src[t.start..t.end])
            .ok()?
            .parse()
            .ok()
    }

    /// A tag triaged does not evaluate itself, which leaves the test to sieve-rs.
    fn any_unknown(&self) -> bool {
        const KNOWN: [&str; 13] = [
            ":comparator",
            ":zone",
            ":originalzone",
            ":index",
            ":last",
            ":value",
            ":is",
            ":contains",
            ":matches",
            ":regex",
            ":localpart",
            ":user",
            ":detail",
        ];
        self.args
            .tags
            .iter()
            .any(|t| !KNOWN.contains(&t.0.as_str()))
    }
}

/// The spec for the test named `name` with arguments `args`, if triaged must evaluate it.
fn spec_for(
    src: &[u8],
    name: &str,
    args: &Parsed<'_>,
    match_values: usize,
    quoted_envelope: bool,
) -> Option<Spec> {
    let kind = test_kind(name, quoted_envelope)?;
    let tags = Tags { src, args };
    let comparator = comparator(&tags)?;
    let match_type = match_type(&tags)?;
    let address_part = address_part(&tags);
    let keys = args.lists.last()?;
    let dynamic_or_wild = keys.iter().any(|k| {
        let v = unquote(src, k);
        v.contains('?') || v.contains("${")
    });
    let wanted = match (&kind, &match_type) {
        (TestKind::Envelope, _) => address_part != AddressPart::All,
        (TestKind::Date | TestKind::CurrentDate, Match::Regex) => true,
        (TestKind::Date, _) => tags.has(":index"),
        (TestKind::Header | TestKind::Str, Match::Matches) => dynamic_or_wild,
        (TestKind::Header | TestKind::Str, Match::Is | Match::Value(_)) => {
            comparator == Comparator::Numeric
        }
        _ => false,
    };
    if !wanted || tags.any_unknown() {
        return None;
    }
    let sets_values = matches!(match_type, Match::Matches | Match::Regex);
    Some(Spec {
        kind,
        comparator,
        zone: zone(&tags),
        index: tags.number(":index").map(|n| (n, tags.has(":last"))),
        address_part,
        lists: args.lists.iter().map(Vec::len).collect(),
        match_values: if sets_values { match_values } else { 0 },
        match_type,
    })
}

/// The tests triaged may evaluate itself; `envelope` only for an envelope with a quoted local part.
fn test_kind(name: &str, quoted_envelope: bool) -> Option<TestKind> {
    Some(match name {
        "envelope" if quoted_envelope => TestKind::Envelope,
        "header" => TestKind::Header,
        "string" => TestKind::Str,
        "date" => TestKind::Date,
        "currentdate" => TestKind::CurrentDate,
        _ => return None,
    })
}

fn comparator(tags: &Tags<'_, '_>) -> Option<Comparator> {
    match tags.value(":comparator").as_deref() {
        None | Some("i;ascii-casemap") => Some(Comparator::Casemap),
        Some("i;octet") => Some(Comparator::Octet),
        Some("i;ascii-numeric") => Some(Comparator::Numeric),
        Some(_) => None,
    }
}

/// The match type; `None` for `:count`, which sieve-rs decides as Pigeonhole does.
fn match_type(tags: &Tags<'_, '_>) -> Option<Match> {
    Some(if tags.has(":regex") {
        Match::Regex
    } else if tags.has(":matches") {
        Match::Matches
    } else if tags.has(":contains") {
        Match::Contains
    } else if tags.has(":count") {
        return None;
    } else if let Some(op) = tags.value(":value") {
        Match::Value(op)
    } else {
        Match::Is
    })
}

fn address_part(tags: &Tags<'_, '_>) -> AddressPart {
    if tags.has(":localpart") {
        AddressPart::LocalPart
    } else if tags.has(":user") {
        AddressPart::User
    } else if tags.has(":detail") {
        AddressPart::Detail
    } else {
        AddressPart::All
    }
}

fn zone(tags: &Tags<'_, '_>) -> Zone {
    if tags.has(":zone") {
        Zone::Given
    } else if tags.has(":originalzone") {
        Zone::Original
    } else {
        Zone::Local
    }
}

/// How many match values the script can refer to: the highest `${N}` plus one (`${0}` is the whole
/// match), 0 if it refers to none.
pub(crate) fn match_value_count(src: &[u8]) -> usize {
    let text = String::from_utf8_lossy(src);
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split('}').next()?.trim().parse::<usize>().ok())
        .max()
        .map_or(0, |n| n + 1)
}

/// Replaces every test triaged must evaluate with its probe; the specs are numbered from `base`.
pub(crate) fn rewrite_tests(
    src: &[u8],
    tokens: &[Token],
    base: usize,
    variables: bool,
    quoted_envelope: bool,
    edits: &mut Vec<Edit>,
) -> Vec<Spec> {
    let wanted_values = if variables { match_value_count(src) } else { 0 };
    let mut specs = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| &tokens[p]);
        let in_test_position = tok.kind == Kind::Ident
            && prev.is_some_and(|p| match p.kind {
                Kind::LParen | Kind::Comma => true,
                Kind::Ident => {
                    let w = &src[p.start..p.end];
                    [&b"if"[..], b"elsif", b"not"]
                        .iter()
                        .any(|k| w.eq_ignore_ascii_case(k))
                }
                _ => false,
            });
        if !in_test_position {
            continue;
        }
        let name = String::from_utf8_lossy(&src[tok.start..tok.end]).to_ascii_lowercase();
        let range = arg_range(tokens, i);
        let Some(args) = parse_args(src, &tokens[range.clone()]) else {
            continue;
        };
        let Some(spec) = spec_for(src, &name, &args, wanted_values, quoted_envelope) else {
            continue;
        };
        let Some(text) = probe_text(src, base + specs.len(), &spec, &args) else {
            continue;
        };
        let end = tokens[range.end - 1].end;
        edits.push((tok.start, end, text));
        specs.push(spec);
    }
    specs
}

fn probe_text(src: &[u8], id: usize, spec: &Spec, args: &Parsed<'_>) -> Option<String> {
    let mut names = vec![format!("\"{EVAL_MARKER}{id}\"")];
    if spec.zone == Zone::Given {
        let zone = args.tags.iter().find(|t| t.0 == ":zone")?.1?;
        names.push(encode_for_sieve_rs(&unquote(src, zone))?);
    }
    for tok in args.lists.iter().flatten() {
        names.push(encode_for_sieve_rs(&unquote(src, tok))?);
    }
    let probe = format!("mailboxexists [{}]", names.join(", "));
    if spec.match_values == 0 {
        return Some(probe);
    }
    // `${0}` is the text before the first NUL; each group after it is `${1}`, `${2}`, ...
    let groups = "\\\\x00([^\\\\x00]*)".repeat(spec.match_values - 1);
    Some(format!(
        "allof({probe}, string :regex \"${{global.{MATCH_VAR}}}\" \"^(?s)[^\\\\x00]*(?={groups}$)\")"
    ))
}
