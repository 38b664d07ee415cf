//! Mailing lists against the private Mailman 3 core: a post sent through the test Postfix comes back to
//! the subscribers' Dovecot INBOX with the headers Mailman adds; triaged's REST client subscribes,
//! moderates and unsubscribes, each change read back with the tests' own REST client; and real posts
//! show that `accept` lets a member post while `hold` holds the post for a moderator.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use lettre::Address;
use serde_json::json;

use triaged::config::Config;
use triaged::lists::{Action, ListAddress, ListError, Mailman, Subscribed, Unsubscribed};

use super::support::{
    DOMAIN, list_id, mailman, new_user, smtp_send, wait_for_exactly, wait_for_messages,
};

/// List mail takes three runners and two trips through Postfix; runners poll every second.
const WAIT: Duration = Duration::from_secs(60);

fn post(from: &str, list: &str, subject: &str) -> (String, Vec<u8>) {
    let id = format!(
        "{}-{}@triaged.test",
        std::process::id(),
        rand::random::<u32>()
    );
    let raw = format!(
        "From: {from}\r\nTo: {list}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nTo the list.\r\n"
    );
    (id, raw.into_bytes())
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse(raw)?;
    parsed
        .headers_raw()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
}

/// triaged's client, configured the way a `triaged.toml` configures it.
async fn client(password_file: Option<&std::path::Path>, url: Option<&str>) -> Result<Mailman> {
    let server = mailman().await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("triaged.toml");
    std::fs::write(
        &file,
        format!(
            "[mailbox]\nurl = \"maildir:mail\"\n[rules]\nscript = \"{}/rules/support.sieve\"\n\
             [outbox]\nfrom = \"Support <support@test.example>\"\n\
             [mailman]\nurl = \"{}\"\nuser = \"{}\"\npassword_file = \"{}\"\n",
            env!("CARGO_MANIFEST_DIR"),
            url.unwrap_or(&server.url),
            server.user,
            password_file.unwrap_or(&server.password_file).display(),
        ),
    )?;
    let config = Config::load(&file)?;
    Mailman::new(
        config
            .mailman
            .as_ref()
            .context("no [mailman] in the config")?,
    )
}

fn address(text: &str) -> Result<Address> {
    Ok(text.parse()?)
}

fn unique(prefix: &str) -> Result<Address> {
    address(&format!(
        "{prefix}-{}-{}@{DOMAIN}",
        std::process::id(),
        rand::random::<u32>()
    ))
}

#[tokio::test]
async fn a_post_through_postfix_reaches_the_subscribers_with_mailmans_headers() -> Result<()> {
    let mm = mailman().await?;
    let list = mm.new_list("wire").await?;
    let poster = new_user("list-poster").await?;
    let reader = new_user("list-reader").await?;
    mm.subscribe(&list, &poster.address).await?;
    mm.subscribe(&list, &reader.address).await?;

    let (id, raw) = post(&poster.address, &list, "wiring");
    smtp_send(&poster.address, &[&list], &raw).await?;
    let got = wait_for_messages(&reader, "INBOX", 1, WAIT).await?;
    let copy = &got[0];
    assert_eq!(header(copy, "Message-ID"), Some(format!("<{id}>")));
    assert_eq!(
        header(copy, "List-Id"),
        Some(format!("<{}>", list_id(&list)))
    );
    assert_eq!(header(copy, "List-Post"), Some(format!("<mailto:{list}>")));
    ensure!(
        header(copy, "X-Mailman-Version").is_some(),
        "no X-Mailman-Version"
    );
    assert_eq!(header(copy, "Precedence").as_deref(), Some("list"));
    let bounces = list.replacen('@', "-bounces@", 1);
    assert_eq!(header(copy, "Return-Path"), Some(format!("<{bounces}>")));
    ensure!(
        header(copy, "Subject").is_some_and(|s| s.ends_with("wiring")),
        "{:?}",
        header(copy, "Subject")
    );
    Ok(())
}

#[tokio::test]
async fn triaged_subscribes_moderates_and_unsubscribes_as_rest_reads_it_back() -> Result<()> {
    let mm = mailman().await?;
    let list_text = mm.new_list("rights").await?;
    let list: ListAddress = list_text.parse().map_err(anyhow::Error::msg)?;
    let client = client(None, None).await?;
    let (se, plain) = (unique("se")?, unique("plain")?);

    assert_eq!(client.default_action(&list).await?, Action::Defer);
    assert!(client.members(&list).await?.is_empty());
    assert_eq!(
        client.subscribe(&list, &se, "Sam SE").await?,
        Subscribed::Added
    );
    assert_eq!(
        client.subscribe(&list, &plain, "").await?,
        Subscribed::Added
    );
    assert_eq!(
        client.subscribe(&list, &se, "Sam SE").await?,
        Subscribed::AlreadyMember
    );
    let read = mm
        .member(&list_text, se.as_ref())
        .await?
        .context("se not subscribed")?;
    assert_eq!(read["display_name"], "Sam SE");
    ensure!(read.get("moderation_action").is_none(), "{read}");

    client
        .set_moderation(&list, &se, Some(Action::Accept))
        .await?;
    client
        .set_moderation(&list, &plain, Some(Action::Hold))
        .await?;
    let read_se = mm
        .member(&list_text, se.as_ref())
        .await?
        .context("se gone")?;
    let read_plain = mm
        .member(&list_text, plain.as_ref())
        .await?
        .context("plain gone")?;
    assert_eq!(read_se["moderation_action"], "accept");
    assert_eq!(read_plain["moderation_action"], "hold");
    let mut members: Vec<_> = client
        .members(&list)
        .await?
        .into_iter()
        .map(|m| (m.address, m.moderation))
        .collect();
    members.sort();
    let mut expected = vec![
        (plain.to_string(), Some(Action::Hold)),
        (se.to_string(), Some(Action::Accept)),
    ];
    expected.sort();
    assert_eq!(members, expected);

    // None resets to the list default: the member's own action is gone again.
    client.set_moderation(&list, &se, None).await?;
    let read = mm
        .member(&list_text, se.as_ref())
        .await?
        .context("se gone")?;
    ensure!(read.get("moderation_action").is_none(), "{read}");
    let one = client.member(&list, &se).await?.context("se not found")?;
    assert_eq!(
        (one.display_name.as_str(), one.moderation),
        ("Sam SE", None)
    );

    assert_eq!(
        client.unsubscribe(&list, &plain).await?,
        Unsubscribed::Removed
    );
    ensure!(mm.member(&list_text, plain.as_ref()).await?.is_none());
    assert_eq!(
        client.unsubscribe(&list, &plain).await?,
        Unsubscribed::NotMember
    );
    let err = client
        .set_moderation(&list, &plain, Some(Action::Hold))
        .await
        .err()
        .context("moderated a non-member")?;
    ensure!(matches!(err, ListError::NotMember { .. }), "{err}");
    assert!(client.member(&list, &plain).await?.is_none());
    assert_eq!(client.members(&list).await?.len(), 1);

    mm.expect(
        "PATCH",
        &format!("lists/{}/config", list_id(&list_text)),
        Some(json!({ "default_member_action": "hold" })),
        204,
    )
    .await?;
    assert_eq!(client.default_action(&list).await?, Action::Hold);
    Ok(())
}

#[tokio::test]
async fn accept_lets_a_member_post_and_hold_holds_the_post() -> Result<()> {
    let mm = mailman().await?;
    let list_text = mm.new_list("moderated").await?;
    let list: ListAddress = list_text.parse().map_err(anyhow::Error::msg)?;
    let client = client(None, None).await?;
    let se = new_user("list-se").await?;
    let plain = new_user("list-plain").await?;
    let reader = new_user("list-reader").await?;
    for (user, action) in [
        (&se, Some(Action::Accept)),
        (&plain, Some(Action::Hold)),
        (&reader, None),
    ] {
        let who = address(&user.address)?;
        client.subscribe(&list, &who, &user.name).await?;
        client.set_moderation(&list, &who, action).await?;
    }

    let (held_id, raw) = post(&plain.address, &list_text, "from a moderated member");
    smtp_send(&plain.address, &[&list_text], &raw).await?;
    let (sent_id, raw) = post(&se.address, &list_text, "from a post-capable member");
    smtp_send(&se.address, &[&list_text], &raw).await?;

    let deadline = Instant::now() + WAIT;
    let held = loop {
        let held = mm.held(&list_text).await?;
        if !held.is_empty() {
            break held;
        }
        if Instant::now() > deadline {
            bail!("nothing held on {list_text} within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["sender"], plain.address.as_str());
    assert_eq!(held[0]["message_id"], format!("<{held_id}>"));

    // Exactly the accepted post: the held one must not come in late.
    let got = wait_for_exactly(&reader, "INBOX", 1, WAIT).await?;
    let ids: Vec<_> = got.iter().filter_map(|m| header(m, "Message-ID")).collect();
    assert_eq!(ids, [format!("<{sent_id}>")]);
    Ok(())
}

#[tokio::test]
async fn errors_name_the_list_and_tell_unreachable_from_refused() -> Result<()> {
    let mm = mailman().await?;
    let list_text = mm.new_list("errors").await?;
    let list: ListAddress = list_text.parse().map_err(anyhow::Error::msg)?;
    let who = unique("someone")?;

    let missing: ListAddress = format!("nosuch-{}@{}", rand::random::<u32>(), mm.domain)
        .parse()
        .map_err(anyhow::Error::msg)?;
    let client_ok = client(None, None).await?;
    let err = client_ok
        .members(&missing)
        .await
        .err()
        .context("a missing list answered")?;
    ensure!(matches!(err, ListError::NoSuchList { .. }), "{err}");
    ensure!(err.to_string().contains(missing.as_str()), "{err}");
    let err = client_ok
        .subscribe(&missing, &who, "")
        .await
        .err()
        .context("subscribed to a missing list")?;
    ensure!(matches!(err, ListError::NoSuchList { .. }), "{err}");

    let dir = tempfile::tempdir()?;
    let wrong = format!("wrong-{}", rand::random::<u64>());
    std::fs::write(dir.path().join("pw"), &wrong)?;
    let client_bad = client(Some(&dir.path().join("pw")), None).await?;
    let err = client_bad
        .subscribe(&list, &who, "")
        .await
        .err()
        .context("subscribed with a wrong password")?;
    match &err {
        ListError::Refused { status: 401, .. } => {}
        other => bail!("expected a 401 refusal, got {other}"),
    }
    ensure!(!err.is_transient());
    let shown = err.to_string();
    ensure!(
        shown.contains(list.as_str()) && shown.contains(&who.to_string()),
        "{shown}"
    );
    ensure!(!shown.contains(&wrong), "the password leaked: {shown}");
    ensure!(!format!("{client_bad:?}").contains(&wrong));

    // A port nobody listens on: unreachable, worth retrying.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let url = format!("http://127.0.0.1:{closed}/3.1");
    let client_down = client(None, Some(&url)).await?;
    let err = client_down
        .unsubscribe(&list, &who)
        .await
        .err()
        .context("a closed port answered")?;
    ensure!(matches!(err, ListError::Unreachable { .. }), "{err}");
    ensure!(err.is_transient());
    ensure!(err.to_string().contains(list.as_str()), "{err}");
    Ok(())
}
