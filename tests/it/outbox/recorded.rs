//! A certificate recorded on the roster (`team record NAME smime-cert FILE`, with no `certs_dir` copy)
//! is what composing encrypts to: the welcome pack goes out through the test Postfix signed and then
//! encrypted, and is read back over IMAP and checked by `openssl cms` and GnuPG's `gpgsm`, not by
//! triaged; an altered body fails both verifiers. A certificate for another address is refused.

use crate::it::support::Backend;
use std::time::Duration;

use anyhow::Result;

use super::super::support::{new_user, wait_for_messages};
use super::pki::{Ca, Gpgsm, Validity, openssl_decrypt};
use super::smime::{content_type, gpgsm_verify, openssl_verifies, smime_table};
use super::{Env, text_of};

crate::both_stores!(a_welcome_pack_to_a_member_with_a_recorded_certificate_is_signed_and_encrypted);

async fn a_welcome_pack_to_a_member_with_a_recorded_certificate_is_signed_and_encrypted(
    backend: Backend,
) -> Result<()> {
    let member = new_user("smime-recorded").await?;
    let ca = Ca::new("Team CA")?;
    let team = ca.issue("team", "support@example.org", Validity::Current)?;
    let member_cert = ca.issue("member", &member.address, Validity::Current)?;
    let wrong = ca.issue("wrong", "someone-else@test.example", Validity::Current)?;
    let keys = tempfile::tempdir()?;
    let certs = keys.path().join("certs");
    std::fs::create_dir(&certs)?;
    let extra = smime_table(keys.path(), &ca, &team, &certs)?;
    let env = Env::with_postfix(
        "Arbitration <arbitration@test.example>",
        "Team Leader <stl@test.example>",
        &extra,
        backend,
    )
    .await?;
    let to = format!("Newcomer <{}>", member.address);
    let add = env.run(&["team", "add", &to, "--role", "triage"]).await?;
    assert!(add.status.success(), "{}", text_of(&add));
    let refused = env
        .run(&[
            "team",
            "record",
            "newcomer",
            "smime-cert",
            &wrong.cert.display().to_string(),
        ])
        .await?;
    assert_eq!(refused.status.code(), Some(2), "{}", text_of(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("someone-else@test.example"),
        "{}",
        text_of(&refused)
    );
    let record = env
        .run(&[
            "team",
            "record",
            "newcomer",
            "smime-cert",
            &member_cert.cert.display().to_string(),
        ])
        .await?;
    assert!(record.status.success(), "{}", text_of(&record));
    let said = String::from_utf8_lossy(&record.stdout);
    assert!(
        said.contains("recorded smime-cert = ") && said.contains("ticked start/smime-cert"),
        "{said}"
    );
    let out = env
        .run(&["send", "welcome", "--role", "triage", "--to", &to])
        .await?;
    assert!(out.status.success(), "{}", text_of(&out));
    let flush = env.run(&["outbox", "flush"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));

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
    let work = tempfile::tempdir()?;
    let inner = openssl_decrypt(work.path(), encrypted, &member_cert)?;
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
        "openssl cms -verify"
    );
    let altered = String::from_utf8(inner.clone())?.replacen("Hello", "Jello", 1);
    assert_ne!(altered.as_bytes(), inner.as_slice(), "the body was altered");
    assert!(
        !openssl_verifies(work.path(), &ca, altered.as_bytes())?,
        "an altered body fails openssl"
    );

    let gpgsm = Gpgsm::new(&ca)?;
    gpgsm.import_key(&ca, &member_cert)?;
    let decrypted = gpgsm.decrypt(work.path(), encrypted)?;
    assert_eq!(decrypted, inner, "gpgsm and openssl read the same entity");
    let status = gpgsm_verify(&gpgsm, work.path(), &decrypted)?;
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    let status = gpgsm_verify(&gpgsm, work.path(), altered.as_bytes())?;
    assert!(status.contains("[GNUPG:] BADSIG"), "{status}");
    env.assert_backend().await?;
    Ok(())
}
