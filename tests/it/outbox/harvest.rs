//! Learning members' certificates from their signed mail, on mail signed by `openssl cms` and `gpg`
//! (never by triaged): a valid S/MIME signature, delivered through Dovecot and read back over IMAP,
//! gives the signer's certificate; another address, an unknown CA, a tampered body and a malformed
//! signature are rejected, each with its reason. A PGP/MIME-signed message with its key attached gives
//! that key.

use std::time::Duration;

use anyhow::{Context as _, Result};
use triaged::clock::Clock;
use triaged::config::Scheme;
use triaged::outbox::harvest::{Harvest, Harvested, Harvester, Rejected};

use super::super::support::{deliver_lmtp, new_user, wait_for_messages};
use super::pgp::GpgHome;
use super::pki::{Ca, Validity, der};

const CONTENT: &[u8] = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n\
Hello support, this is my certificate.\r\n";

fn harvester(ca: &Ca) -> Result<Harvester> {
    Harvester::from_ca_pem(&std::fs::read(&ca.cert)?)
}

fn verified(h: Harvest) -> Result<Harvested> {
    match h {
        Harvest::Verified(found) => Ok(found),
        other => anyhow::bail!("expected a verified certificate, got {other:?}"),
    }
}

fn rejected(h: Harvest) -> Result<Rejected> {
    match h {
        Harvest::Rejected(why) => Ok(why),
        other => anyhow::bail!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_smime_signature_as_received_over_imap_gives_the_signers_certificate() -> Result<()>
{
    let inbox = new_user("harvest-smime").await?;
    let ca = Ca::new("Members CA")?;
    let santa = ca.issue("santa", "santa@test.example", Validity::Current)?;
    let detached = ca.sign_mail(&santa, "Santa <santa@test.example>", CONTENT, false)?;
    let opaque = ca.sign_mail(&santa, "Santa <santa@test.example>", CONTENT, true)?;
    deliver_lmtp(&inbox, &detached).await?;
    deliver_lmtp(&inbox, &opaque).await?;
    let got = wait_for_messages(&inbox, "INBOX", 2, Duration::from_secs(20)).await?;
    let now = Clock::system().now();
    let h = harvester(&ca)?;
    for raw in &got {
        let found = verified(h.harvest(raw, now))?;
        assert_eq!(found.scheme, Scheme::Smime);
        assert_eq!(found.address, "santa@test.example");
        assert_eq!(found.certificate, der(&santa.cert)?);
        let expires = found.expires.context("expiry")?;
        assert!(
            (expires - (now + chrono::Duration::days(365)))
                .num_hours()
                .abs()
                < 2,
            "{expires}"
        );
    }
    let legacy = String::from_utf8(got[0].clone())?.replace(
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    );
    assert!(
        matches!(h.harvest(legacy.as_bytes(), now), Harvest::Verified(_)),
        "x-pkcs7-signature"
    );
    Ok(())
}

#[tokio::test]
async fn smime_signatures_that_fail_are_rejected_with_their_reason() -> Result<()> {
    let ca = Ca::new("Members CA")?;
    let santa = ca.issue("santa", "santa@test.example", Validity::Current)?;
    let now = Clock::system().now();
    let h = harvester(&ca)?;

    let other_from = ca.sign_mail(&santa, "Grinch <grinch@test.example>", CONTENT, false)?;
    let why = rejected(h.harvest(&other_from, now))?;
    assert_eq!(why.reason(), "wrong-address", "{why}");
    assert!(why.to_string().contains("grinch@test.example"), "{why}");

    let mail = ca.sign_mail(&santa, "Santa <santa@test.example>", CONTENT, false)?;
    let stranger = harvester(&Ca::new("Unknown CA")?)?;
    let why = rejected(stranger.harvest(&mail, now))?;
    assert_eq!(why.reason(), "untrusted", "{why}");

    let tampered = String::from_utf8(mail.clone())?.replace("my certificate", "my certifikate");
    let why = rejected(h.harvest(tampered.as_bytes(), now))?;
    assert_eq!(why.reason(), "bad-signature", "{why}");

    let opaque = String::from_utf8(ca.sign_mail(&santa, "santa@test.example", CONTENT, true)?)?;
    let body_at = opaque.find("\r\n\r\n").context("no body")? + 4;
    let broken = format!("{}MIIBadlyBroken0000\r\n", &opaque[..body_at]);
    let why = rejected(h.harvest(broken.as_bytes(), now))?;
    assert_eq!(why.reason(), "malformed", "{why}");

    let expired = ca.issue("old", "old@test.example", Validity::Expired)?;
    let old = ca.sign_mail(&expired, "old@test.example", CONTENT, false)?;
    let why = rejected(h.harvest(&old, now))?;
    assert!(why.to_string().contains("certificate has expired"), "{why}");
    Ok(())
}

#[tokio::test]
async fn a_key_attached_to_a_gpg_signed_message_is_learnt() -> Result<()> {
    let home = GpgHome::new()?;
    home.generate("Rudolph <rudolph@test.example>", "")?;
    let key = String::from_utf8(home.ok(&["--armor", "--export", "rudolph@test.example"])?)?;
    let content = format!(
        "Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\n\
         Content-Type: text/plain\r\n\r\nMy key is attached.\r\n--inner\r\n\
         Content-Type: application/pgp-keys; name=\"key.asc\"\r\n\r\n{}\r\n--inner--\r\n",
        key.trim_end().replace('\n', "\r\n")
    );
    let work = tempfile::tempdir()?;
    let data = work.path().join("content");
    std::fs::write(&data, &content)?;
    let signature = home.ok(&[
        "--passphrase",
        "",
        "--armor",
        "--detach-sign",
        "--output",
        "-",
        &data.display().to_string(),
    ])?;
    let mail = format!(
        "From: Rudolph <rudolph@test.example>\r\nTo: support@example.org\r\nSubject: my key\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n \
         protocol=\"application/pgp-signature\"; boundary=\"outer\"\r\n\r\n--outer\r\n{content}\r\n\
         --outer\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n{}\r\n--outer--\r\n",
        String::from_utf8(signature)?
            .trim_end()
            .replace('\n', "\r\n")
    );
    let colons =
        String::from_utf8(home.ok(&["--with-colons", "--fingerprint", "rudolph@test.example"])?)?;
    let fingerprint = colons
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .context("fingerprint")?;
    let now = Clock::system().now();
    let found = verified(Harvester::default().harvest(mail.as_bytes(), now))?;
    assert_eq!(found.scheme, Scheme::OpenPgp);
    assert_eq!(found.address, "rudolph@test.example");
    assert_eq!(found.fingerprint, fingerprint);
    let tampered = mail.replace("My key is attached.", "My key is attacked.");
    let why = rejected(Harvester::default().harvest(tampered.as_bytes(), now))?;
    assert_eq!(why.reason(), "bad-signature", "{why}");
    Ok(())
}
