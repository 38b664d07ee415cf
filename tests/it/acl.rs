//! IMAP access control lists against the test Dovecot: triaged's ACL commands grant a fresh user rights on
//! another fresh user's folders, and the test's own IMAP client proves what the grantee can do through
//! the shared namespace (`shared/OWNER/FOLDER`), before and after DELETEACL. Also what Dovecot does to
//! rights on folders created later, to a session that is already open when rights are revoked, and to
//! an owner who takes its own rights away.

use anyhow::{Context as _, Result, ensure};
use futures::TryStreamExt as _;

use triaged::config::{Config, MailboxConfig};
use triaged::mailbox::imap::acl::{AclSession, Refused, Rights};

use super::support::{
    ImapSession, TestUser, append, fetch_all, getacl, imap_login, list_folders, mailserver,
    new_user,
};

/// triaged's `[mailbox]` for `user`, read from a config file as triaged reads it (STARTTLS, test CA).
async fn mailbox_config(user: &TestUser) -> Result<(tempfile::TempDir, MailboxConfig)> {
    let server = mailserver().await?;
    let dir = tempfile::tempdir().context("temp dir")?;
    std::fs::write(dir.path().join("password"), &user.password)?;
    let file = dir.path().join("triaged.toml");
    std::fs::write(
        &file,
        format!(
            "[mailbox]\nurl = \"imap://{}@localhost:{}/INBOX\"\npassword_file = \"password\"\n\
             ca_file = \"{}\"\n[rules]\nscript = \"{}/rules/support.sieve\"\n\
             [outbox]\nfrom = \"Support <support@test.example>\"\n",
            user.name,
            server.imap_port,
            server.ca.display(),
            env!("CARGO_MANIFEST_DIR"),
        ),
    )?;
    let config = Config::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((dir, config.mailbox))
}

fn rights(text: &str) -> Result<Rights> {
    Ok(text.parse()?)
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Someone <someone@example.org>\r\nTo: support@test.example\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}-{}@triaged.test>\r\n\r\nHello.\r\n",
        rand::random::<u32>()
    )
    .into_bytes()
}

/// The identifier's rights in a GETACL read with the test's own client, as a set.
async fn held(session: &mut ImapSession, folder: &str, who: &str) -> Result<Option<Rights>> {
    let entries = getacl(session, folder).await?;
    entries
        .into_iter()
        .find(|(id, _)| id == who)
        .map(|(_, r)| rights(&r))
        .transpose()
}

#[tokio::test]
async fn grants_are_read_back_used_through_the_shared_namespace_and_revoked() -> Result<()> {
    let owner = new_user("acl-owner").await?;
    let grantee = new_user("acl-grantee").await?;
    append(&owner, "Bucket", &message("bucket"), &[]).await?;
    append(&owner, "Lang/Fran&AOc-ais", &message("lang"), &[]).await?;
    let (_dir, cfg) = mailbox_config(&owner).await?;

    let mut acl = AclSession::connect(&cfg).await?;
    assert_eq!(acl.user(), owner.name);
    let tree = acl.tree().await?;
    assert_eq!(tree, ["Bucket", "INBOX", "Lang/Français"], "{tree:?}");
    acl.set_acl("Bucket", &grantee.name, &rights("lrswi")?)
        .await?;
    acl.set_acl("Lang/Français", &grantee.name, &rights("lr")?)
        .await?;
    let on_bucket = acl.get_acl("Bucket").await?;
    assert_eq!(on_bucket.get(&grantee.name), Some(&rights("lrswi")?));
    assert!(on_bucket.get(&owner.name).is_some_and(|r| r.contains('a')));
    assert!(acl.my_rights("Bucket").await?.contains('a'));

    // Read back with the test's own client; Dovecot reorders the letters.
    let mut own = imap_login(&owner, false).await?;
    assert_eq!(
        held(&mut own, "Bucket", &grantee.name).await?,
        Some(rights("lrswi")?)
    );
    assert_eq!(
        held(&mut own, "Lang/Fran&AOc-ais", &grantee.name).await?,
        Some(rights("lr")?)
    );

    // The grantee reads through the shared namespace, and keeps this session open.
    let shared = format!("shared/{}/Bucket", owner.name);
    let mut open = imap_login(&grantee, false).await?;
    let folders = list_folders(&mut open).await?;
    ensure!(folders.contains(&shared), "{shared} not in {folders:?}");
    ensure!(folders.contains(&format!("shared/{}/Lang/Fran&AOc-ais", owner.name)));
    let selected = open.select(&shared).await?;
    assert_eq!(selected.exists, 1);
    let fetched: Vec<_> = open.fetch("1", "BODY.PEEK[]").await?.try_collect().await?;
    assert!(
        fetched[0]
            .body()
            .is_some_and(|b| b.ends_with(b"Hello.\r\n"))
    );

    // The grantee's own tree leaves the shared folders out; its MYRIGHTS there are what it was given.
    let (_gdir, gcfg) = mailbox_config(&grantee).await?;
    let mut as_grantee = AclSession::connect(&gcfg).await?;
    assert_eq!(as_grantee.tree().await?, ["INBOX"]);
    assert_eq!(as_grantee.my_rights(&shared).await?, rights("lrswi")?);
    as_grantee.logout().await;

    acl.delete_acl("Bucket", &grantee.name).await?;
    assert_eq!(held(&mut own, "Bucket", &grantee.name).await?, None);
    let mut fresh = imap_login(&grantee, false).await?;
    ensure!(
        fresh.select(&shared).await.is_err(),
        "a fresh login still selects {shared}"
    );
    ensure!(!list_folders(&mut fresh).await?.contains(&shared));
    // Dovecot checks rights when a folder is opened: the session that had it selected reads on.
    let again: Vec<_> = open.fetch("1", "FLAGS").await?.try_collect().await?;
    assert_eq!(again.len(), 1, "the open session lost the folder");
    for session in [fresh, open, own] {
        let mut session = session;
        session.logout().await?;
    }
    acl.logout().await;
    Ok(())
}

#[tokio::test]
async fn new_top_level_folders_get_only_the_owners_rights_and_children_copy_their_parent()
-> Result<()> {
    let owner = new_user("acl-new").await?;
    let grantee = new_user("acl-new-grantee").await?;
    append(&owner, "Bucket", &message("bucket"), &[]).await?;
    let (_dir, cfg) = mailbox_config(&owner).await?;
    let mut acl = AclSession::connect(&cfg).await?;
    for folder in acl.tree().await? {
        acl.set_acl(&folder, &grantee.name, &rights("lrswi")?)
            .await?;
    }

    // Created after the grant, as the worker creates buckets.
    let mut own = imap_login(&owner, false).await?;
    own.create("Later").await?;
    own.create("Bucket/Child").await?;
    assert_eq!(
        acl.tree().await?,
        ["Bucket", "Bucket/Child", "INBOX", "Later"]
    );
    // Dovecot 2.3 without acl_defaults_from_inbox: a top-level folder starts with the owner alone.
    let later = acl.get_acl("Later").await?;
    assert_eq!(later.keys().collect::<Vec<_>>(), [&owner.name]);
    // A folder made under another copies that one's entries when it is created.
    let child = acl.get_acl("Bucket/Child").await?;
    assert_eq!(child.get(&grantee.name), Some(&rights("lrswi")?));
    own.logout().await?;
    acl.logout().await;
    Ok(())
}

#[tokio::test]
async fn refusals_name_the_command_and_folder_and_leave_the_session_usable() -> Result<()> {
    let owner = new_user("acl-refused").await?;
    let other = new_user("acl-refused-other").await?;
    append(&other, "Private", &message("private"), &[]).await?;
    let (_dir, cfg) = mailbox_config(&owner).await?;
    let mut acl = AclSession::connect(&cfg).await?;

    let err = acl
        .set_acl("No/Such", &other.name, &rights("lr")?)
        .await
        .err()
        .context("SETACL on a missing folder succeeded")?;
    let refused = err
        .downcast_ref::<Refused>()
        .with_context(|| format!("not a refusal: {err:#}"))?;
    assert_eq!(
        (refused.command, refused.folder.as_str()),
        ("SETACL", "No/Such")
    );

    // Another user's folder, not shared with this login: nothing to read or change.
    let foreign = format!("shared/{}/Private", other.name);
    let err = acl
        .get_acl(&foreign)
        .await
        .err()
        .context("GETACL succeeded")?;
    ensure!(err.downcast_ref::<Refused>().is_some(), "{err:#}");

    // An identifier that would smuggle a second command is refused before anything is sent.
    let err = acl
        .set_acl("INBOX", "x\r\nA9 DELETE INBOX", &rights("lr")?)
        .await
        .err()
        .context("a CR LF identifier was sent")?;
    ensure!(err.downcast_ref::<Refused>().is_none(), "{err:#}");

    // The connection still answers in step after the refusals.
    assert!(acl.get_acl("INBOX").await?.contains_key(&owner.name));
    let mut session = imap_login(&other, false).await?;
    assert_eq!(fetch_all(&mut session, "Private").await?.len(), 1);
    session.logout().await?;
    acl.logout().await;
    Ok(())
}

#[tokio::test]
async fn the_owner_keeps_the_right_to_administer_its_own_folders() -> Result<()> {
    let owner = new_user("acl-self").await?;
    append(&owner, "Bucket", &message("self"), &[]).await?;
    let (_dir, cfg) = mailbox_config(&owner).await?;
    let mut acl = AclSession::connect(&cfg).await?;
    // Dovecot 2.3 adds `a` back to whatever the owner gives itself.
    acl.set_acl("Bucket", &owner.name, &rights("lr")?).await?;
    let mut own = imap_login(&owner, false).await?;
    assert_eq!(
        held(&mut own, "Bucket", &owner.name).await?,
        Some(rights("lra")?)
    );
    assert_eq!(acl.my_rights("Bucket").await?, rights("lra")?);
    // So it can always put things right again.
    acl.set_acl("Bucket", &owner.name, &rights("lrswipkxtea")?)
        .await?;
    assert_eq!(
        held(&mut own, "Bucket", &owner.name).await?,
        Some(rights("lrswipkxtea")?)
    );
    own.logout().await?;
    acl.logout().await;
    Ok(())
}
