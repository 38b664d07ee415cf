//! S/MIME end to end with certificates made by the `openssl` command: welcome packs go out through the
//! test Postfix and are read back over IMAP, then checked by two implementations that are not
//! triaged's: `openssl cms -verify/-decrypt` and GnuPG's `gpgsm`. A signed pack verifies (and fails
//! once its body is altered); a pack to a member with a certificate decrypts to a signed entity that
//! verifies. `check` reports an expired team certificate under its key, and an always-encrypted mail
//! is held until the member's certificate is there, then composed again by `outbox retry`.

use crate::it::support::Backend;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use mail_parser::MimeHeaders as _;

use super::super::support::{mailserver, new_user, wait_for_messages};
use super::pki::{Ca, Gpgsm, Issued, Validity, openssl, openssl_decrypt, openssl_ok};
use super::{Env, Setup, parse, part_body, plaintext, split_parts, text_of};

/// The `[smime]` table for the team's identity issued by `ca`, its key locked with a passphrase.
pub(super) fn smime_table(dir: &Path, ca: &Ca, team: &Issued, certs_dir: &Path) -> Result<String> {
    let locked = dir.join("team-locked.key");
    openssl_ok(
        dir,
        &[
            "pkey",
            "-in",
            &team.key.display().to_string(),
            "-aes256",
            "-passout",
            "pass:team secret",
            "-out",
            &locked.display().to_string(),
        ],
    )?;
    let passphrase = dir.join("passphrase");
    std::fs::write(&passphrase, "team secret\n")?;
    Ok(format!(
        "[smime]\ncert_file = \"{}\"\nkey_file = \"{}\"\npassphrase_file = \"{}\"\nca_file = \"{}\"\n\
         certs_dir = \"{}\"\n",
        team.cert.display(),
        locked.display(),
        passphrase.display(),
        ca.cert.display(),
        certs_dir.display()
    ))
}

pub(super) fn content_type(raw: &[u8]) -> Result<(String, String)> {
    let msg = parse(raw)?;
    let ct = msg.content_type().context("content type")?;
    let param = ct
        .attribute("protocol")
        .or(ct.attribute("smime-type"))
        .unwrap_or("");
    Ok((
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")),
        param.to_owned(),
    ))
}

/// `openssl cms -verify` of a whole S/MIME message (the bytes as fetched) against `ca`.
pub(super) fn openssl_verifies(work: &Path, ca: &Ca, raw: &[u8]) -> Result<bool> {
    let file = work.join(format!("verify-{}.eml", rand::random::<u32>()));
    std::fs::write(&file, raw)?;
    let out = openssl(
        work,
        &[
            "cms",
            "-verify",
            "-in",
            &file.display().to_string(),
            "-CAfile",
            &ca.cert.display().to_string(),
            "-purpose",
            "smimesign",
            "-out",
            "/dev/null",
        ],
    )?;
    Ok(out.status.success())
}

/// `gpgsm --verify` of a multipart/signed message's signature over its first part as received; the
/// status line says GOODSIG or BADSIG.
pub(super) fn gpgsm_verify(gpgsm: &Gpgsm, work: &Path, raw: &[u8]) -> Result<String> {
    let (content, signature) = split_parts(raw)?;
    let base64: String = String::from_utf8(part_body(&signature)?.to_vec())?
        .split_whitespace()
        .collect();
    let der = decode_base64(work, &base64)?;
    let (sig, data) = (work.join("sig.p7s"), work.join("content.bin"));
    std::fs::write(&sig, der)?;
    std::fs::write(&data, content)?;
    let out = gpgsm.run(
        &[
            "--verify",
            &sig.display().to_string(),
            &data.display().to_string(),
        ],
        b"",
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn decode_base64(work: &Path, text: &str) -> Result<Vec<u8>> {
    let file = work.join("b64.txt");
    let mut wrapped = String::new();
    for chunk in text.as_bytes().chunks(64) {
        wrapped.push_str(std::str::from_utf8(chunk)?);
        wrapped.push('\n');
    }
    std::fs::write(&file, wrapped)?;
    openssl_ok(work, &["base64", "-d", "-in", &file.display().to_string()])
}

crate::both_stores!(smime_mail_verifies_and_decrypts_with_openssl_and_gpgsm);

async fn smime_mail_verifies_and_decrypts_with_openssl_and_gpgsm(backend: Backend) -> Result<()> {
    let plain = new_user("smime-plain").await?;
    let member = new_user("smime-member").await?;
    let ca = Ca::new("Team CA")?;
    let team = ca.issue("team", "support@example.org", Validity::Current)?;
    let member_cert = ca.issue("member", &member.address, Validity::Current)?;
    let keys = tempfile::tempdir()?;
    let certs = keys.path().join("certs");
    std::fs::create_dir(&certs)?;
    std::fs::copy(&member_cert.cert, certs.join("member.pem"))?;
    let extra = smime_table(keys.path(), &ca, &team, &certs)?;
    let env = Env::with_postfix(
        "Arbitration <arbitration@test.example>",
        "Team Leader <stl@test.example>",
        &extra,
        backend,
    )
    .await?;
    let check = env.run(&["check"]).await?;
    assert!(check.status.success(), "{}", text_of(&check));
    for user in [&plain, &member] {
        let to = format!("Newcomer <{}>", user.address);
        let out = env
            .run(&["send", "welcome", "--role", "triage", "--to", &to])
            .await?;
        assert!(out.status.success(), "{}", text_of(&out));
    }
    let flush = env.run(&["outbox", "flush"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));
    let work = tempfile::tempdir()?;
    let gpgsm = Gpgsm::new(&ca)?;
    gpgsm.import_key(&ca, &member_cert)?;

    // Signed only: no certificate for this recipient.
    let got = wait_for_messages(&plain, "INBOX", 1, Duration::from_secs(20)).await?;
    let signed = &got[0];
    assert_eq!(
        content_type(signed)?,
        (
            "multipart/signed".to_owned(),
            "application/pkcs7-signature".to_owned()
        )
    );
    assert_eq!(
        parse(signed)?
            .content_type()
            .and_then(|c| c.attribute("micalg")),
        Some("sha-256")
    );
    assert!(
        openssl_verifies(work.path(), &ca, signed)?,
        "openssl cms -verify"
    );
    let altered = String::from_utf8(signed.clone())?.replacen("Hello", "Jello", 1);
    assert!(
        !openssl_verifies(work.path(), &ca, altered.as_bytes())?,
        "an altered body fails"
    );
    let status = gpgsm_verify(&gpgsm, work.path(), signed)?;
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    let status = gpgsm_verify(&gpgsm, work.path(), altered.as_bytes())?;
    assert!(status.contains("[GNUPG:] BADSIG"), "{status}");

    // Signed, then encrypted to the member's certificate and the team's.
    let got = wait_for_messages(&member, "INBOX", 1, Duration::from_secs(20)).await?;
    let encrypted = &got[0];
    assert_eq!(
        content_type(encrypted)?,
        (
            "application/pkcs7-mime".to_owned(),
            "enveloped-data".to_owned()
        )
    );
    assert!(
        !String::from_utf8_lossy(encrypted).contains("Hello"),
        "the body is not in clear"
    );
    let inner = openssl_decrypt(work.path(), encrypted, &member_cert)?;
    let printed = String::from_utf8(openssl_ok(
        work.path(),
        &[
            "cms",
            "-cmsout",
            "-print",
            "-in",
            &work.path().join("encrypted.eml").display().to_string(),
        ],
    )?)?;
    assert!(
        printed.contains("aes-256-cbc") && printed.contains("envelopedData"),
        "{printed}"
    );
    assert_eq!(
        content_type(&inner)?,
        (
            "multipart/signed".to_owned(),
            "application/pkcs7-signature".to_owned()
        ),
        "signed, then encrypted"
    );
    assert!(
        openssl_verifies(work.path(), &ca, &inner)?,
        "the inner signature verifies"
    );

    assert_eq!(
        gpgsm.decrypt(work.path(), encrypted)?,
        inner,
        "gpgsm and openssl read the same entity"
    );
    let status = gpgsm_verify(&gpgsm, work.path(), &inner)?;
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    env.assert_backend().await?;
    Ok(())
}

crate::both_stores!(check_reports_an_expired_team_certificate_under_its_key);

async fn check_reports_an_expired_team_certificate_under_its_key(backend: Backend) -> Result<()> {
    let ca = Ca::new("Team CA")?;
    let team = ca.issue("team", "support@example.org", Validity::Expired)?;
    let keys = tempfile::tempdir()?;
    let certs = keys.path().join("certs");
    std::fs::create_dir(&certs)?;
    let extra = smime_table(keys.path(), &ca, &team, &certs)?;
    let env = Env::new(&Setup {
        transport: "transport = \"file:outbox\"",
        disputes_address: "Arbitration <arbitration@example.org>",
        claimant: "Team Leader <stl@example.org>",
        extra: &extra,
        backend,
    })
    .await?;
    let check = env.run(&["check"]).await?;
    assert_eq!(check.status.code(), Some(2), "{}", text_of(&check));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("smime.cert_file: the certificate expired on"),
        "{}",
        text_of(&check)
    );

    let not_yet = ca.issue("later", "support@example.org", Validity::NotYet)?;
    let config = std::fs::read_to_string(&env.config)?
        .replace(
            &team.cert.display().to_string(),
            &not_yet.cert.display().to_string(),
        )
        .replace(
            &keys.path().join("team-locked.key").display().to_string(),
            &not_yet.key.display().to_string(),
        );
    std::fs::write(&env.config, &config)?;
    let check = env.run(&["check"]).await?;
    assert_eq!(check.status.code(), Some(2), "{}", text_of(&check));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("smime.cert_file: the certificate is not valid before"),
        "{}",
        text_of(&check)
    );

    let other = ca.issue("other", "support@example.org", Validity::Current)?;
    let config = config.replace(
        &not_yet.cert.display().to_string(),
        &other.cert.display().to_string(),
    );
    std::fs::write(&env.config, &config)?;
    let check = env.run(&["check"]).await?;
    assert_eq!(check.status.code(), Some(2), "{}", text_of(&check));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("smime.key_file: the private key does not match"),
        "{}",
        text_of(&check)
    );
    env.assert_backend().await?;
    Ok(())
}

crate::both_stores!(always_encrypted_mail_is_held_until_the_certificate_is_there_then_retried);

async fn always_encrypted_mail_is_held_until_the_certificate_is_there_then_retried(
    backend: Backend,
) -> Result<()> {
    let member = new_user("smime-held").await?;
    let ca = Ca::new("Team CA")?;
    let team = ca.issue("team", "support@example.org", Validity::Current)?;
    let member_cert = ca.issue("member", &member.address, Validity::Current)?;
    let keys = tempfile::tempdir()?;
    let certs = keys.path().join("certs");
    std::fs::create_dir(&certs)?;
    let templates = keys.path().join("templates");
    std::fs::create_dir(&templates)?;
    std::fs::write(
        templates.join("welcome-se.txt"),
        "+++\nsubject = \"Private for {{ name }}\"\nto = [\"{{ recipient }}\"]\nencrypt = \"always\"\n\
         scheme = \"smime\"\n+++\nThe keys to the kingdom.\n",
    )?;
    let port = mailserver().await?.smtp_port;
    let env = Env::new(&Setup {
        transport: &format!(
            "{}\ntemplates_dir = \"{}\"",
            plaintext(port),
            templates.display()
        ),
        disputes_address: "Arbitration <arbitration@test.example>",
        claimant: "Team Leader <stl@test.example>",
        extra: &smime_table(keys.path(), &ca, &team, &certs)?,
        backend,
    })
    .await?;
    let to = format!("Member <{}>", member.address);
    let out = env
        .run(&["send", "welcome", "--role", "se", "--to", &to])
        .await?;
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("held outbox 1 ") && stdout.contains("no valid S/MIME certificate for"),
        "{stdout}"
    );
    std::fs::copy(&member_cert.cert, certs.join("member.pem"))?;
    let retry = env.run(&["outbox", "retry", "1"]).await?;
    assert!(retry.status.success(), "{}", text_of(&retry));
    let flush = env.run(&["outbox", "flush"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));
    let got = wait_for_messages(&member, "INBOX", 1, Duration::from_secs(20)).await?;
    assert_eq!(content_type(&got[0])?.1, "enveloped-data");
    let work = tempfile::tempdir()?;
    let inner = openssl_decrypt(work.path(), &got[0], &member_cert)?;
    assert!(String::from_utf8_lossy(&inner).contains("The keys to the kingdom."));
    env.assert_backend().await?;
    Ok(())
}
