//! Composing with S/MIME, checked with OpenSSL's own PKCS#7 verification and CMS decryption: the RFC 8551
//! layouts, the scheme a template or `auto` picks beside OpenPGP, held mail, and certificates found
//! through a lookup other than the config's.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use openpgp::cert::CertBuilder;
use openpgp::serialize::Serialize as _;
use openssl::cms::CmsContentInfo;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;
use sequoia_openpgp as openpgp;

use super::smime_tests::pem_config;
use super::testing::{Ca, Spec, now};
use crate::config::{OpenPgpConfig, OutboxConfig, Scheme, Transport};
use crate::outbox::harvest::mime::first_part;
use crate::outbox::{KnownCerts, Outbox, Pgp, Smime};
use crate::templates::{Encrypt, RenderedMail, SchemeChoice, Templates};

struct Team {
    outbox: Outbox,
    ca: Ca,
    /// santa@example.org's certificate is in certs_dir; this is its key.
    santa_key: PKey<Private>,
    santa: X509,
    _dir: tempfile::TempDir,
}

/// An outbox with `[smime]` (santa@example.org in certs_dir) and, when `pgp`, `[openpgp]` with a
/// keyring holding rudolph@example.org.
fn team(pgp: bool) -> Result<Team> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let mut config = pem_config(dir.path(), &ca, &Spec::mail("support@example.org"))?;
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs)?;
    let (santa, santa_key) = ca.issue(&Spec::mail("presents@example.org"))?;
    std::fs::write(certs.join("santa.pem"), santa.to_pem()?)?;
    config.certs_dir = Some(certs);
    let smime = Smime::load(&config)?;
    let pgp = if pgp {
        Some(Arc::new(Pgp::load(&pgp_keys(dir.path())?)?))
    } else {
        None
    };
    let outbox = Outbox {
        config: OutboxConfig {
            transport: Transport::File {
                dir: dir.path().join("out"),
            },
            user: None,
            password: None,
            ca_file: None,
            from: "Support <support@example.org>".parse()?,
            templates_dir: None,
            retry: vec![Duration::from_secs(60)],
            give_up_after: Duration::from_secs(3600),
            schemes: vec![Scheme::Smime, Scheme::OpenPgp],
        },
        pgp,
        smime: Some(Arc::new(smime)),
    };
    Ok(Team {
        outbox,
        ca,
        santa_key,
        santa,
        _dir: dir,
    })
}

fn pgp_keys(dir: &Path) -> Result<OpenPgpConfig> {
    let (team, _) =
        CertBuilder::general_purpose(Some("Support <support@example.org>")).generate()?;
    let (rudolph, _) =
        CertBuilder::general_purpose(Some("Rudolph <rudolph@example.org>")).generate()?;
    let key_file = dir.join("team.pgp");
    team.as_tsk()
        .serialize(&mut std::fs::File::create(&key_file)?)?;
    let keyring = dir.join("keyring.pgp");
    rudolph.serialize(&mut std::fs::File::create(&keyring)?)?;
    Ok(OpenPgpConfig {
        key_file,
        passphrase: None,
        keyring: Some(keyring),
    })
}

fn welcome(to: &[&str]) -> Result<RenderedMail> {
    let mut mail = Templates::load(None)?
        .render_samples()?
        .into_iter()
        .find(|m| m.template == "welcome-triage")
        .context("no sample")?;
    mail.to = to.iter().map(|t| t.parse()).collect::<Result<_, _>>()?;
    Ok(mail)
}

/// (content type, protocol or smime-type) of a raw message.
fn kind(raw: &[u8]) -> Result<(String, String)> {
    let msg = MessageParser::default().parse(raw).context("parse")?;
    let ct = msg.content_type().context("content type")?;
    let param = ct
        .attribute("protocol")
        .or(ct.attribute("smime-type"))
        .unwrap_or("")
        .to_owned();
    Ok((
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")),
        param,
    ))
}

/// The signed part's exact bytes and the decoded signature of a multipart/signed message.
fn signed_parts(raw: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let msg = MessageParser::default().parse(raw).context("parse")?;
    let boundary = msg
        .content_type()
        .and_then(|ct| ct.attribute("boundary"))
        .context("boundary")?;
    let root = &msg.parts[0];
    let body = &raw[root.offset_body as usize..root.offset_end as usize];
    let content = first_part(body, boundary).context("first part")?.to_vec();
    let PartType::Multipart(children) = &root.body else {
        anyhow::bail!("not multipart");
    };
    let signature = msg.parts[children[1] as usize].contents().to_vec();
    Ok((content, signature))
}

fn verify(ca: &Ca, content: &[u8], signature: &[u8]) -> Result<()> {
    let p7 = Pkcs7::from_der(signature)?;
    let mut store = X509StoreBuilder::new()?;
    store.add_cert(ca.cert.clone())?;
    let none: Stack<X509> = Stack::new()?;
    p7.verify(
        &none,
        &store.build(),
        Some(content),
        None,
        Pkcs7Flags::BINARY,
    )?;
    Ok(())
}

#[test]
fn a_signed_mail_is_rfc8551_multipart_signed_over_the_bytes_sent() -> Result<()> {
    let t = team(false)?;
    let composed = t.outbox.compose(
        &welcome(&["Nobody <nocert@example.org>"])?,
        "<s@example.org>",
        now(),
    )?;
    assert!(composed.signed && !composed.encrypted);
    assert_eq!(composed.scheme, Some(Scheme::Smime));
    let text = String::from_utf8(composed.raw.clone())?;
    assert!(
        text.contains("micalg=sha-256") || text.contains("micalg=\"sha-256\""),
        "{text}"
    );
    assert_eq!(
        kind(&composed.raw)?,
        (
            "multipart/signed".to_owned(),
            "application/pkcs7-signature".to_owned()
        )
    );
    let (content, signature) = signed_parts(&composed.raw)?;
    verify(&t.ca, &content, &signature)?;
    let mut altered = content.clone();
    let at = altered.len() - 3;
    altered[at] ^= 0x20;
    assert!(
        verify(&t.ca, &altered, &signature).is_err(),
        "an altered body fails"
    );
    Ok(())
}

#[test]
fn mail_to_a_member_with_a_certificate_is_signed_then_encrypted_to_them_and_the_team() -> Result<()>
{
    let t = team(false)?;
    let composed = t.outbox.compose(
        &welcome(&["Santa <presents@example.org>"])?,
        "<e@example.org>",
        now(),
    )?;
    assert!(composed.signed && composed.encrypted);
    assert_eq!(
        kind(&composed.raw)?,
        (
            "application/pkcs7-mime".to_owned(),
            "enveloped-data".to_owned()
        )
    );
    assert!(
        !String::from_utf8_lossy(&composed.raw).contains("Hello"),
        "body in clear"
    );
    let msg = MessageParser::default()
        .parse(&composed.raw[..])
        .context("parse")?;
    let der = msg.parts[0].contents();
    let cms = CmsContentInfo::from_der(der)?;
    let inner = cms.decrypt(&t.santa_key, &t.santa)?;
    let smime = t.outbox.smime().context("smime")?;
    assert_eq!(smime.decrypt(der)?, inner, "the team reads what it sent");
    assert_eq!(
        kind(&inner)?,
        (
            "multipart/signed".to_owned(),
            "application/pkcs7-signature".to_owned()
        )
    );
    let (content, signature) = signed_parts(&inner)?;
    verify(&t.ca, &content, &signature)?;
    Ok(())
}

#[test]
fn always_encrypted_mail_without_every_certificate_is_held() -> Result<()> {
    let t = team(false)?;
    let mut mail = welcome(&[
        "Santa <presents@example.org>",
        "Nobody <nocert@example.org>",
    ])?;
    mail.encrypt = Encrypt::Always;
    let held = t.outbox.compose(&mail, "<h@example.org>", now())?;
    assert!(held.raw.is_empty());
    let why = held.hold_error.context("held")?;
    assert!(
        why.contains("no valid S/MIME certificate for nocert@example.org"),
        "{why}"
    );
    Ok(())
}

#[test]
fn auto_picks_the_scheme_every_recipient_has_and_holds_mixed_recipients() -> Result<()> {
    let t = team(true)?;
    let santa = "Santa <presents@example.org>";
    let rudolph = "Rudolph <rudolph@example.org>";
    let to_rudolph = t
        .outbox
        .compose(&welcome(&[rudolph])?, "<p@example.org>", now())?;
    assert_eq!(to_rudolph.scheme, Some(Scheme::OpenPgp));
    assert!(to_rudolph.encrypted);
    assert_eq!(kind(&to_rudolph.raw)?.0, "multipart/encrypted");
    let to_santa = t
        .outbox
        .compose(&welcome(&[santa])?, "<q@example.org>", now())?;
    assert_eq!(
        (to_santa.scheme, to_santa.encrypted),
        (Some(Scheme::Smime), true)
    );

    let mut mixed = welcome(&[santa, rudolph])?;
    let signed = t.outbox.compose(&mixed, "<r@example.org>", now())?;
    assert_eq!(
        (signed.scheme, signed.signed, signed.encrypted),
        (Some(Scheme::Smime), true, false)
    );
    mixed.encrypt = Encrypt::Always;
    let held = t.outbox.compose(&mixed, "<r2@example.org>", now())?;
    let why = held.hold_error.context("mixed recipients are held")?;
    assert!(why.contains("smime lacks rudolph@example.org"), "{why}");
    assert!(why.contains("openpgp lacks presents@example.org"), "{why}");

    let mut pgp_only = welcome(&[santa])?;
    pgp_only.scheme = SchemeChoice::Openpgp;
    let pgp = t.outbox.compose(&pgp_only, "<s2@example.org>", now())?;
    assert_eq!((pgp.scheme, pgp.encrypted), (Some(Scheme::OpenPgp), false));
    assert_eq!(kind(&pgp.raw)?.1, "application/pgp-signature");
    Ok(())
}

#[test]
fn the_signing_scheme_follows_what_the_recipient_is_known_to_use() -> Result<()> {
    let mut t = team(true)?;
    t.outbox.config.schemes = vec![Scheme::OpenPgp, Scheme::Smime];
    let mut mail = welcome(&["Nobody <nocert@example.org>"])?;
    let first = t.outbox.compose(&mail, "<a@example.org>", now())?;
    assert_eq!(
        first.scheme,
        Some(Scheme::OpenPgp),
        "unknown recipient: first preferred"
    );
    mail.to.push("Santa <presents@example.org>".parse()?);
    let known = t.outbox.compose(&mail, "<b@example.org>", now())?;
    assert_eq!(
        (known.scheme, known.encrypted),
        (Some(Scheme::Smime), false)
    );
    Ok(())
}

#[test]
fn certificates_from_another_lookup_are_used_before_the_configs() -> Result<()> {
    let t = team(false)?;
    let (elf, elf_key) = t.ca.issue(&Spec::mail("elf@example.org"))?;
    let known = KnownCerts {
        smime: vec![super::Certificate::from_x509(elf.clone())?],
        openpgp: Vec::new(),
    };
    let mail = welcome(&["Elf <elf@example.org>"])?;
    let plain = t.outbox.compose(&mail, "<k1@example.org>", now())?;
    assert!(!plain.encrypted, "the config does not know the elf");
    let composed = t
        .outbox
        .compose_with(&mail, "<k2@example.org>", now(), &known)?;
    assert!(composed.encrypted);
    let msg = MessageParser::default()
        .parse(&composed.raw[..])
        .context("parse")?;
    let inner = CmsContentInfo::from_der(msg.parts[0].contents())?.decrypt(&elf_key, &elf)?;
    assert!(String::from_utf8_lossy(&inner).contains("multipart/signed"));
    let later = now() + chrono::Duration::days(400);
    let expired = t
        .outbox
        .compose_with(&mail, "<k3@example.org>", later, &known)?;
    assert!(
        !expired.encrypted,
        "an expired certificate is not encrypted to"
    );
    Ok(())
}
