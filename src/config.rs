//! The configuration: `triaged.toml` read, checked and resolved once into [`Config`].
//!
//! Every problem is collected with its key path (`mailbox.url`) so `triaged check` can report them all at
//! once. Relative paths resolve against the config file's directory. Secrets come only from `*_file` or
//! `*_env` keys and are wrapped in [`Secret`], whose `Debug` is redacted. This module reads files and
//! environment variables named by the config and does no other I/O.

mod asset;
mod hours;
mod mailboxes;
mod mailman;
mod records;
mod smime;
mod team;
mod url;
mod value;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;

pub use self::asset::{AssetConfig, AssetKind, asset_key};
pub use self::hours::BusinessHours;
pub use self::mailboxes::{DEFAULT_MAILBOX, LeaseConfig, MailboxEntry};
pub use self::mailman::MailmanConfig;
pub(crate) use self::records::key_part;
pub use self::records::{DisputesConfig, EscalateAfter, RetentionConfig, SlaConfig};
pub use self::team::TeamConfig;
pub use self::url::{ImapSecurity, MailboxSource, SmtpSecurity, Transport};
use self::value::Table;
pub use self::value::{parse_duration, parse_mailbox, parse_size};

/// A secret (password, passphrase) read from a file or the environment. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that hands it to a server or a key.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One problem in the config, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path (`mailbox.password_file`), or the table name for table-level problems.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in one config file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors {
    pub file: PathBuf,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{}: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  {}: {e}", self.file.display())?;
        }
        Ok(())
    }
}

/// The validated configuration the rest of the program sees.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from; its directory anchors relative paths.
    pub file: PathBuf,
    /// The first mailbox (the only one of a `[mailbox]` table): the one commands that act on a single
    /// mailbox use. `run` watches every entry of `mailboxes`.
    pub mailbox: MailboxConfig,
    /// Every mailbox, in file order: `[mailbox]` as one named `default`, or each `[[mailbox]]`.
    pub mailboxes: Vec<MailboxEntry>,
    /// How long a worker holds a mailbox it leases (PostgreSQL).
    pub lease: LeaseConfig,
    pub store: StoreConfig,
    pub rules: RulesConfig,
    pub outbox: OutboxConfig,
    /// Present only when `[openpgp]` is configured: mail is then signed/encrypted as templates ask.
    pub openpgp: Option<OpenPgpConfig>,
    /// Present only when `[smime]` is configured: the team's X.509 identity and the trust roots.
    pub smime: Option<SmimeConfig>,
    pub ack: AckConfig,
    pub disputes: DisputesConfig,
    pub sla: SlaConfig,
    pub retention: RetentionConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    /// Present only when `[mailman]` is configured: mailing lists are then reached through its REST API.
    pub mailman: Option<MailmanConfig>,
    /// The roster's settings: roles and checklists files, Triage term, ping grace, critical roles.
    pub team: TeamConfig,
    /// The `[[asset]]` tables, in file order: what changes hands in a handover.
    pub assets: Vec<AssetConfig>,
}

/// What to do with mail already in the watched folder the first time it is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    Process,
    Skip,
}

#[derive(Debug, Clone)]
pub struct MailboxConfig {
    /// The mailbox's label (`default` for a `[mailbox]` table); the store knows it by its source.
    pub name: String,
    pub source: MailboxSource,
    /// IMAP password; required for IMAP sources.
    pub password: Option<Secret>,
    /// Extra trust root for the IMAP server's certificate (a private CA).
    pub ca_file: Option<PathBuf>,
    pub backlog: Backlog,
    /// How often to look for new mail when the server has no IDLE.
    pub poll_interval: Duration,
    /// No byte from the server for this long means the connection is dead.
    pub liveness_limit: Duration,
    /// Folder for mail that cannot be parsed or classified.
    pub quarantine: String,
    /// Folder for mail whose verdict leaves no folder (discard, reject, redirect without :copy).
    pub trash: String,
    /// Expunge such mail instead of moving it to `trash`.
    pub allow_delete: bool,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A URL sqlx understands: `sqlite:///abs/path?mode=rwc` or `postgres://...`.
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct RulesConfig {
    /// The Sieve script every message runs through.
    pub script: PathBuf,
    /// Where `include` (`:personal`, the default) finds scripts.
    pub include_dir: PathBuf,
    /// Where `include :global` finds scripts (Pigeonhole's `sieve_global`); defaults to `include_dir`.
    pub global_dir: PathBuf,
    /// Messages larger than this get an error verdict instead of being parsed.
    pub max_message_size: u64,
    /// Sieve instructions one message may cost before evaluation stops with an error verdict.
    pub cpu_limit: usize,
}

#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub transport: Transport,
    /// SMTP AUTH user; the password comes from `password_file`/`password_env`.
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// Extra trust root for the SMTP server's certificate.
    pub ca_file: Option<PathBuf>,
    /// The team's own address: sender of every mail, and never acknowledged.
    pub from: Mailbox,
    /// Templates here override the shipped ones, name by name.
    pub templates_dir: Option<PathBuf>,
    /// Delays between attempts after a transient failure; the last one repeats.
    pub retry: Vec<Duration>,
    /// A mail still undelivered this long after it was queued is marked failed.
    pub give_up_after: Duration,
    /// The order `scheme = "auto"` prefers the configured schemes in (TOML keeps no table order).
    pub schemes: Vec<Scheme>,
}

/// A way of signing and encrypting mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// X.509 certificates and CMS (RFC 8551), `[smime]`.
    Smime,
    /// OpenPGP keys (RFC 3156 PGP/MIME), `[openpgp]`.
    OpenPgp,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Smime => "smime",
            Scheme::OpenPgp => "openpgp",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct OpenPgpConfig {
    /// The team's secret key (signing).
    pub key_file: PathBuf,
    pub passphrase: Option<Secret>,
    /// Recipients' certificates, for encryption.
    pub keyring: Option<PathBuf>,
}

/// Where the team's X.509 identity comes from: PEM files, or one PKCS#12 file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmimeIdentity {
    Pem {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
    Pkcs12 {
        pkcs12_file: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct SmimeConfig {
    /// The team's certificate and private key (signing, and decrypting what it sent itself).
    pub identity: SmimeIdentity,
    /// Passphrase of the PKCS#12 file or of an encrypted PEM key.
    pub passphrase: Option<Secret>,
    /// Intermediate certificates sent with every signature.
    pub chain_file: Option<PathBuf>,
    /// Trust roots a member's certificate must chain to before it is learnt from signed mail.
    pub ca_file: Option<PathBuf>,
    /// Members' certificates, for encryption.
    pub certs_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct AckConfig {
    /// Buckets whose new threads get an acknowledgement; none by default.
    pub buckets: Vec<String>,
    /// At most one acknowledgement per sender per period.
    pub period: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Address of the Prometheus/health listener; none when absent.
    pub listen: Option<SocketAddr>,
}

impl Config {
    /// Whether the watched mailbox is a local Maildir (no IMAP, so no ACLs).
    pub fn mailbox_is_maildir(&self) -> bool {
        !matches!(self.mailbox.source, MailboxSource::Imap { .. })
    }

    /// Reads and validates the file, reporting every problem at once.
    pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
        let fail = |errors| ConfigErrors {
            file: file.to_owned(),
            errors,
        };
        let text = std::fs::read_to_string(file).map_err(|e| {
            fail(vec![ConfigError::new(
                "(file)",
                format!("cannot read: {e}"),
            )])
        })?;
        Config::parse(file, &text)
    }

    /// [`Config::load`] with `text` as the contents of `file` (which is not read: it names the config in
    /// messages, and relative paths are resolved from its directory).
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
        let fail = |errors| ConfigErrors {
            file: file.to_owned(),
            errors,
        };
        let root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| fail(vec![toml_error(text, &e)]))?;
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
        let base = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut errors = Vec::new();
        let config = read(file, &root, &base, &mut errors);
        match config {
            Some(c) if errors.is_empty() => Ok(c),
            _ => Err(fail(errors)),
        }
    }
}

/// Names the line and column of a TOML syntax error.
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let at = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {col}")
    });
    ConfigError::new(
        at.unwrap_or_else(|| "(syntax)".to_owned()),
        e.message().to_owned(),
    )
}

const TABLES: &[&str] = &[
    "mailbox",
    "lease",
    "store",
    "rules",
    "outbox",
    "openpgp",
    "smime",
    "ack",
    "disputes",
    "sla",
    "retention",
    "log",
    "metrics",
    "mailman",
    "team",
    "asset",
];

fn read(
    file: &Path,
    root: &toml::Table,
    base: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<Config> {
    for key in root.keys() {
        if !TABLES.contains(&key.as_str()) {
            errors.push(ConfigError::new(key.clone(), "unknown table"));
        }
    }
    let mailboxes = mailboxes::read_mailboxes(root, base, errors);
    let lease = mailboxes::read_lease(Table::new(root, "lease", base, errors));
    let store = read_store(Table::new(root, "store", base, errors));
    let rules = read_rules(Table::new(root, "rules", base, errors));
    let outbox = read_outbox(Table::new(root, "outbox", base, errors));
    let openpgp = read_openpgp(Table::new(root, "openpgp", base, errors));
    let smime = smime::read(Table::new(root, "smime", base, errors));
    let ack = read_ack(Table::new(root, "ack", base, errors));
    let disputes = records::read_disputes(Table::new(root, "disputes", base, errors));
    let sla = records::read_sla(Table::new(root, "sla", base, errors));
    let retention = records::read_retention(Table::new(root, "retention", base, errors));
    let log = read_log(Table::new(root, "log", base, errors));
    let metrics = read_metrics(Table::new(root, "metrics", base, errors));
    let mailman = mailman::read_mailman(Table::new(root, "mailman", base, errors));
    let team = team::read_team(Table::new(root, "team", base, errors));
    let assets = asset::read_assets(root, base, errors);
    Some(Config {
        file: file.to_owned(),
        mailbox: mailboxes.first()?.mailbox.clone(),
        mailboxes,
        lease,
        store: store?,
        rules,
        outbox: outbox?,
        openpgp,
        smime,
        ack,
        disputes: disputes?,
        sla,
        retention,
        log,
        metrics,
        mailman,
        team,
        assets,
    })
}

fn read_store(mut t: Table<'_>) -> Option<StoreConfig> {
    let text = t.string_or("url", "sqlite:var/triaged.db");
    let url = url::store_url(&mut t, &text);
    t.finish();
    Some(StoreConfig { url: url? })
}

pub(super) fn read_rules(mut t: Table<'_>) -> RulesConfig {
    let script = t.path_or("script", "rules/support.sieve");
    if !script.is_file() {
        t.error("script", format!("no such file: {}", script.display()));
    }
    let include_dir = match t.path("include_dir") {
        Some(dir) => dir,
        None => script.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let global_dir = t.path("global_dir").unwrap_or_else(|| include_dir.clone());
    let max_message_size = t.size_or("max_message_size", "25MB");
    let cpu_limit = t.integer_or("cpu_limit", 100_000) as usize;
    t.finish();
    RulesConfig {
        script,
        include_dir,
        global_dir,
        max_message_size,
        cpu_limit,
    }
}

fn read_outbox(mut t: Table<'_>) -> Option<OutboxConfig> {
    let transport_text = t.string_or("transport", "file:var/outbox");
    let allow_plaintext = t.bool_or("allow_plaintext", false);
    let transport = url::transport(&mut t, &transport_text, allow_plaintext);
    let user = t.string("user");
    let password = t.secret("password_file", "password_env");
    let ca_file = t.existing_file("ca_file");
    let from = t.mailbox("from", None);
    let templates_dir = t.path("templates_dir");
    if let Some(dir) = &templates_dir
        && !dir.is_dir()
    {
        let shown = dir.display().to_string();
        t.error("templates_dir", format!("no such directory: {shown}"));
    }
    let retry = t.durations_or("retry", &["1m", "5m", "15m", "1h", "4h"]);
    if retry.is_empty() {
        t.error("retry", "needs at least one delay");
    }
    let give_up_after = t.duration_or("give_up_after", "2d");
    let schemes = read_schemes(&mut t);
    t.finish();
    Some(OutboxConfig {
        transport: transport?,
        user,
        password,
        ca_file,
        from: from?,
        templates_dir,
        retry,
        give_up_after,
        schemes,
    })
}

fn read_schemes(t: &mut Table<'_>) -> Vec<Scheme> {
    let mut schemes = Vec::new();
    for name in t.strings_or("schemes", &["smime", "openpgp"]) {
        let scheme = match name.as_str() {
            "smime" => Scheme::Smime,
            "openpgp" => Scheme::OpenPgp,
            other => {
                t.error(
                    "schemes",
                    format!("{other:?} is neither \"smime\" nor \"openpgp\""),
                );
                continue;
            }
        };
        if schemes.contains(&scheme) {
            t.error("schemes", format!("{scheme} is listed twice"));
        } else {
            schemes.push(scheme);
        }
    }
    if schemes.is_empty() && !t.errors.iter().any(|e| e.key == "outbox.schemes") {
        t.error("schemes", "needs at least one scheme");
    }
    schemes
}

fn read_openpgp(mut t: Table<'_>) -> Option<OpenPgpConfig> {
    if !t.present() {
        return None;
    }
    let key_file = t.existing_file("key_file");
    if key_file.is_none() && !t.errors.iter().any(|e| e.key == "openpgp.key_file") {
        t.error("key_file", "is required in [openpgp]");
    }
    let passphrase = t.secret("passphrase_file", "passphrase_env");
    let keyring = t.existing_file("keyring");
    t.finish();
    Some(OpenPgpConfig {
        key_file: key_file?,
        passphrase,
        keyring,
    })
}

pub(super) fn read_ack(mut t: Table<'_>) -> AckConfig {
    let buckets = t.strings_or("buckets", &[]);
    let period = t.duration_or("period", "1d");
    t.finish();
    AckConfig { buckets, period }
}

fn read_log(mut t: Table<'_>) -> LogConfig {
    let format = match t.string_or("format", "text").as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            t.error(
                "format",
                format!("{other:?} is neither \"text\" nor \"json\""),
            );
            LogFormat::Text
        }
    };
    t.finish();
    LogConfig { format }
}

fn read_metrics(mut t: Table<'_>) -> MetricsConfig {
    let listen = t.string("listen").and_then(|text| match text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            t.error(
                "listen",
                format!("{text:?} is not an address like 127.0.0.1:9187"),
            );
            None
        }
    });
    t.finish();
    MetricsConfig { listen }
}

#[cfg(test)]
#[path = "config/config_tests.rs"]
mod tests;
