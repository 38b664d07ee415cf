//! Observability: counters and gauges the worker updates (per mailbox, labelled `mailbox="NAME"`, with
//! the lease this worker holds on it and its token; the team gauges), and a tiny HTTP/1.1 listener
//! serving them as Prometheus text on `/metrics` and the mailboxes' liveness on `/healthz` (200 while a
//! held mailbox is live or none is held, 503 when every held one is down; one line per mailbox). It
//! reads no store and never blocks the worker.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use tokio_util::task::TaskTracker;

use crate::clock::mono_ms;

/// The worker's counters; shared by the loops and the listener.
#[derive(Debug)]
pub struct Metrics {
    /// Each mailbox this worker has watched, by name: its own counters, labelled `mailbox="NAME"`.
    mailboxes: Mutex<BTreeMap<String, Arc<MailboxMetrics>>>,
    /// Signed mail the worker learnt from or refused: (`learnt`|`rejected`, outcome or reason) → count.
    certificates: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Outbox mails not yet sent, refreshed by the worker.
    outbox_depth: AtomicI64,
    /// Timed tickets past their response target with no reply, refreshed by the response-times loop:
    /// an alert can fire while a breach is still open.
    sla_open_breaches: AtomicI64,
    /// How the team stands, refreshed by the worker's team loop; `None` until its first pass.
    team: Mutex<Option<TeamGauges>>,
}

/// One mailbox's counters, and whether (and under which fencing token) this worker holds it.
#[derive(Debug)]
pub struct MailboxMetrics {
    /// Messages sorted per bucket since start.
    buckets: Mutex<BTreeMap<String, u64>>,
    errors: AtomicU64,
    reconnects: AtomicU64,
    /// `mono_ms()` of the last byte from the IMAP server (the stream stamps it).
    pub last_read: Arc<AtomicI64>,
    /// True while the watcher is connected (IMAP) or watching (Maildir).
    connected: AtomicBool,
    /// Silence longer than this means the watcher is not live.
    liveness_ms: i64,
    /// Whether the source is IMAP (the server-silence check applies only there).
    imap: bool,
    /// Whether this worker holds the mailbox's lease now, and the lease's fencing token.
    held: AtomicBool,
    token: AtomicI64,
    /// The last error of its watcher, '' once a pass succeeds.
    last_error: Mutex<String>,
}

/// The team's gauges: members per role, the unresponsive, overdue checklist items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamGauges {
    pub roles: Vec<TeamRoleGauge>,
    pub unresponsive: i64,
    pub overdue_items: i64,
    /// Rights found beyond the roster's wish by the latest sync or verify.
    pub rights_drift: i64,
    /// Retired members whose rights are still granted past `[team] revoke_within`.
    pub revoke_overdue: i64,
    /// Active members' certificates expiring within 30 days (or expired) with no later one recorded.
    pub expiring_certificates: i64,
}

/// One role's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRoleGauge {
    pub role: String,
    pub active: i64,
    pub responsive: i64,
    /// A role that needs two available members (`[team] critical_roles`).
    pub critical: bool,
    /// Critical, with fewer than two responsive active members.
    pub thin: bool,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            mailboxes: Mutex::new(BTreeMap::new()),
            certificates: Mutex::new(BTreeMap::new()),
            outbox_depth: AtomicI64::new(0),
            sla_open_breaches: AtomicI64::new(0),
            team: Mutex::new(None),
        }
    }

    /// The counters of mailbox `name`, made on first use (with its liveness limit and source kind).
    pub fn mailbox(&self, name: &str, liveness: Duration, imap: bool) -> Arc<MailboxMetrics> {
        let mut all = self
            .mailboxes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.entry(name.to_owned())
            .or_insert_with(|| Arc::new(MailboxMetrics::new(liveness, imap)))
            .clone()
    }

    pub fn set_team(&self, gauges: TeamGauges) {
        if let Ok(mut t) = self.team.lock() {
            *t = Some(gauges);
        }
    }

    /// A signed message's certificate handled: `learnt` with its outcome (`recorded`, `known`,
    /// `not-member`, `not-active`), or `rejected` with the reason.
    pub fn certificate(&self, kind: &'static str, label: &'static str) {
        if let Ok(mut c) = self.certificates.lock() {
            *c.entry((kind, label)).or_default() += 1;
        }
    }

    pub fn set_outbox_depth(&self, n: i64) {
        self.outbox_depth.store(n, Ordering::Relaxed);
    }

    /// Timed support tickets past their response target with no reply yet.
    pub fn set_sla_open_breaches(&self, n: i64) {
        self.sla_open_breaches.store(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Vec<(String, Arc<MailboxMetrics>)> {
        self.mailboxes
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The worker is healthy when a mailbox it holds is live, or when it holds none (a standby worker
    /// waiting for a lease); not when every mailbox it holds is down.
    pub fn live(&self) -> bool {
        let held: Vec<_> = self
            .snapshot()
            .into_iter()
            .filter(|(_, m)| m.held())
            .collect();
        held.is_empty() || held.iter().any(|(_, m)| m.live())
    }

    /// The `/healthz` body: one line per mailbox, `NAME live|down|not held[: last error]`.
    pub fn health(&self) -> String {
        let mut out = String::new();
        let all = self.snapshot();
        if !all.iter().any(|(_, m)| m.held()) {
            out.push_str("no mailbox held (standby)\n");
        }
        for (name, m) in all {
            let state = match (m.held(), m.live()) {
                (false, _) => "not held",
                (true, true) => "live",
                (true, false) => "down",
            };
            let error = m.last_error();
            if error.is_empty() || !m.held() {
                let _ = writeln!(out, "{name} {state}");
            } else {
                let _ = writeln!(out, "{name} {state}: {error}");
            }
        }
        out
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let all = self.snapshot();
        render_mailboxes(&mut out, &all);
        self.render_certificates(&mut out);
        let gauges: [(&str, &str, &str, String); 3] = [
            (
                "triaged_outbox_depth",
                "gauge",
                "Outgoing mails not yet sent.",
                self.outbox_depth.load(Ordering::Relaxed).to_string(),
            ),
            (
                "triaged_sla_open_breaches",
                "gauge",
                "Support tickets past their response target with no reply yet.",
                self.sla_open_breaches.load(Ordering::Relaxed).to_string(),
            ),
            (
                "triaged_live",
                "gauge",
                "1 when a mailbox this worker holds is live, or it holds none.",
                u8::from(self.live()).to_string(),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        if let Ok(team) = self.team.lock()
            && let Some(team) = team.as_ref()
        {
            render_team(&mut out, team);
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The per-mailbox lines: messages per bucket, then each mailbox's counters and gauges.
fn render_mailboxes(out: &mut String, all: &[(String, Arc<MailboxMetrics>)]) {
    out.push_str("# HELP triaged_messages_sorted_total Messages sorted, by mailbox and bucket.\n");
    out.push_str("# TYPE triaged_messages_sorted_total counter\n");
    for (name, m) in all {
        let mailbox = label(name);
        if let Ok(b) = m.buckets.lock() {
            for (bucket, n) in b.iter() {
                let bucket = label(bucket);
                let _ = writeln!(
                    out,
                    "triaged_messages_sorted_total{{mailbox=\"{mailbox}\",bucket=\"{bucket}\"}} {n}"
                );
            }
        }
    }
    type Read = fn(&MailboxMetrics) -> String;
    let per_mailbox: [(&str, &str, &str, Read); 6] = [
        (
            "triaged_errors_total",
            "counter",
            "Errors while syncing or applying.",
            |m| m.errors.load(Ordering::Relaxed).to_string(),
        ),
        (
            "triaged_reconnects_total",
            "counter",
            "Reconnections to the mail server.",
            |m| m.reconnects.load(Ordering::Relaxed).to_string(),
        ),
        (
            "triaged_server_silence_seconds",
            "gauge",
            "Seconds since the last byte from the server.",
            |m| format!("{:.3}", m.silence_seconds()),
        ),
        (
            "triaged_mailbox_live",
            "gauge",
            "1 when the mailbox's watcher is live.",
            |m| u8::from(m.held() && m.live()).to_string(),
        ),
        (
            "triaged_lease_held",
            "gauge",
            "1 while this worker holds the mailbox's lease.",
            |m| u8::from(m.held()).to_string(),
        ),
        (
            "triaged_lease_token",
            "gauge",
            "The fencing token of the mailbox's lease as this worker last held it.",
            |m| m.token.load(Ordering::Relaxed).to_string(),
        ),
    ];
    for (metric, kind, help, read) in per_mailbox {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for (name, m) in all {
            let _ = writeln!(out, "{metric}{{mailbox=\"{}\"}} {}", label(name), read(m));
        }
    }
}

/// A label value, escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

impl MailboxMetrics {
    fn new(liveness: Duration, imap: bool) -> MailboxMetrics {
        MailboxMetrics {
            buckets: Mutex::new(BTreeMap::new()),
            errors: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            last_read: Arc::new(AtomicI64::new(mono_ms())),
            connected: AtomicBool::new(false),
            liveness_ms: i64::try_from(liveness.as_millis()).unwrap_or(i64::MAX),
            imap,
            held: AtomicBool::new(false),
            token: AtomicI64::new(0),
            last_error: Mutex::new(String::new()),
        }
    }

    pub fn sorted(&self, bucket: &str) {
        if let Ok(mut b) = self.buckets.lock() {
            *b.entry(bucket.to_owned()).or_default() += 1;
        }
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    /// This worker took the lease under `token` (`held`), or gave it up or lost it.
    pub fn set_held(&self, held: bool, token: i64) {
        self.held.store(held, Ordering::Relaxed);
        self.token.store(token, Ordering::Relaxed);
        if !held {
            self.set_connected(false);
        }
    }

    pub fn held(&self) -> bool {
        self.held.load(Ordering::Relaxed)
    }

    /// The watcher's last error ('' clears it).
    pub fn set_last_error(&self, error: &str) {
        if let Ok(mut e) = self.last_error.lock() {
            error.clone_into(&mut e);
        }
    }

    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Seconds since the server last sent a byte.
    pub fn silence_seconds(&self) -> f64 {
        (mono_ms() - self.last_read.load(Ordering::Relaxed)) as f64 / 1000.0
    }

    /// Connected, and (for IMAP) heard from within the liveness limit.
    pub fn live(&self) -> bool {
        let heard = !self.imap || self.silence_seconds() * 1000.0 < self.liveness_ms as f64;
        self.connected.load(Ordering::Relaxed) && heard
    }
}

impl Metrics {
    /// The certificates counters: learnt by outcome, rejected by reason.
    fn render_certificates(&self, out: &mut String) {
        let Ok(c) = self.certificates.lock() else {
            return;
        };
        let kinds = [
            (
                "learnt",
                "triaged_certificates_learnt_total",
                "outcome",
                "Verified signed mail, by what was done with the signer's certificate.",
            ),
            (
                "rejected",
                "triaged_certificates_rejected_total",
                "reason",
                "Signed mail whose signature or certificate failed verification, by reason.",
            ),
        ];
        for (kind, name, label, help) in kinds {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((k, value), n) in c.iter() {
                if *k == kind {
                    let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
                }
            }
        }
    }
}

/// The team gauges in Prometheus text.
fn render_team(out: &mut String, team: &TeamGauges) {
    type Per = fn(&TeamRoleGauge) -> Option<i64>;
    let per_role: [(&str, &str, Per); 3] = [
        ("triaged_team_members", "Active members per role.", |r| {
            Some(r.active)
        }),
        (
            "triaged_team_responsive_members",
            "Active members per role not silent past the ping grace.",
            |r| Some(r.responsive),
        ),
        (
            "triaged_team_role_thin",
            "1 when a critical role has fewer than two responsive active members.",
            |r| r.critical.then_some(i64::from(r.thin)),
        ),
    ];
    for (name, help, value) in per_role {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for r in &team.roles {
            if let Some(v) = value(r) {
                let _ = writeln!(out, "{name}{{role=\"{}\"}} {v}", r.role);
            }
        }
    }
    let totals = [
        (
            "triaged_team_unresponsive_members",
            "Active members whose latest ping is unanswered past the grace.",
            team.unresponsive,
        ),
        (
            "triaged_team_overdue_items",
            "Open checklist items of active members past their due time.",
            team.overdue_items,
        ),
        (
            "triaged_rights_drift",
            "Rights granted beyond the roster's, as the latest sync or verify found them.",
            team.rights_drift,
        ),
        (
            "triaged_rights_revoke_overdue",
            "Retired members whose rights are still granted past [team] revoke_within.",
            team.revoke_overdue,
        ),
        (
            "triaged_team_certificates_expiring",
            "Active members' S/MIME certificates and OpenPGP keys expiring within 30 days or expired.",
            team.expiring_certificates,
        ),
    ];
    for (name, help, v) in totals {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
}

/// Opens the listener for `addr`, so that a port already taken fails the start of `run`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr} for metrics"))?;
    tracing::info!(%addr, "metrics listening");
    Ok(listener)
}

/// Serves `/metrics` and `/healthz` until `cancel` fires; each request is answered by a short task
/// in `requests`, which the worker's scheduler owns and drains at shutdown.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    requests: TaskTracker,
) -> Result<()> {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => r.context("accept metrics connection")?,
            () = cancel.cancelled() => return Ok(()),
        };
        let metrics = metrics.clone();
        requests.spawn(async move {
            if let Err(e) =
                tokio::time::timeout(Duration::from_secs(5), answer(stream, &metrics)).await
            {
                tracing::debug!(error = %e, "metrics request timed out");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> Result<()> {
    let mut buf = vec![0u8; 2048];
    let mut len = 0;
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
        let n = stream.read(&mut buf[len..]).await.context("read request")?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let request = String::from_utf8_lossy(&buf[..len]);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/metrics" => ("200 OK", metrics.render()),
        "/healthz" if metrics.live() => ("200 OK", metrics.health()),
        "/healthz" => ("503 Service Unavailable", metrics.health()),
        _ => ("404 Not Found", "not found\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(response.as_bytes())
        .await
        .context("write response")?;
    stream.shutdown().await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Metrics;
    use std::time::Duration;

    #[test]
    fn renders_buckets_and_liveness() -> anyhow::Result<()> {
        let metrics = Metrics::new();
        assert!(
            metrics.live(),
            "a worker holding nothing is a healthy standby"
        );
        let m = metrics.mailbox("support", Duration::from_secs(60), true);
        let other = metrics.mailbox("disputes", Duration::from_secs(60), true);
        m.set_held(true, 4);
        other.set_held(true, 1);
        other.set_last_error("authentication failed");
        m.sorted("SE");
        m.sorted("SE");
        m.sorted("help");
        assert!(!metrics.live(), "not live before connecting");
        m.set_connected(true);
        assert!(metrics.live(), "one live mailbox is enough");
        let text = metrics.render();
        for line in [
            "triaged_messages_sorted_total{mailbox=\"support\",bucket=\"SE\"} 2",
            "triaged_mailbox_live{mailbox=\"support\"} 1",
            "triaged_mailbox_live{mailbox=\"disputes\"} 0",
            "triaged_lease_held{mailbox=\"support\"} 1",
            "triaged_lease_token{mailbox=\"support\"} 4",
            "triaged_live 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let health = metrics.health();
        assert!(health.contains("support live\n"), "{health}");
        assert!(
            health.contains("disputes down: authentication failed"),
            "{health}"
        );
        m.set_held(false, 4);
        assert!(!metrics.live(), "the one held mailbox is down");
        assert!(metrics.health().contains("support not held\n"));
        assert!(text.contains("triaged_sla_open_breaches 0"), "{text}");
        metrics.set_sla_open_breaches(3);
        assert!(
            metrics.render().contains("\ntriaged_sla_open_breaches 3\n"),
            "an open breach is shown while it lasts"
        );
        assert!(
            !text.contains("triaged_team"),
            "no team gauges before the first refresh"
        );
        Ok(())
    }

    #[test]
    fn counts_certificates_learnt_and_rejected() {
        let m = Metrics::new();
        m.certificate("learnt", "recorded");
        m.certificate("rejected", "bad-signature");
        m.certificate("rejected", "bad-signature");
        let text = m.render();
        for line in [
            "triaged_certificates_learnt_total{outcome=\"recorded\"} 1",
            "triaged_certificates_rejected_total{reason=\"bad-signature\"} 2",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains("reason=\"recorded\""), "{text}");
    }

    #[test]
    fn renders_the_team_gauges_once_set() {
        let m = Metrics::new();
        let role = |name: &str, active, responsive, critical| super::TeamRoleGauge {
            role: name.to_owned(),
            active,
            responsive,
            critical,
            thin: critical && responsive < 2,
        };
        m.set_team(super::TeamGauges {
            roles: vec![role("triage", 2, 1, true), role("cm", 1, 1, false)],
            unresponsive: 1,
            overdue_items: 3,
            rights_drift: 2,
            revoke_overdue: 1,
            expiring_certificates: 2,
        });
        let text = m.render();
        for line in [
            "triaged_team_members{role=\"triage\"} 2",
            "triaged_team_responsive_members{role=\"triage\"} 1",
            "triaged_team_role_thin{role=\"triage\"} 1",
            "triaged_team_unresponsive_members 1",
            "triaged_team_overdue_items 3",
            "triaged_rights_drift 2",
            "triaged_rights_revoke_overdue 1",
            "triaged_team_certificates_expiring 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(
            !text.contains("triaged_team_role_thin{role=\"cm\"}"),
            "only critical roles"
        );
    }
}
