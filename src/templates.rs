//! The team's mail templates: a minijinja environment in strict-undefined mode, one template per kind of
//! mail with a TOML front matter block (subject, default recipients, extra headers, signing and
//! encryption policy), rendered from a typed context into a [`RenderedMail`].
//!
//! Templates ship inside the binary (`templates/*.txt`); `[outbox] templates_dir` overrides them name by
//! name. Every value that reaches a header is checked here (no CR or LF) and every address is parsed into
//! a [`Mailbox`]; this module never builds MIME, signs or sends (that is `outbox`).

mod contexts;
mod front_matter;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use lettre::message::Mailbox;
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

pub use self::contexts::{
    AbcFiling, Ack, DisputeEscalation, HandoverNotice, MailContext, Ping, Role, Welcome,
    first_name, sample_contexts,
};
use self::front_matter::FrontMatter;
pub use self::front_matter::{AutoSubmitted, Encrypt, SchemeChoice};

/// The shipped templates, by name; each file is `templates/NAME.txt`.
const SHIPPED: &[(&str, &str)] = &[
    (
        "welcome-triage",
        include_str!("../templates/welcome-triage.txt"),
    ),
    ("welcome-se", include_str!("../templates/welcome-se.txt")),
    ("abc-filing", include_str!("../templates/abc-filing.txt")),
    ("ack", include_str!("../templates/ack.txt")),
    (
        "handover-notice",
        include_str!("../templates/handover-notice.txt"),
    ),
    ("ping", include_str!("../templates/ping.txt")),
    (
        "dispute-escalation",
        include_str!("../templates/dispute-escalation.txt"),
    ),
];

/// A value that would reach a header unsafely (a line break, a bad header name): the mail is refused
/// before anything is queued. Callers map it to a usage error (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct UnsafeValue {
    /// The header or argument the value was meant for (`to`, `subject`, `header X-Foo`).
    pub field: String,
    pub reason: String,
}

impl UnsafeValue {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        UnsafeValue {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Refuses a value containing CR, LF or another control character, which could start a new header.
pub fn check_header_value(field: &str, value: &str) -> Result<(), UnsafeValue> {
    if value.contains(['\r', '\n']) {
        return Err(UnsafeValue::new(field, "contains a line break"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(UnsafeValue::new(field, "contains a control character"));
    }
    Ok(())
}

/// Parses one address (`Name <addr>` or `addr`), refusing line breaks first: addresses are parsed,
/// never pasted into a header.
pub fn parse_address(field: &str, text: &str) -> Result<Mailbox, UnsafeValue> {
    check_header_value(field, text)?;
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| UnsafeValue::new(field, format!("{text:?} is not an address: {e}")))
}

/// A mail rendered from a template: everything the outbox needs to compose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedMail {
    /// The template's name (`welcome-triage`), kept for listings and audit.
    pub template: String,
    pub subject: String,
    #[serde(with = "mailboxes")]
    pub to: Vec<Mailbox>,
    #[serde(with = "mailboxes")]
    pub cc: Vec<Mailbox>,
    /// Extra headers from the front matter, checked for line breaks and reserved names.
    pub headers: BTreeMap<String, String>,
    /// Threading, set by callers that answer a message (`<id@host>` forms).
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// Sign with the team's key or certificate when a scheme is configured.
    pub sign: bool,
    pub encrypt: Encrypt,
    /// Which scheme signs and encrypts (`auto` when absent, as in mail queued before templates chose).
    #[serde(default)]
    pub scheme: SchemeChoice,
    pub auto_submitted: AutoSubmitted,
    /// The text body, LF line endings, no trailing spaces, ending in one newline.
    pub body: String,
}

impl RenderedMail {
    /// A plain-text view for golden files, dry runs of templates and `check`.
    pub fn summary(&self) -> String {
        let list = |m: &[Mailbox]| {
            m.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = format!(
            "Template: {}\nSubject: {}\nTo: {}\n{}Sign: {}\nEncrypt: {}\nAuto-Submitted: {}\n",
            self.template,
            self.subject,
            list(&self.to),
            if self.cc.is_empty() {
                String::new()
            } else {
                format!("Cc: {}\n", list(&self.cc))
            },
            self.sign,
            self.encrypt.as_str(),
            self.auto_submitted.as_str(),
        );
        if self.scheme != SchemeChoice::Auto {
            out.push_str(&format!("Scheme: {}\n", self.scheme.as_str()));
        }
        for (name, value) in &self.headers {
            out.push_str(&format!("Header {name}: {value}\n"));
        }
        out.push('\n');
        out.push_str(&self.body);
        out
    }
}

/// The loaded templates, ready to render.
pub struct Templates {
    env: Environment<'static>,
    /// Front matter per template name, parsed at load so a broken one fails at start.
    front: BTreeMap<String, FrontMatter>,
    /// Where each template came from (`shipped` or the override file), for messages.
    origin: BTreeMap<String, String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("origin", &self.origin)
            .finish()
    }
}

impl Templates {
    /// Loads the shipped templates, then any `NAME.txt` in `dir` over them; a file in `dir` that is not
    /// a known template is an error (a misspelt override would otherwise be ignored silently).
    pub fn load(dir: Option<&Path>) -> Result<Templates> {
        let mut sources: BTreeMap<String, (String, String)> = SHIPPED
            .iter()
            .map(|(n, s)| ((*n).to_owned(), ((*s).to_owned(), "shipped".to_owned())))
            .collect();
        if let Some(dir) = dir {
            read_overrides(dir, &mut sources)?;
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        let mut front = BTreeMap::new();
        let mut origin = BTreeMap::new();
        for (name, (text, from)) in sources {
            let (matter, body) =
                front_matter::split(&text).with_context(|| format!("template {name} ({from})"))?;
            env.add_template_owned(body_name(&name), body.to_owned())
                .with_context(|| format!("compile template {name} ({from})"))?;
            front.insert(name.clone(), matter);
            origin.insert(name, from);
        }
        Ok(Templates { env, front, origin })
    }

    /// The names of every template, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.front.keys().map(String::as_str)
    }

    /// Renders the template the context names.
    pub fn render<C: MailContext>(&self, ctx: &C) -> Result<RenderedMail> {
        self.render_named(ctx.template(), ctx)
    }

    /// Renders template `name` with any serialisable context.
    pub fn render_named(&self, name: &str, ctx: &impl Serialize) -> Result<RenderedMail> {
        let matter = self
            .front
            .get(name)
            .with_context(|| format!("no template named {name:?}"))?;
        let origin = self.origin.get(name).map_or("", String::as_str);
        let value = minijinja::Value::from_serialize(ctx);
        let body = self
            .env
            .get_template(&body_name(name))
            .and_then(|t| t.render(&value))
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| format!("render template {name} ({origin})"))?;
        let one = |field: &str, text: &str| -> Result<String> {
            self.env
                .render_named_str(&format!("{name}:{field}"), text, &value)
                .map_err(|e| anyhow::anyhow!("{e:#}"))
                .with_context(|| format!("render {field} of template {name} ({origin})"))
        };
        matter.render(name, &one, tidy_body(&body))
    }

    /// Renders every template with its sample context (what `triaged check` does).
    pub fn render_samples(&self) -> Result<Vec<RenderedMail>> {
        sample_contexts()
            .iter()
            .map(|(name, ctx)| self.render_named(name, ctx))
            .collect()
    }
}

fn body_name(name: &str) -> String {
    format!("{name}.txt")
}

fn read_overrides(dir: &Path, sources: &mut BTreeMap<String, (String, String)>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("read templates_dir {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("read templates_dir {}", dir.display()))?
            .path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".txt"))
        else {
            continue;
        };
        if !sources.contains_key(stem) {
            let known: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
            anyhow::bail!(
                "template {} is not a known template (known: {})",
                path.display(),
                known.join(", ")
            );
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("read template {}", path.display()))?;
        sources.insert(stem.to_owned(), (text, path.display().to_string()));
    }
    Ok(())
}

/// Strips trailing spaces from every line (they would not survive transport under a signature) and
/// ends the body with exactly one newline.
fn tidy_body(body: &str) -> String {
    let mut out: String = body
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

/// Serde for address lists as their display strings, parsed back on load.
mod mailboxes {
    use lettre::message::Mailbox;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(list: &[Mailbox], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(ToString::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Mailbox>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
#[path = "templates/templates_tests.rs"]
mod tests;
