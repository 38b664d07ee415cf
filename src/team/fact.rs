//! The facts triaged records about a person, each with what value it takes: Assurer status, the
//! agreements (small print, CCA, SP, DRP), a personal recommendation, a client certificate, chat and wiki
//! handles, the training levels (Support-1…4 and Triage-1…4, the "fiddle" levels), an Arbitrated
//! Background Check with its case number `aYYYYMMDD.N` and result, Board approval with its date, the
//! appointments that make a Case Manager or an Arbitrator, and what the rights and S/MIME work needs
//! (`imap-user`, `smime-cert`).
//!
//! Owns which facts exist and the grammar of their values; whether a role requires one is the roles file.

use std::fmt;

use chrono::NaiveDate;

use super::{Invalid, Unknown};

/// What a fact's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// The fact takes no value: it is recorded or not.
    None,
    /// A free text that may be left out (who recommended, a reference).
    Optional(&'static str),
    /// A free text that must be given (a handle, a login).
    Required(&'static str),
    /// A date, `YYYY-MM-DD`.
    Date,
    /// `[aYYYYMMDD.N] pending|passed|failed`.
    Abc,
}

/// One known fact.
#[derive(Debug)]
pub struct FactDef {
    pub name: &'static str,
    /// How the fact reads in a list of preconditions ("SP agreed").
    pub title: &'static str,
    pub value: Value,
}

const fn def(name: &'static str, title: &'static str, value: Value) -> FactDef {
    FactDef { name, title, value }
}

/// Every fact, in the order `team show` lists them.
pub static FACTS: &[FactDef] = &[
    def("assurer", "Assurer", Value::None),
    def(
        "recommendation",
        "a personal recommendation",
        Value::Optional("who recommended"),
    ),
    def("small-print", "small print agreed", Value::None),
    def("cca", "CCA agreed", Value::None),
    def("sp", "SP agreed", Value::None),
    def("drp", "DRP agreed", Value::None),
    def(
        "client-cert",
        "a client certificate in mail client and browser",
        Value::None,
    ),
    def("chat", "a chat handle", Value::Required("the handle")),
    def("wiki", "a wiki handle", Value::Required("the handle")),
    def("support-1", "Support-1 passed", Value::None),
    def("support-2", "Support-2 passed", Value::None),
    def("support-3", "Support-3 passed", Value::None),
    def("support-4", "Support-4 passed", Value::None),
    def("triage-1", "Triage-1 passed", Value::None),
    def("triage-2", "Triage-2 passed", Value::None),
    def("triage-3", "Triage-3 passed", Value::None),
    def("triage-4", "Triage-4 passed", Value::None),
    def(
        "abc",
        "a completed ABC (case number aYYYYMMDD.N, result passed)",
        Value::Abc,
    ),
    def("board-approval", "Board approval", Value::Date),
    def(
        "cm-appointment",
        "an appointment as Case Manager by Arbitration",
        Value::Optional("the case or reference"),
    ),
    def(
        "arbitrator-appointment",
        "an appointment as Arbitrator",
        Value::Optional("the case or reference"),
    ),
    def(
        "imap-user",
        "an IMAP login for the support mailbox",
        Value::Required("the IMAP user name"),
    ),
    def(
        "smime-cert",
        "an S/MIME certificate",
        Value::Required("the certificate's fingerprint or file"),
    ),
];

/// A known fact.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fact(&'static str);

impl fmt::Debug for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fact({})", self.0)
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::str::FromStr for Fact {
    type Err = Unknown;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase();
        FACTS
            .iter()
            .find(|d| d.name == key)
            .map(|d| Fact(d.name))
            .ok_or_else(|| Unknown::new("fact", s, Fact::names()))
    }
}

impl Fact {
    /// The ABC fact, which `dispute abc` records as pending.
    pub const ABC: Fact = Fact("abc");
    /// The IMAP login the rights work grants mailbox access to.
    pub const IMAP_USER: Fact = Fact("imap-user");
    /// The member's S/MIME certificate, recorded by the S/MIME work.
    pub const SMIME_CERT: Fact = Fact("smime-cert");

    pub fn name(self) -> &'static str {
        self.0
    }

    fn def(self) -> &'static FactDef {
        FACTS.iter().find(|d| d.name == self.0).unwrap_or(&FACTS[0])
    }

    pub fn title(self) -> &'static str {
        self.def().title
    }

    pub fn value(self) -> Value {
        self.def().value
    }

    /// Every fact's name, in order.
    pub fn names() -> Vec<String> {
        FACTS.iter().map(|d| d.name.to_owned()).collect()
    }

    /// Checks `value` against the fact's grammar and returns it as stored (an ABC normalised to
    /// `CASE RESULT`, a date as `YYYY-MM-DD`).
    pub fn check_value(self, value: &str) -> Result<String, Invalid> {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match (self.value(), value.is_empty()) {
            (Value::None, true) | (Value::Optional(_), _) => Ok(value),
            (Value::None, false) => Err(Invalid(format!(
                "fact {self} takes no value (got {value:?})"
            ))),
            (Value::Required(what), true) => {
                Err(Invalid(format!("fact {self} needs a value: {what}")))
            }
            (Value::Required(_), false) => Ok(value),
            (Value::Date, _) => NaiveDate::parse_from_str(&value, "%Y-%m-%d")
                .map(|d| d.format("%Y-%m-%d").to_string())
                .map_err(|_| {
                    Invalid(format!(
                        "fact {self} needs a date YYYY-MM-DD (got {value:?})"
                    ))
                }),
            (Value::Abc, _) => Abc::parse(&value).map(|abc| abc.to_string()),
        }
    }

    /// Whether a recorded value makes the fact hold for a precondition: an ABC only when complete (a
    /// case number and the result `passed`), every other fact by being recorded.
    pub fn holds(self, value: &str) -> bool {
        match self.value() {
            Value::Abc => Abc::parse(value).is_ok_and(|a| a.completed()),
            _ => true,
        }
    }
}

/// The result of an Arbitrated Background Check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbcResult {
    Pending,
    Passed,
    Failed,
}

/// An ABC as recorded: its arbitration case number, once there is one, and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abc {
    pub case: Option<String>,
    pub result: AbcResult,
}

impl Abc {
    /// Reads `[aYYYYMMDD.N] [pending|passed|failed]` (a case alone is pending); `passed` and `failed`
    /// need the case number.
    pub fn parse(text: &str) -> Result<Abc, Invalid> {
        let mut case = None;
        let mut result = None;
        for word in text.split([' ', ',', ':']).filter(|w| !w.is_empty()) {
            let lower = word.to_ascii_lowercase();
            match lower.as_str() {
                "pending" => result = Some(AbcResult::Pending),
                "passed" | "pass" => result = Some(AbcResult::Passed),
                "failed" | "fail" => result = Some(AbcResult::Failed),
                _ if is_case_number(&lower) => case = Some(lower),
                _ => {
                    return Err(Invalid(format!(
                        "abc: {word:?} is neither a case number aYYYYMMDD.N nor pending, passed or failed"
                    )));
                }
            }
        }
        let result = result.unwrap_or(AbcResult::Pending);
        if case.is_none() && result != AbcResult::Pending {
            return Err(Invalid(
                "abc: a result needs the arbitration case number (aYYYYMMDD.N)".to_owned(),
            ));
        }
        Ok(Abc { case, result })
    }

    /// A case number and the result `passed`.
    pub fn completed(&self) -> bool {
        self.case.is_some() && self.result == AbcResult::Passed
    }
}

impl fmt::Display for Abc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let result = match self.result {
            AbcResult::Pending => "pending",
            AbcResult::Passed => "passed",
            AbcResult::Failed => "failed",
        };
        match &self.case {
            Some(case) => write!(f, "{case} {result}"),
            None => f.write_str(result),
        }
    }
}

/// `aYYYYMMDD.N` with a real date, as arbitration numbers its cases (`a20071225.1`).
pub fn is_case_number(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('a') else {
        return false;
    };
    let Some((date, n)) = rest.split_once('.') else {
        return false;
    };
    date.len() == 8
        && NaiveDate::parse_from_str(date, "%Y%m%d").is_ok()
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
}
