//! Keywords the rules set on a Maildir source, read back by Dovecot: triaged sorts a Dovecot user's own
//! Maildir, then Dovecot, serving the same files over IMAP, must report `$Ticket` and `$Privacy`.

use anyhow::{Context as _, Result, ensure};
use futures::TryStreamExt as _;

use super::harness::{Opts, World};
use crate::it::support::Backend;
use crate::it::support::{imap_login, mailserver, new_user};

crate::both_stores!(keywords_set_on_a_maildir_are_the_keywords_dovecot_reports);

/// Guards against: keywords written in a form Dovecot does not read (and so lost for the team).
async fn keywords_set_on_a_maildir_are_the_keywords_dovecot_reports(
    backend: Backend,
) -> Result<()> {
    let server = mailserver().await?;
    let user = new_user("keywords").await?;
    let mut session = imap_login(&user, false).await?;
    session.select("INBOX").await.context("select INBOX")?;
    session.logout().await.ok();
    let root = server.dir.join("mail").join(&user.name).join("Maildir");
    ensure!(
        root.join("cur").is_dir(),
        "no Maildir at {}",
        root.display()
    );
    let cases = [
        (
            "kw-ticket",
            "Re: [s20120418.179] password reset",
            "Accounts",
            "$Ticket",
        ),
        (
            "kw-privacy",
            "Please delete my account",
            "Privacy",
            "$Privacy",
        ),
        (
            "kw-both",
            "s20120418.180 GDPR request",
            "Privacy",
            "$Ticket",
        ),
    ];
    for (i, (id, subject, _, _)) in cases.iter().enumerate() {
        let raw = format!(
            "Message-ID: <{id}@test.example>\r\nFrom: a@example.net\r\nTo: support@test.example\r\n\
             Subject: {subject}\r\n\r\nHello.\r\n"
        );
        std::fs::write(
            root.join("new").join(format!("170000000{i}.M{i}P1.kw")),
            raw,
        )?;
    }
    let url = format!("maildir://{}", root.display());
    let world = World::maildir(Opts {
        url: Some(&url),
        backend,
        ..Opts::default()
    })
    .await?;
    world.run_once().await?;
    let owner = std::process::Command::new("chown")
        .args(["-R", "triaged-vmail:triaged-vmail"])
        .arg(&root)
        .status()?;
    ensure!(owner.success(), "chown {} failed", root.display());

    let mut session = imap_login(&user, false).await?;
    for (id, _, folder, keyword) in cases {
        session
            .select(folder)
            .await
            .with_context(|| format!("select {folder}"))?;
        let uids = session
            .uid_search(format!("HEADER Message-ID \"{id}@test.example\""))
            .await?;
        let uid = uids
            .into_iter()
            .next()
            .with_context(|| format!("{id} not in {folder}"))?;
        let fetched: Vec<_> = session
            .uid_fetch(uid.to_string(), "FLAGS")
            .await?
            .try_collect()
            .await?;
        let flags: Vec<String> = fetched
            .iter()
            .flat_map(|f| f.flags())
            .map(|f| format!("{f:?}"))
            .collect();
        ensure!(
            flags.iter().any(|f| f.contains(keyword)),
            "{id} in {folder} has {flags:?}, expected {keyword}"
        );
    }
    session.logout().await.ok();
    world.assert_backend().await?;
    Ok(())
}
