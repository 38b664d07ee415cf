//! Harvest tests without external programs: the boundary cut, line-end canonicalisation, and the
//! reasons a signature is rejected, on messages signed with OpenSSL's PKCS#7 API directly (never by
//! triaged's own signing code). Garbage and mutations never panic. The `openssl cms`-signed end-to-end
//! cases are in the integration tests.

use anyhow::Result;
use chrono::Duration;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::X509;

use super::mime::first_part;
use super::*;
use crate::outbox::smime::testing::{Ca, Spec, now};

const CONTENT: &str = "Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from Santa.\r\n";

/// A multipart/signed message from `from` whose first part is `content`, signed by `cert`.
fn signed_mail(from: &str, content: &str, cert: &X509, key: &PKey<Private>) -> Result<String> {
    let certs = Stack::new()?;
    let flags = Pkcs7Flags::DETACHED | Pkcs7Flags::BINARY;
    let p7 = Pkcs7::sign(cert, key, &certs, content.as_bytes(), flags)?;
    let b64 = openssl::base64::encode_block(&p7.to_der()?);
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(format!(
        "From: Santa <{from}>\r\nTo: support@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; \
         boundary=\"b1\"\r\n\r\nThis is a signed message.\r\n--b1\r\n{content}\r\n--b1\r\n\
         Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        wrapped.join("\r\n")
    ))
}

fn rejected(h: Harvest) -> Result<Rejected> {
    match h {
        Harvest::Rejected(r) => Ok(r),
        other => anyhow::bail!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn the_first_part_is_cut_exactly_at_its_boundaries() {
    let body = b"preamble\r\n--xyz\r\nA: b\r\n\r\nline\r\n\r\n--xyz \r\nsig\r\n--xyz--\r\n";
    assert_eq!(first_part(body, "xyz"), Some(&b"A: b\r\n\r\nline\r\n"[..]));
    let lf = b"--xyz\nA: b\n\nline\n--xyz\nsig\n--xyz--\n";
    assert_eq!(first_part(lf, "xyz"), Some(&b"A: b\n\nline"[..]));
    assert_eq!(first_part(b"--xyz\r\nno end", "xyz"), None);
    assert_eq!(
        first_part(b"--xyzz\r\nx\r\n--xyz\r\n", "xyz"),
        None,
        "a longer boundary is not it"
    );
}

#[test]
fn bare_line_feeds_become_crlf_and_crlf_is_left_alone() {
    assert_eq!(crlf(b"a\nb\r\nc\n"), Some(b"a\r\nb\r\nc\r\n".to_vec()));
    assert_eq!(crlf(b"a\r\nb\r\n"), None);
    assert_eq!(crlf(b"\n"), Some(b"\r\n".to_vec()));
}

#[test]
fn a_valid_signature_gives_the_signers_certificate_and_its_expiry() -> Result<()> {
    let ca = Ca::new("Members CA")?;
    let (cert, key) = ca.issue(&Spec::mail("santa@example.org"))?;
    let mail = signed_mail("Santa@Example.org", CONTENT, &cert, &key)?;
    let harvester = Harvester::new(std::slice::from_ref(&ca.cert));
    let Harvest::Verified(found) = harvester.harvest(mail.as_bytes(), now()) else {
        anyhow::bail!(
            "not verified: {:?}",
            harvester.harvest(mail.as_bytes(), now())
        );
    };
    assert_eq!(found.scheme, Scheme::Smime);
    assert_eq!(found.address, "santa@example.org");
    assert_eq!(found.certificate, cert.to_der()?);
    assert_eq!(found.expires, Some(now() + Duration::days(365)));
    let lf = mail.replace("\r\n", "\n");
    assert!(
        matches!(
            harvester.harvest(lf.as_bytes(), now()),
            Harvest::Verified(_)
        ),
        "a message stored with LF line ends verifies in its canonical form"
    );
    Ok(())
}

#[test]
fn each_failure_is_rejected_with_its_own_reason() -> Result<()> {
    let ca = Ca::new("Members CA")?;
    let (cert, key) = ca.issue(&Spec::mail("santa@example.org"))?;
    let harvester = Harvester::new(std::slice::from_ref(&ca.cert));
    let mail = signed_mail("santa@example.org", CONTENT, &cert, &key)?;

    let tampered = mail.replace("Hello from Santa.", "Hello from Satan.");
    let r = rejected(harvester.harvest(tampered.as_bytes(), now()))?;
    assert_eq!(r.reason(), "bad-signature", "{r}");

    let other = signed_mail("grinch@example.org", CONTENT, &cert, &key)?;
    let r = rejected(harvester.harvest(other.as_bytes(), now()))?;
    assert_eq!(
        r,
        Rejected::WrongAddress {
            from: "grinch@example.org".to_owned(),
            certificate: "santa@example.org".to_owned()
        }
    );

    let stranger = Harvester::new(std::slice::from_ref(&Ca::new("Other CA")?.cert));
    let r = rejected(stranger.harvest(mail.as_bytes(), now()))?;
    assert_eq!(r.reason(), "untrusted");
    assert!(
        r.to_string()
            .contains("unable to get local issuer certificate"),
        "{r}"
    );

    let r = rejected(harvester.harvest(mail.as_bytes(), now() + Duration::days(400)))?;
    assert!(r.to_string().contains("certificate has expired"), "{r}");
    let r = rejected(harvester.harvest(mail.as_bytes(), now() - Duration::days(2)))?;
    assert!(r.to_string().contains("not yet valid"), "{r}");

    let r = rejected(Harvester::default().harvest(mail.as_bytes(), now()))?;
    assert_eq!(r, Rejected::NoTrustRoots);
    Ok(())
}

#[test]
fn a_certificate_to_record_is_checked_for_its_address_chain_time_and_usage() -> Result<()> {
    use crate::outbox::smime::{Certificate, Usage};
    let ca = Ca::new("Members CA")?;
    let harvester = Harvester::new(std::slice::from_ref(&ca.cert));
    let santa = Certificate::from_x509(ca.issue(&Spec::mail("santa@example.org"))?.0)?;
    harvester.verify_certificate(&santa, "Santa@example.org", now(), Usage::Encrypt)?;
    let r = harvester.verify_certificate(&santa, "elf@example.org", now(), Usage::Encrypt);
    assert_eq!(r.err().map(|e| e.reason()), Some("wrong-address"));
    let later = now() + Duration::days(400);
    let r = harvester.verify_certificate(&santa, "santa@example.org", later, Usage::Encrypt);
    assert_eq!(r.err().map(|e| e.reason()), Some("untrusted"));
    let mut spec = Spec::mail("signer@example.org");
    spec.key_usage = Some(vec!["digitalSignature"]);
    let signer = Certificate::from_x509(ca.issue(&spec)?.0)?;
    let r = harvester.verify_certificate(&signer, "signer@example.org", now(), Usage::Encrypt);
    assert_eq!(
        r.err().map(|e| e.reason()),
        Some("untrusted"),
        "cannot encrypt"
    );
    harvester.verify_certificate(&signer, "signer@example.org", now(), Usage::Sign)?;
    let stranger = Harvester::new(std::slice::from_ref(&Ca::new("Other CA")?.cert));
    let r = stranger.verify_certificate(&santa, "santa@example.org", now(), Usage::Encrypt);
    assert_eq!(r.err().map(|e| e.reason()), Some("untrusted"));
    Ok(())
}

#[test]
fn a_signing_certificate_without_email_protection_is_untrusted() -> Result<()> {
    let ca = Ca::new("Members CA")?;
    let mut spec = Spec::mail("santa@example.org");
    spec.eku = Some(vec!["serverAuth"]);
    let (cert, key) = ca.issue(&spec)?;
    let mail = signed_mail("santa@example.org", CONTENT, &cert, &key)?;
    let r =
        rejected(Harvester::new(std::slice::from_ref(&ca.cert)).harvest(mail.as_bytes(), now()))?;
    assert_eq!(r.reason(), "untrusted", "{r}");
    Ok(())
}

#[test]
fn unsigned_and_malformed_mail_never_panics() -> Result<()> {
    let harvester = Harvester::default();
    let plain = "From: a@example.org\r\nSubject: x\r\n\r\nhello\r\n";
    assert!(matches!(
        harvester.harvest(plain.as_bytes(), now()),
        Harvest::Nothing
    ));
    let garbage = "From: a@example.org\r\nContent-Type: multipart/signed; \
                   protocol=\"application/pkcs7-signature\"; boundary=q\r\n\r\n--q\r\n\r\nx\r\n--q\r\n\
                   Content-Type: application/pkcs7-signature\r\n\r\nnot der\r\n--q--\r\n";
    let r = rejected(harvester.harvest(garbage.as_bytes(), now()))?;
    assert_eq!(r.reason(), "malformed");
    let opaque = "From: a@example.org\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data\r\n\
                  Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n";
    assert_eq!(
        rejected(harvester.harvest(opaque.as_bytes(), now()))?.reason(),
        "malformed"
    );
    let no_from = garbage.replace("From: a@example.org\r\n", "");
    assert_eq!(
        rejected(harvester.harvest(no_from.as_bytes(), now()))?,
        Rejected::NoFrom
    );

    let ca = Ca::new("Members CA")?;
    let (cert, key) = ca.issue(&Spec::mail("santa@example.org"))?;
    let mail = signed_mail("santa@example.org", CONTENT, &cert, &key)?.into_bytes();
    let harvester = Harvester::new(std::slice::from_ref(&ca.cert));
    for step in 0..400 {
        let mut bytes = mail.clone();
        let at = (step * 7919) % bytes.len();
        bytes[at] = bytes[at].wrapping_add(1 + (step % 251) as u8);
        bytes.truncate(bytes.len() - (step % 5) * (step % 97));
        let _ = harvester.harvest(&bytes, now());
    }
    Ok(())
}

/// Found by the `harvest_smime` fuzz target (input kept in `tests/fixtures/fuzz/harvest_smime/`): a
/// detached signature OpenSSL cannot check is rejected as a bad signature with OpenSSL's reason. On
/// this path OpenSSL 3.0's `PKCS7_verify` leaks 272 bytes (`fuzz/lsan.supp` says why); triaged's own
/// handling frees everything it holds.
#[test]
fn a_signature_openssl_cannot_check_is_rejected_with_its_reason() -> Result<()> {
    let raw = include_bytes!(
        "../../../tests/fixtures/fuzz/harvest_smime/leak-6760ee4db84fd6bac37b315b30711eb101361e87"
    );
    let harvester = Harvester::from_ca_pem(include_bytes!("../../../fuzz/pki/ca.pem"))?;
    // The fuzz target's instant, within the fuzz PKI's validity.
    let at = chrono::DateTime::from_timestamp(1_811_808_000, 0).unwrap_or_default();
    let why = rejected(harvester.harvest(raw, at))?;
    assert_eq!(why.reason(), "bad-signature", "{why}");
    assert!(!why.to_string().is_empty());
    Ok(())
}

mod pgp {
    use std::io::Write as _;

    use anyhow::Result;
    use openpgp::cert::{Cert, CertBuilder};
    use openpgp::parse::Parse as _;
    use openpgp::policy::StandardPolicy;
    use openpgp::serialize::SerializeInto as _;
    use openpgp::serialize::stream::{Armorer, Message, Signer};
    use sequoia_openpgp as openpgp;

    use super::{Harvest, Harvester, Rejected, Scheme, now, rejected};

    /// A PGP/MIME-signed message from `from` whose signed content carries `attached` as
    /// application/pgp-keys, signed by `signer`.
    fn mail(from: &str, attached: Option<&Cert>, signer: &Cert, text: &str) -> Result<String> {
        let key_part = match attached {
            Some(cert) => format!(
                "--inner\r\nContent-Type: application/pgp-keys\r\n\r\n{}\r\n",
                String::from_utf8(cert.armored().to_vec()?)?.replace('\n', "\r\n")
            ),
            None => String::new(),
        };
        let content = format!(
            "Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\n\
             Content-Type: text/plain\r\n\r\n{text}\r\n{key_part}--inner--\r\n"
        );
        let policy = StandardPolicy::new();
        let keypair = signer
            .keys()
            .with_policy(&policy, std::time::SystemTime::from(now()))
            .for_signing()
            .secret()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?
            .key()
            .clone()
            .into_keypair()?;
        let mut sig = Vec::new();
        {
            let m = Message::new(&mut sig);
            let m = Armorer::new(m)
                .kind(openpgp::armor::Kind::Signature)
                .build()?;
            let mut m = Signer::new(m, keypair)?
                .creation_time(std::time::SystemTime::from(now()))
                .detached()
                .build()?;
            m.write_all(content.as_bytes())?;
            m.finalize()?;
        }
        Ok(format!(
            "From: <{from}>\r\nSubject: my key\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; \
             protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"outer\"\r\n\r\n\
             --outer\r\n{content}\r\n--outer\r\nContent-Type: application/pgp-signature\r\n\r\n{}\r\n\
             --outer--\r\n",
            String::from_utf8(sig)?.replace('\n', "\r\n")
        ))
    }

    fn key(uid: &str) -> Result<Cert> {
        Ok(CertBuilder::general_purpose(Some(uid))
            .set_creation_time(std::time::SystemTime::from(
                now() - chrono::Duration::days(1),
            ))
            .set_validity_period(std::time::Duration::from_secs(86_400 * 365))
            .generate()?
            .0)
    }

    #[test]
    fn an_attached_key_that_made_the_signature_is_learnt() -> Result<()> {
        let rudolph = key("Rudolph <rudolph@example.org>")?;
        let m = mail("rudolph@example.org", Some(&rudolph), &rudolph, "my key")?;
        let Harvest::Verified(found) = Harvester::default().harvest(m.as_bytes(), now()) else {
            anyhow::bail!("{:?}", Harvester::default().harvest(m.as_bytes(), now()));
        };
        assert_eq!(found.scheme, Scheme::OpenPgp);
        assert_eq!(found.fingerprint, rudolph.fingerprint().to_hex());
        assert_eq!(found.expires, Some(now() + chrono::Duration::days(364)));
        let learnt = Cert::from_bytes(&found.certificate)?;
        assert!(!learnt.is_tsk(), "no secret key material is kept");
        Ok(())
    }

    #[test]
    fn an_attached_key_is_rejected_for_the_wrong_address_a_changed_body_or_another_signer()
    -> Result<()> {
        let rudolph = key("Rudolph <rudolph@example.org>")?;
        let h = Harvester::default();
        let other = mail("grinch@example.org", Some(&rudolph), &rudolph, "my key")?;
        assert_eq!(
            rejected(h.harvest(other.as_bytes(), now()))?.reason(),
            "wrong-address"
        );
        let m = mail("rudolph@example.org", Some(&rudolph), &rudolph, "my key")?;
        let changed = m.replace("my key\r\n--inner", "my kez\r\n--inner");
        assert_eq!(
            rejected(h.harvest(changed.as_bytes(), now()))?.reason(),
            "bad-signature"
        );
        let grinch = key("Grinch <grinch@example.org>")?;
        let forged = mail("rudolph@example.org", Some(&rudolph), &grinch, "my key")?;
        let r = rejected(h.harvest(forged.as_bytes(), now()))?;
        assert_eq!(r.reason(), "bad-signature", "{r}");
        let later = now() + chrono::Duration::days(400);
        let r = rejected(h.harvest(m.as_bytes(), later))?;
        assert!(matches!(r, Rejected::InvalidKey(_)), "{r}");
        let bare = mail("rudolph@example.org", None, &rudolph, "no key")?;
        assert!(matches!(
            h.harvest(bare.as_bytes(), now()),
            Harvest::Nothing
        ));
        Ok(())
    }
}
