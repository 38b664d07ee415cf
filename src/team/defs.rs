//! The roles file (each role's preconditions) and the checklists file (Welcome, Start, New SE, ...):
//! TOML shipped inside the binary from `team/`, each replaced as a whole by `[team] roles_file` and
//! `[team] checklists_file`. Both are read with their spans, so a file that does not parse, or that
//! names an unknown role, fact or action, is reported as `FILE:LINE: problem`, every problem at once.
//!
//! Owns the files' grammar and their checks; evaluating a precondition is `promote`, opening a checklist
//! is `checklist`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Fact, Role};

/// The shipped roles file.
pub const SHIPPED_ROLES: &str = include_str!("../../team/roles.toml");
/// The shipped checklists file.
pub const SHIPPED_CHECKLISTS: &str = include_str!("../../team/checklists.toml");

/// What triaged does itself that may tick a checklist item, with what does it.
pub const ACTIONS: &[(&str, &str)] = &[
    (
        "welcome-pack",
        "send welcome --role triage queued the welcome pack",
    ),
    (
        "welcome-pack-se",
        "send welcome --role se queued the Support Engineer welcome pack",
    ),
    ("mailbox-rights", "rights on the support@ mailbox applied"),
    (
        "list-rights",
        "mailing-list subscriptions and posting rights applied",
    ),
    ("smime-cert", "the member's S/MIME certificate learnt"),
];

/// One precondition of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Require {
    /// The fact is recorded (and holds: an ABC completed and passed).
    Fact(Fact),
    /// A served term in the role; `None` means `[team] triage_term`.
    Served { role: Role, term: Option<Duration> },
    /// Holds the role, or a later one of the pipeline.
    Holds(Role),
}

/// A precondition and how it reads in a refusal when the file says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precondition {
    pub require: Require,
    pub text: Option<String>,
}

/// A checklist: opened for a member entering `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checklist {
    pub id: String,
    pub title: String,
    pub role: Role,
    pub items: Vec<Item>,
}

/// One item of a checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub text: String,
    /// Overdue this long after the checklist opens.
    pub due: Option<Duration>,
    /// Ticked by triaged once all of these are recorded.
    pub facts: Vec<Fact>,
    /// Ticked by triaged when it does this (one of [`ACTIONS`]).
    pub action: Option<String>,
}

/// A file's text and how to name it in messages.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path, or `team/roles.toml (shipped)`.
    pub label: String,
    pub text: String,
}

impl Source {
    /// `LABEL:LINE: message` for the byte `span` of the text.
    fn at(&self, span: Option<Range<usize>>, message: impl std::fmt::Display) -> String {
        match span {
            Some(span) => {
                let before = &self.text[..span.start.min(self.text.len())];
                let line = before.matches('\n').count() + 1;
                format!("{}:{line}: {message}", self.label)
            }
            None => format!("{}: {message}", self.label),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    #[serde(default)]
    requires: Vec<Spanned<RawRequire>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequire {
    fact: Option<Spanned<String>>,
    served: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    term: Option<Spanned<String>>,
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklists {
    #[serde(default)]
    checklist: Vec<RawChecklist>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklist {
    id: Spanned<String>,
    title: String,
    role: Spanned<String>,
    #[serde(default)]
    item: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    text: String,
    due: Option<Spanned<String>>,
    #[serde(default)]
    facts: Vec<Spanned<String>>,
    action: Option<Spanned<String>>,
}

/// Parses a TOML file into `T`, or one `FILE:LINE` error.
fn parse<T: for<'de> Deserialize<'de>>(src: &Source) -> Result<T, String> {
    toml::from_str(&src.text).map_err(|e| src.at(e.span(), e.message().trim_end()))
}

/// Reads a spanned name with `parse`, pushing `FILE:LINE` on failure.
fn named<T, E: std::fmt::Display>(
    src: &Source,
    value: &Spanned<String>,
    parse: impl Fn(&str) -> Result<T, E>,
    errors: &mut Vec<String>,
) -> Option<T> {
    parse(value.get_ref())
        .map_err(|e| errors.push(src.at(Some(value.span()), e)))
        .ok()
}

fn duration(src: &Source, value: &Spanned<String>, errors: &mut Vec<String>) -> Option<Duration> {
    named(src, value, crate::config::parse_duration, errors)
}

/// The roles file: each role's preconditions (a role left out requires nothing).
pub fn roles(src: &Source, errors: &mut Vec<String>) -> BTreeMap<Role, Vec<Precondition>> {
    let raw: BTreeMap<Spanned<String>, Spanned<RawRole>> = match parse(src) {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(e);
            return BTreeMap::new();
        }
    };
    let mut out = BTreeMap::new();
    for (name, def) in raw {
        let Some(role) = named(src, &name, str::parse::<Role>, errors) else {
            continue;
        };
        let requires = def
            .into_inner()
            .requires
            .into_iter()
            .filter_map(|r| precondition(src, r, errors))
            .collect();
        out.insert(role, requires);
    }
    out
}

fn precondition(
    src: &Source,
    raw: Spanned<RawRequire>,
    errors: &mut Vec<String>,
) -> Option<Precondition> {
    let span = raw.span();
    let raw = raw.into_inner();
    let given = [&raw.fact, &raw.served, &raw.role]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if given != 1 {
        errors.push(src.at(
            Some(span),
            "a precondition is exactly one of { fact = \"...\" }, { served = \"...\" }, { role = \"...\" }",
        ));
        return None;
    }
    if let (Some(term), None) = (&raw.term, &raw.served) {
        errors.push(src.at(Some(term.span()), "term goes with served"));
        return None;
    }
    let require = if let Some(fact) = &raw.fact {
        Require::Fact(named(src, fact, str::parse::<Fact>, errors)?)
    } else if let Some(served) = &raw.served {
        let role = named(src, served, str::parse::<Role>, errors)?;
        let term = match &raw.term {
            Some(t) => Some(duration(src, t, errors)?),
            None if role == Role::Triage => None,
            None => {
                errors.push(src.at(
                    Some(served.span()),
                    format!(
                        "served = \"{role}\" needs a term (only triage has [team] triage_term)"
                    ),
                ));
                return None;
            }
        };
        Require::Served { role, term }
    } else {
        let role = raw.role.as_ref()?;
        Require::Holds(named(src, role, str::parse::<Role>, errors)?)
    };
    Some(Precondition {
        require,
        text: raw.text,
    })
}

/// The checklists file.
pub fn checklists(src: &Source, errors: &mut Vec<String>) -> Vec<Checklist> {
    let raw: RawChecklists = match parse(src) {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(e);
            return Vec::new();
        }
    };
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    for list in raw.checklist {
        if !ids.insert(list.id.get_ref().clone()) {
            let id = list.id.get_ref();
            errors.push(src.at(Some(list.id.span()), format!("checklist {id:?} twice")));
        }
        let role = named(src, &list.role, str::parse::<Role>, errors);
        let items = items(src, list.item, errors);
        if let Some(role) = role {
            out.push(Checklist {
                id: list.id.into_inner(),
                title: list.title,
                role,
                items,
            });
        }
    }
    out
}

fn items(src: &Source, raw: Vec<RawItem>, errors: &mut Vec<String>) -> Vec<Item> {
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    for item in raw {
        let id = item.id.get_ref().clone();
        if id.is_empty() || id.contains(['/', ' ']) {
            errors.push(src.at(
                Some(item.id.span()),
                format!("item id {id:?} must be a word without / or spaces"),
            ));
        } else if !ids.insert(id.clone()) {
            errors.push(src.at(Some(item.id.span()), format!("item {id:?} twice")));
        }
        let due = item.due.as_ref().and_then(|d| duration(src, d, errors));
        let facts = item
            .facts
            .iter()
            .filter_map(|f| named(src, f, str::parse::<Fact>, errors))
            .collect();
        let action = item
            .action
            .as_ref()
            .and_then(|a| named(src, a, known_action, errors));
        out.push(Item {
            id,
            text: item.text,
            due,
            facts,
            action,
        });
    }
    out
}

fn known_action(name: &str) -> Result<String, super::Unknown> {
    ACTIONS
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(a, _)| (*a).to_owned())
        .ok_or_else(|| {
            super::Unknown::new(
                "action",
                name,
                ACTIONS.iter().map(|(a, _)| (*a).to_owned()).collect(),
            )
        })
}
