//! The private Mailman 3 core for tests: started once per test process (`scripts/mailman up`, after the
//! mail servers, since list mail goes through the test Postfix), with the list domain created, and the
//! tests' own small client of its REST API for setting lists up and reading them back. Tests never read
//! list state through triaged's modules. A Mailman that cannot be started is an error, never a skip.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::mailserver;

/// Where the running Mailman is, as `scripts/mailman env` reports it.
#[derive(Debug, Clone)]
pub struct MailmanServer {
    /// The REST API base, `http://127.0.0.1:PORT/3.1`.
    pub url: String,
    pub user: String,
    /// The file holding the REST password, for triaged's `[mailman] password_file`.
    pub password_file: PathBuf,
    /// The domain lists live in; Postfix hands it to Mailman's LMTP runner.
    pub domain: String,
    authorization: String,
}

static SERVER: OnceCell<std::result::Result<MailmanServer, String>> = OnceCell::const_new();
static LIST_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Starts Mailman once per process (the mail servers first) and says where it is. A failure is
/// remembered, so every test reports the same message.
pub async fn mailman() -> Result<&'static MailmanServer> {
    SERVER
        .get_or_init(|| async { start().await.map_err(|e| format!("{e:#}")) })
        .await
        .as_ref()
        .map_err(|e| anyhow!("the test Mailman is not available: {e}"))
}

async fn start() -> Result<MailmanServer> {
    mailserver().await?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mailman");
    let out = tokio::process::Command::new(script)
        .arg("up")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("run {script} up"))?;
    if !out.status.success() {
        bail!(
            "{script} up failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let server = parse_env(&String::from_utf8_lossy(&out.stdout))?;
    // The list domain; it survives restarts in Mailman's database, so "already there" is fine.
    let (status, body) = server
        .request(
            "POST",
            "domains",
            Some(json!({ "mail_host": server.domain })),
        )
        .await?;
    if status != 201 && !(status == 400 && body.to_string().contains("Duplicate")) {
        bail!("create domain {}: {status} {body}", server.domain);
    }
    Ok(server)
}

fn parse_env(text: &str) -> Result<MailmanServer> {
    let vars: std::collections::BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .collect();
    let get = |k: &str| vars.get(k).copied().with_context(|| format!("missing {k}"));
    let user = get("TRIAGED_MAILMAN_USER")?.to_owned();
    let password_file = PathBuf::from(get("TRIAGED_MAILMAN_PASSWORD_FILE")?);
    let password = std::fs::read_to_string(&password_file)
        .with_context(|| format!("read {}", password_file.display()))?;
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.trim()))
    );
    Ok(MailmanServer {
        url: get("TRIAGED_MAILMAN_URL")?.to_owned(),
        user,
        password_file,
        domain: get("TRIAGED_MAILMAN_DOMAIN")?.to_owned(),
        authorization,
    })
}

impl MailmanServer {
    /// One REST call with the admin credentials: its status and JSON body (`null` when empty).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let url = format!("{}/{path}", self.url);
        let auth = self.authorization.clone();
        let method = method.to_owned();
        let what = format!("{method} {url}");
        tokio::task::spawn_blocking(move || -> Result<(u16, Value)> {
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent();
            let response = match (method.as_str(), body) {
                ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
                ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
                ("POST", Some(b)) => agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .send_json(&b),
                ("PATCH", Some(b)) => agent
                    .patch(&url)
                    .header("Authorization", &auth)
                    .send_json(&b),
                (m, _) => bail!("unsupported request {m}"),
            }?;
            let status = response.status().as_u16();
            let text = response.into_body().read_to_string()?;
            let value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).with_context(|| format!("parse {text:?}"))?
            };
            Ok((status, value))
        })
        .await?
        .with_context(|| what)
    }

    /// A REST call that must answer `expect`.
    pub async fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        expect: u16,
    ) -> Result<Value> {
        let (status, value) = self.request(method, path, body).await?;
        if status != expect {
            bail!("{method} {path}: expected {expect}, got {status}: {value}");
        }
        Ok(value)
    }

    /// Creates a list nobody else uses, `prefix-PID-RANDOM-N@DOMAIN`, and returns its posting address.
    /// Mailman keeps its lists from run to run and process ids come round again, hence the random part.
    pub async fn new_list(&self, prefix: &str) -> Result<String> {
        let n = LIST_COUNTER.fetch_add(1, Ordering::Relaxed);
        let address = format!(
            "{prefix}-{}-{:08x}-{n}@{}",
            std::process::id(),
            rand::random::<u32>(),
            self.domain
        );
        self.expect(
            "POST",
            "lists",
            Some(json!({ "fqdn_listname": address })),
            201,
        )
        .await?;
        Ok(address)
    }

    /// Subscribes `address` at once, as the list's owner would, without a welcome message.
    pub async fn subscribe(&self, list: &str, address: &str) -> Result<()> {
        let body = json!({
            "list_id": list_id(list),
            "subscriber": address,
            "pre_verified": true,
            "pre_confirmed": true,
            "pre_approved": true,
            "send_welcome_message": false,
        });
        self.expect("POST", "members", Some(body), 201).await?;
        Ok(())
    }

    /// The subscription of `address` (role member) as the API shows it, if any.
    pub async fn member(&self, list: &str, address: &str) -> Result<Option<Value>> {
        let path = format!("lists/{}/member/{address}", list_id(list));
        match self.request("GET", &path, None).await? {
            (200, value) => Ok(Some(value)),
            (404, _) => Ok(None),
            (status, value) => bail!("GET {path}: {status} {value}"),
        }
    }

    /// The posts held for moderation on `list`.
    pub async fn held(&self, list: &str) -> Result<Vec<Value>> {
        let value = self
            .expect("GET", &format!("lists/{}/held", list_id(list)), None, 200)
            .await?;
        Ok(value["entries"].as_array().cloned().unwrap_or_default())
    }
}

/// Mailman's list id for a posting address: `@` becomes `.`.
pub fn list_id(list: &str) -> String {
    list.replacen('@', ".", 1)
}
