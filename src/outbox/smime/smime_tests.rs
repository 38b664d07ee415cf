//! S/MIME unit tests with certificates made in memory: loading PEM and PKCS#12 identities, the problems
//! `check` reports under their keys, members' certificates, and signatures and encryption that
//! OpenSSL's own verification and decryption accept.

use std::path::Path;

use anyhow::Result;
use chrono::Duration;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::pkcs12::Pkcs12;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;

use super::testing::{Ca, Spec, now};
use super::*;
use crate::config::{Secret, SmimeIdentity};

const TEAM: &str = "support@example.org";

/// Writes the team's certificate and key as PEM files in `dir` and returns the config naming them.
pub(crate) fn pem_config(dir: &Path, ca: &Ca, spec: &Spec) -> Result<SmimeConfig> {
    let (cert, key) = ca.issue(spec)?;
    let cert_file = dir.join("team.crt");
    let key_file = dir.join("team.key");
    std::fs::write(&cert_file, cert.to_pem()?)?;
    std::fs::write(&key_file, key.private_key_to_pem_pkcs8()?)?;
    let ca_file = dir.join("ca.crt");
    std::fs::write(&ca_file, ca.cert.to_pem()?)?;
    Ok(SmimeConfig {
        identity: SmimeIdentity::Pem {
            cert_file,
            key_file,
        },
        passphrase: None,
        chain_file: None,
        ca_file: Some(ca_file),
        certs_dir: None,
    })
}

fn keys(errors: &LoadErrors) -> Vec<&str> {
    errors.0.iter().map(|e| e.key.as_str()).collect()
}

#[test]
fn a_good_pem_identity_loads_and_has_no_problems() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let smime = Smime::load(&pem_config(dir.path(), &ca, &Spec::mail(TEAM))?)?;
    assert!(smime.problems(now(), TEAM).is_empty());
    assert_eq!(smime.team().addresses(), [TEAM]);
    assert_eq!(smime.ca().len(), 1);
    Ok(())
}

#[test]
fn expired_and_not_yet_valid_certificates_are_reported_under_cert_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let mut expired = Spec::mail(TEAM);
    (expired.from, expired.until) = (Duration::days(-400), Duration::days(-35));
    let smime = Smime::load(&pem_config(dir.path(), &ca, &expired)?)?;
    let problems = smime.problems(now(), TEAM);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "smime.cert_file");
    assert!(
        problems[0].message.contains("expired on 2026-10-24"),
        "{problems:?}"
    );

    let mut future = Spec::mail(TEAM);
    future.from = Duration::days(2);
    let smime = Smime::load(&pem_config(dir.path(), &ca, &future)?)?;
    let problems = smime.problems(now(), TEAM);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("not valid before 2026-11-30"),
        "{problems:?}"
    );
    Ok(())
}

#[test]
fn key_usage_that_does_not_allow_mail_is_reported() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let mut server = Spec::mail(TEAM);
    server.key_usage = Some(vec!["keyAgreement"]);
    server.eku = Some(vec!["serverAuth"]);
    let smime = Smime::load(&pem_config(dir.path(), &ca, &server)?)?;
    let problems: Vec<String> = smime
        .problems(now(), TEAM)
        .into_iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    assert_eq!(
        problems,
        [
            "smime.cert_file: the certificate: its key usage does not allow signing (digitalSignature)",
            "smime.cert_file: the certificate: its extended key usage does not include emailProtection",
        ]
    );
    Ok(())
}

#[test]
fn a_certificate_for_another_address_is_reported() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let smime = Smime::load(&pem_config(
        dir.path(),
        &ca,
        &Spec::mail("other@example.org"),
    )?)?;
    let problems = smime.problems(now(), TEAM);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("not for support@example.org"));
    Ok(())
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_a_load_error_under_key_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let config = pem_config(dir.path(), &ca, &Spec::mail(TEAM))?;
    let other = super::testing::rsa_key()?;
    if let SmimeIdentity::Pem { key_file, .. } = &config.identity {
        std::fs::write(key_file, other.private_key_to_pem_pkcs8()?)?;
    }
    let errors = Smime::load(&config)
        .err()
        .ok_or_else(|| anyhow::anyhow!("loaded"))?;
    assert_eq!(keys(&errors), ["smime.key_file"]);
    assert!(errors.0[0].message.contains("does not match"), "{errors}");
    Ok(())
}

#[test]
fn an_encrypted_pem_key_needs_the_right_passphrase() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let mut config = pem_config(dir.path(), &ca, &Spec::mail(TEAM))?;
    let SmimeIdentity::Pem { key_file, .. } = &config.identity else {
        anyhow::bail!("pem");
    };
    let key = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(key_file)?)?;
    let locked = key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"sesame")?;
    std::fs::write(key_file, locked)?;
    let errors = Smime::load(&config)
        .err()
        .ok_or_else(|| anyhow::anyhow!("loaded"))?;
    assert!(
        errors.0[0].message.contains("set passphrase_file"),
        "{errors}"
    );
    config.passphrase = Some(Secret::new("wrong".to_owned()));
    let errors = Smime::load(&config)
        .err()
        .ok_or_else(|| anyhow::anyhow!("loaded"))?;
    assert_eq!(keys(&errors), ["smime.key_file"]);
    config.passphrase = Some(Secret::new("sesame".to_owned()));
    assert!(Smime::load(&config).is_ok());
    Ok(())
}

#[test]
fn a_pkcs12_identity_loads_with_its_passphrase_and_carries_its_chain() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let (cert, key) = ca.issue(&Spec::mail(TEAM))?;
    let mut chain = Stack::new()?;
    chain.push(ca.cert.clone())?;
    let p12 = Pkcs12::builder()
        .name("team")
        .pkey(&key)
        .cert(&cert)
        .ca(chain)
        .build2("sesame")?;
    let pkcs12_file = dir.path().join("team.p12");
    std::fs::write(&pkcs12_file, p12.to_der()?)?;
    let mut config = SmimeConfig {
        identity: SmimeIdentity::Pkcs12 { pkcs12_file },
        passphrase: Some(Secret::new("wrong".to_owned())),
        chain_file: None,
        ca_file: None,
        certs_dir: None,
    };
    let errors = Smime::load(&config)
        .err()
        .ok_or_else(|| anyhow::anyhow!("loaded"))?;
    assert_eq!(keys(&errors), ["smime.pkcs12_file"]);
    config.passphrase = Some(Secret::new("sesame".to_owned()));
    let smime = Smime::load(&config)?;
    assert_eq!(smime.chain.len(), 1);
    assert!(smime.problems(now(), TEAM).is_empty());
    Ok(())
}

#[test]
fn unreadable_chain_ca_and_member_files_are_reported_each_under_its_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let mut config = pem_config(dir.path(), &ca, &Spec::mail(TEAM))?;
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate")?;
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs)?;
    std::fs::write(certs.join("bad.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n")?;
    config.chain_file = Some(junk.clone());
    config.ca_file = Some(junk);
    config.certs_dir = Some(certs);
    let errors = Smime::load(&config)
        .err()
        .ok_or_else(|| anyhow::anyhow!("loaded"))?;
    assert_eq!(
        keys(&errors),
        ["smime.chain_file", "smime.ca_file", "smime.certs_dir"]
    );
    Ok(())
}

#[test]
fn members_certificates_are_used_only_while_valid_and_fit_for_encryption() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let mut config = pem_config(dir.path(), &ca, &Spec::mail(TEAM))?;
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs)?;
    let (good, _) = ca.issue(&Spec::mail("Santa@Example.org"))?;
    let mut old = Spec::mail("old@example.org");
    old.until = Duration::days(-1);
    let (old, _) = ca.issue(&old)?;
    let mut sign_only = Spec::mail("signer@example.org");
    sign_only.key_usage = Some(vec!["digitalSignature"]);
    let (sign_only, _) = ca.issue(&sign_only)?;
    let mut legacy = Spec::mail("legacy@example.org");
    legacy.san = false;
    let (legacy, _) = ca.issue(&legacy)?;
    std::fs::write(certs.join("santa.der"), good.to_der()?)?;
    let mut pem = old.to_pem()?;
    pem.extend(sign_only.to_pem()?);
    pem.extend(legacy.to_pem()?);
    std::fs::write(certs.join("others.pem"), pem)?;
    config.certs_dir = Some(certs);
    let smime = Smime::load(&config)?;
    assert!(
        smime.member_cert("santa@example.org", now()).is_some(),
        "case-insensitive"
    );
    assert!(
        smime.member_cert("old@example.org", now()).is_none(),
        "expired"
    );
    assert!(
        smime.member_cert("signer@example.org", now()).is_none(),
        "cannot encrypt"
    );
    assert!(
        smime.member_cert("legacy@example.org", now()).is_some(),
        "emailAddress in subject"
    );
    assert!(smime.member_cert("nobody@example.org", now()).is_none());
    Ok(())
}

#[test]
fn a_detached_signature_verifies_over_exactly_the_signed_bytes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let smime = Smime::load(&pem_config(dir.path(), &ca, &Spec::mail(TEAM))?)?;
    let data = b"Content-Type: text/plain\r\n\r\nHello\r\n";
    let p7 = Pkcs7::from_der(&smime.sign_detached(data)?)?;
    let mut store = X509StoreBuilder::new()?;
    store.add_cert(ca.cert.clone())?;
    let store = store.build();
    let none: Stack<X509> = Stack::new()?;
    let flags = Pkcs7Flags::BINARY;
    p7.verify(&none, &store, Some(data), None, flags)?;
    let altered = b"Content-Type: text/plain\r\n\r\nHello!\r\n";
    assert!(
        p7.verify(&none, &store, Some(altered), None, flags)
            .is_err()
    );
    let lf = b"Content-Type: text/plain\n\nHello\n";
    assert!(
        p7.verify(&none, &store, Some(lf), None, flags).is_err(),
        "BINARY: no line-end translation"
    );
    Ok(())
}

#[test]
fn encrypted_data_opens_for_the_recipient_and_the_team_only() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("Test CA")?;
    let smime = Smime::load(&pem_config(dir.path(), &ca, &Spec::mail(TEAM))?)?;
    let (member, member_key) = ca.issue(&Spec::mail("santa@example.org"))?;
    let member = Certificate::from_x509(member)?;
    let der = smime.encrypt(b"secret entity\r\n", &[&member])?;
    assert_eq!(smime.decrypt(&der)?, b"secret entity\r\n");
    let cms = openssl::cms::CmsContentInfo::from_der(&der)?;
    assert_eq!(
        cms.decrypt(&member_key, member.x509())?,
        b"secret entity\r\n"
    );
    let (stranger, stranger_key) = ca.issue(&Spec::mail("eve@example.org"))?;
    assert!(cms.decrypt(&stranger_key, &stranger).is_err());
    // AES-256-CBC (2.16.840.1.101.3.4.1.42) in plain enveloped-data, which gpgsm 2.2 reads.
    let aes256_cbc = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A,
    ];
    assert!(der.windows(aes256_cbc.len()).any(|w| w == aes256_cbc));
    assert_eq!(
        cms_type(&der),
        openssl::nid::Nid::PKCS7_ENVELOPED.as_raw(),
        "enveloped-data, not authEnveloped-data"
    );
    Ok(())
}

#[test]
fn parse_one_takes_a_single_certificate_and_reads_its_fields() -> Result<()> {
    let ca = Ca::new("Test CA")?;
    let (cert, _) = ca.issue(&Spec::mail("santa@example.org"))?;
    let one = Certificate::parse_one(&cert.to_pem()?)?;
    assert_eq!(one.addresses(), ["santa@example.org"]);
    assert_eq!(one.subject(), "santa@example.org");
    assert_eq!(one.not_after(), now() + Duration::days(365));
    assert_eq!(one.fingerprint().len(), 64);
    assert_eq!(
        Certificate::parse_one(&cert.to_der()?)?.fingerprint(),
        one.fingerprint()
    );
    let mut two = cert.to_pem()?;
    two.extend(ca.cert.to_pem()?);
    assert!(Certificate::parse_one(&two).is_err());
    assert!(Certificate::parse_one(b"junk").is_err());
    Ok(())
}

/// The content type of a CMS ContentInfo, through the PKCS#7 reading of the same DER.
fn cms_type(der: &[u8]) -> i32 {
    Pkcs7::from_der(der)
        .ok()
        .and_then(|p| p.type_().map(|t| t.nid().as_raw()))
        .unwrap_or_default()
}
