//! The Mailman 3 REST API (version 3.1) client: read a list's members and their moderation actions,
//! subscribe (pre-verified, pre-confirmed, pre-approved, no welcome message), set or reset a member's
//! moderation action, unsubscribe. Every answer is sorted into "done", "not so" (no such list, not a
//! member), "try later" (no answer, 5xx) and "refused" (4xx), naming the list and address.
//!
//! HTTP is ureq: the calls are few, short and one at a time, so each runs on tokio's blocking pool. TLS
//! uses the same ring provider and system roots as the IMAP and SMTP connections; no proxy is used,
//! since every request carries the password. The password is sent only in the Authorization header,
//! which ureq redacts from its own logs; it never appears in an error or a log line of ours.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use lettre::Address;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{Action, ListAddress, ListError, Member, Subscribed, Target, Unsubscribed};
use crate::config::{MailmanConfig, Secret};

/// How long one request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (a roster of thousands of members fits).
const MAX_BODY: u64 = 16 << 20;

/// A client of one Mailman's REST API.
#[derive(Clone)]
pub struct Mailman {
    agent: ureq::Agent,
    /// The API's base, ending in `/3.1`.
    base: Url,
    user: String,
    /// `Basic base64(user:password)`, ready for the Authorization header.
    authorization: Secret,
}

impl fmt::Debug for Mailman {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailman")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A request's method and JSON body.
enum Call {
    Get,
    Post(Value),
    Patch(Value),
    Delete,
}

/// An HTTP answer below 500.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// A member as the REST API returns it; absent fields are absent, not null.
#[derive(Debug, Deserialize)]
struct RawMember {
    member_id: String,
    email: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    moderation_action: Option<String>,
}

/// A collection; `entries` is absent when it is empty.
#[derive(Debug, Deserialize)]
struct Collection {
    #[serde(default)]
    entries: Vec<RawMember>,
}

impl Mailman {
    /// A client for the configured API; connects only when called.
    pub fn new(cfg: &MailmanConfig) -> Result<Mailman> {
        let mut roots = Vec::new();
        for cert in rustls_native_certs::load_native_certs().certs {
            roots.push(ureq::tls::Certificate::from_der(cert.as_ref()).to_owned());
        }
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .proxy(None)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .user_agent(concat!("triaged/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let credentials = format!("{}:{}", cfg.user, cfg.password.expose());
        let authorization = Secret::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ));
        Ok(Mailman {
            agent,
            base: cfg.url.clone(),
            user: cfg.user.clone(),
            authorization,
        })
    }

    /// The list's default member action: what applies to a member whose own action is unset.
    pub async fn default_action(&self, list: &ListAddress) -> Result<Action, ListError> {
        let target = list_target(list);
        let id = list.list_id();
        let reply = self
            .call(
                &target,
                &["lists", &id, "config", "default_member_action"],
                &[],
                Call::Get,
            )
            .await?;
        match reply.status {
            200 => {
                let value: Value = parse(&target, &reply)?;
                let text = value
                    .get("default_member_action")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                action(&target, text)
            }
            404 => Err(ListError::NoSuchList { list: list.clone() }),
            _ => Err(refused(&target, &reply)),
        }
    }

    /// Every member of the list (role `member`), in Mailman's order.
    pub async fn members(&self, list: &ListAddress) -> Result<Vec<Member>, ListError> {
        let target = list_target(list);
        let id = list.list_id();
        let reply = self
            .call(&target, &["lists", &id, "roster", "member"], &[], Call::Get)
            .await?;
        match reply.status {
            200 => {
                let found: Collection = parse(&target, &reply)?;
                found
                    .entries
                    .into_iter()
                    .map(|raw| member(&target, raw))
                    .collect()
            }
            404 => Err(ListError::NoSuchList { list: list.clone() }),
            _ => Err(refused(&target, &reply)),
        }
    }

    /// The member with this address, if subscribed.
    pub async fn member(
        &self,
        list: &ListAddress,
        address: &Address,
    ) -> Result<Option<Member>, ListError> {
        let target = address_target(list, address);
        self.ensure_list(&target).await?;
        match self.find(&target).await? {
            Some(raw) => member(&target, raw).map(Some),
            None => Ok(None),
        }
    }

    /// Subscribes `address` at once: verified, confirmed and approved in advance, without the welcome
    /// message. Its moderation action stays unset (the list default) until [`Mailman::set_moderation`].
    pub async fn subscribe(
        &self,
        list: &ListAddress,
        address: &Address,
        display_name: &str,
    ) -> Result<Subscribed, ListError> {
        let target = address_target(list, address);
        self.ensure_list(&target).await?;
        let mut body = json!({
            "list_id": list.list_id(),
            "subscriber": address.to_string(),
            "pre_verified": true,
            "pre_confirmed": true,
            "pre_approved": true,
            "send_welcome_message": false,
        });
        if !display_name.is_empty() {
            body["display_name"] = json!(display_name);
        }
        let reply = self
            .call(&target, &["members"], &[], Call::Post(body))
            .await?;
        match reply.status {
            201 => {
                tracing::info!(list = %list, address = %address, "subscribed");
                Ok(Subscribed::Added)
            }
            409 => Ok(Subscribed::AlreadyMember),
            // 202: Mailman wants a confirmation or a moderator first, so nobody was subscribed.
            _ => Err(refused(&target, &reply)),
        }
    }

    /// Sets the member's own moderation action (`Accept`: may post without moderation; `Hold`:
    /// moderated), or with `None` resets it to the list's default.
    pub async fn set_moderation(
        &self,
        list: &ListAddress,
        address: &Address,
        action: Option<Action>,
    ) -> Result<(), ListError> {
        let target = address_target(list, address);
        self.ensure_list(&target).await?;
        let raw = self
            .find(&target)
            .await?
            .ok_or_else(|| ListError::NotMember {
                target: target.clone(),
            })?;
        let body = json!({ "moderation_action": action.map_or("", Action::as_str) });
        let reply = self
            .call(
                &target,
                &["members", &raw.member_id],
                &[],
                Call::Patch(body),
            )
            .await?;
        match reply.status {
            200 | 204 => {
                let shown = action.map_or("list default", Action::as_str);
                tracing::info!(list = %list, address = %address, action = shown, "moderation set");
                Ok(())
            }
            404 => Err(ListError::NotMember { target }),
            _ => Err(refused(&target, &reply)),
        }
    }

    /// Unsubscribes `address`; an address that is not subscribed is reported, not an error.
    pub async fn unsubscribe(
        &self,
        list: &ListAddress,
        address: &Address,
    ) -> Result<Unsubscribed, ListError> {
        let target = address_target(list, address);
        self.ensure_list(&target).await?;
        let Some(raw) = self.find(&target).await? else {
            return Ok(Unsubscribed::NotMember);
        };
        let reply = self
            .call(&target, &["members", &raw.member_id], &[], Call::Delete)
            .await?;
        match reply.status {
            200 | 204 => {
                tracing::info!(list = %list, address = %address, "unsubscribed");
                Ok(Unsubscribed::Removed)
            }
            // Removed by someone else in between.
            404 => Ok(Unsubscribed::NotMember),
            _ => Err(refused(&target, &reply)),
        }
    }

    /// Fails with `NoSuchList` unless the list exists (member searches on a missing list find nothing).
    async fn ensure_list(&self, target: &Target) -> Result<(), ListError> {
        let id = target.list.list_id();
        let reply = self.call(target, &["lists", &id], &[], Call::Get).await?;
        match reply.status {
            200 => Ok(()),
            404 => Err(ListError::NoSuchList {
                list: target.list.clone(),
            }),
            _ => Err(refused(target, &reply)),
        }
    }

    /// The subscription (role `member`) of the target's address, if any.
    async fn find(&self, target: &Target) -> Result<Option<RawMember>, ListError> {
        let address = target.address.as_deref().unwrap_or_default();
        let id = target.list.list_id();
        let query = [
            ("list_id", id.as_str()),
            ("subscriber", address),
            ("role", "member"),
        ];
        let reply = self
            .call(target, &["members", "find"], &query, Call::Get)
            .await?;
        if reply.status != 200 {
            return Err(refused(target, &reply));
        }
        let found: Collection = parse(target, &reply)?;
        Ok(found
            .entries
            .into_iter()
            .find(|m| m.email.eq_ignore_ascii_case(address)))
    }

    /// Sends one request on the blocking pool. No answer, a broken exchange or a 5xx is `Unreachable`;
    /// any other answer is returned for the caller to judge.
    async fn call(
        &self,
        target: &Target,
        path: &[&str],
        query: &[(&str, &str)],
        call: Call,
    ) -> Result<Reply, ListError> {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let agent = self.agent.clone();
        let authorization = self.authorization.clone();
        let unreachable = |reason: String| ListError::Unreachable {
            target: target.clone(),
            reason,
        };
        let sent = tokio::task::spawn_blocking(move || send(&agent, &authorization, &url, call))
            .await
            .map_err(|e| unreachable(format!("the request was lost: {e}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        if sent.status >= 500 {
            return Err(unreachable(format!(
                "HTTP {}: {}",
                sent.status,
                detail(&sent.body)
            )));
        }
        Ok(sent)
    }
}

/// One blocking request and its whole answer.
fn send(
    agent: &ureq::Agent,
    authorization: &Secret,
    url: &Url,
    call: Call,
) -> Result<Reply, ureq::Error> {
    let uri = url.as_str();
    let auth = authorization.expose();
    let response = match call {
        Call::Get => agent.get(uri).header("Authorization", auth).call(),
        Call::Delete => agent.delete(uri).header("Authorization", auth).call(),
        Call::Post(body) => agent
            .post(uri)
            .header("Authorization", auth)
            .send_json(&body),
        Call::Patch(body) => agent
            .patch(uri)
            .header("Authorization", auth)
            .send_json(&body),
    }?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .into_with_config()
        .limit(MAX_BODY)
        .read_to_vec()?;
    Ok(Reply { status, body })
}

fn list_target(list: &ListAddress) -> Target {
    Target {
        list: list.clone(),
        address: None,
    }
}

fn address_target(list: &ListAddress, address: &Address) -> Target {
    Target {
        list: list.clone(),
        address: Some(address.to_string()),
    }
}

fn member(target: &Target, raw: RawMember) -> Result<Member, ListError> {
    let moderation = match raw.moderation_action.as_deref() {
        None | Some("") => None,
        Some(text) => Some(action(target, text)?),
    };
    Ok(Member {
        address: raw.email.to_lowercase(),
        display_name: raw.display_name.unwrap_or_default(),
        moderation,
    })
}

fn action(target: &Target, text: &str) -> Result<Action, ListError> {
    text.parse().map_err(|e: String| ListError::Unexpected {
        target: target.clone(),
        reason: e,
    })
}

fn parse<T: serde::de::DeserializeOwned>(target: &Target, reply: &Reply) -> Result<T, ListError> {
    serde_json::from_slice(&reply.body)
        .context("read Mailman's JSON")
        .map_err(|e| ListError::Unexpected {
            target: target.clone(),
            reason: format!("{e:#}"),
        })
}

fn refused(target: &Target, reply: &Reply) -> ListError {
    let reason = match reply.status {
        401 => "not authorized: check [mailman] user and its password".to_owned(),
        _ => detail(&reply.body),
    };
    ListError::Refused {
        target: target.clone(),
        status: reply.status,
        reason,
    }
}

/// Mailman's explanation of an error (its JSON `description` or `title`), else the start of the body.
fn detail(body: &[u8]) -> String {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let said = json.as_ref().and_then(|v| {
        v.get("description")
            .or_else(|| v.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    said.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        text.chars().take(200).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_come_from_mailmans_json_or_the_body() {
        assert_eq!(
            detail(br#"{"title": "400 Bad Request", "description": "Membership is banned"}"#),
            "Membership is banned"
        );
        assert_eq!(detail(br#"{"title": "404 Not Found"}"#), "404 Not Found");
        assert_eq!(detail(b"  plain text\n"), "plain text");
        assert_eq!(detail(&[b'x'; 500]).len(), 200);
    }

    #[test]
    fn members_read_absent_and_empty_actions_as_the_list_default() -> Result<(), ListError> {
        let target = list_target(&ListAddress("se@lists.example.org".to_owned()));
        let body = br#"{"start": 0, "total_size": 3, "entries": [
            {"member_id": "a1", "email": "Alice@Example.org", "display_name": "Alice",
             "moderation_action": "accept"},
            {"member_id": "b2", "email": "bob@example.org", "display_name": ""},
            {"member_id": "c3", "email": "carol@example.org", "moderation_action": "hold"}]}"#;
        let reply = Reply {
            status: 200,
            body: body.to_vec(),
        };
        let found: Collection = parse(&target, &reply)?;
        let members: Vec<Member> = found
            .entries
            .into_iter()
            .map(|raw| member(&target, raw))
            .collect::<Result<_, _>>()?;
        assert_eq!(members[0].address, "alice@example.org");
        assert_eq!(members[0].moderation, Some(Action::Accept));
        assert_eq!(members[1].moderation, None);
        assert_eq!(members[2].moderation, Some(Action::Hold));
        assert_eq!(members[2].display_name, "");

        let empty: Collection = parse(
            &target,
            &Reply {
                status: 200,
                body: br#"{"start": 0, "total_size": 0}"#.to_vec(),
            },
        )?;
        assert!(empty.entries.is_empty());
        Ok(())
    }

    #[test]
    fn the_password_stays_out_of_debug_output() -> anyhow::Result<()> {
        let cfg = MailmanConfig {
            url: Url::parse("http://127.0.0.1:8001/3.1")?,
            user: "restadmin".to_owned(),
            password: Secret::new("hunter2-secret".to_owned()),
        };
        let client = Mailman::new(&cfg)?;
        let shown = format!("{client:?}");
        assert!(shown.contains("restadmin"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        // The header value is base64, which must not leak either.
        let encoded = base64::engine::general_purpose::STANDARD.encode("restadmin:hunter2-secret");
        assert!(!shown.contains(&encoded), "{shown}");
        Ok(())
    }
}
