//! OpenPGP end to end with the real gpg: keys made by `gpg --quick-gen-key` in temp homes; a signed welcome
//! pack read back over IMAP verifies with `gpg --verify` against the exported team certificate, byte for
//! byte on its first part; an encrypted one decrypts with `gpg --decrypt` and its inner MIME parses.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use mail_parser::MimeHeaders as _;

use super::super::support::{Backend, new_user, wait_for_messages};
use super::{Env, parse, part_body, split_parts, text_of};

const PASSPHRASE: &str = "correct horse battery staple";

/// A temp GNUPGHOME; its gpg-agent is stopped on drop.
pub struct GpgHome(tempfile::TempDir);

impl GpgHome {
    pub fn new() -> Result<GpgHome> {
        let dir = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .context("gpg home")?;
        // gpg-agent protects exported secret keys with 65,011,712 bytes of S2K hashing by default,
        // which triaged's unoptimised test build spends about ten seconds on at every start: the tests
        // are about OpenPGP, not about a slow passphrase, so the agent hashes 65,536 bytes.
        std::fs::write(dir.path().join("gpg-agent.conf"), "s2k-count 1024\n")
            .context("write gpg-agent.conf")?;
        Ok(GpgHome(dir))
    }

    pub fn gpg(&self, args: &[&str]) -> Result<std::process::Output> {
        std::process::Command::new("gpg")
            .env("GNUPGHOME", self.0.path())
            .args(["--batch", "--yes", "--pinentry-mode", "loopback"])
            .args(args)
            .output()
            .with_context(|| {
                format!("run gpg {args:?} (is gnupg installed? scripts/install-deps test)")
            })
    }

    pub fn ok(&self, args: &[&str]) -> Result<Vec<u8>> {
        let out = self.gpg(args)?;
        anyhow::ensure!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out.stdout)
    }

    /// A PGP/MIME-signed message (RFC 3156) from `from` (whose key has no passphrase), signed by
    /// `gpg --detach-sign` over a body with the key of `address` attached as `application/pgp-keys`.
    pub fn signed_with_key(&self, from: &str, address: &str, text: &str) -> Result<Vec<u8>> {
        let key = String::from_utf8(self.ok(&["--armor", "--export", address])?)?;
        let content = format!(
            "Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\n\
             Content-Type: text/plain\r\n\r\n{text}\r\n--inner\r\n\
             Content-Type: application/pgp-keys; name=\"key.asc\"\r\n\r\n{}\r\n--inner--\r\n",
            key.trim_end().replace('\n', "\r\n")
        );
        let work = tempfile::tempdir()?;
        let data = work.path().join("content");
        write(&data, content.as_bytes())?;
        let signature = self.ok(&[
            "--passphrase",
            "",
            "--armor",
            "--detach-sign",
            "--output",
            "-",
            &data.display().to_string(),
        ])?;
        let signature = String::from_utf8(signature)?;
        Ok(format!(
            "From: {from}\r\nTo: support@test.example\r\nSubject: my key\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n \
             protocol=\"application/pgp-signature\"; boundary=\"outer\"\r\n\r\n--outer\r\n{content}\r\n\
             --outer\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n{}\r\n--outer--\r\n",
            signature.trim_end().replace('\n', "\r\n")
        )
        .into_bytes())
    }

    pub fn generate(&self, uid: &str, passphrase: &str) -> Result<()> {
        self.ok(&[
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            uid,
            "future-default",
            "default",
            "never",
        ])?;
        Ok(())
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .env("GNUPGHOME", self.0.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

crate::both_stores!(signed_mail_verifies_with_gpg_and_encrypted_mail_decrypts);

async fn signed_mail_verifies_with_gpg_and_encrypted_mail_decrypts(backend: Backend) -> Result<()> {
    let plain = new_user("pgp-plain").await?;
    let secret = new_user("pgp-secret").await?;
    let team = GpgHome::new()?;
    team.generate("Support <support@example.org>", PASSPHRASE)?;
    let recipient = GpgHome::new()?;
    recipient.generate(&format!("Secret Keeper <{}>", secret.address), "")?;

    let keys = tempfile::tempdir()?;
    let key_file = keys.path().join("team.asc");
    write(
        &key_file,
        &team.ok(&[
            "--passphrase",
            PASSPHRASE,
            "--armor",
            "--export-secret-keys",
            "support@example.org",
        ])?,
    )?;
    let team_cert = keys.path().join("team-cert.asc");
    write(
        &team_cert,
        &team.ok(&["--armor", "--export", "support@example.org"])?,
    )?;
    let keyring = keys.path().join("keyring.asc");
    write(
        &keyring,
        &recipient.ok(&["--armor", "--export", &secret.address])?,
    )?;
    let passphrase_file = keys.path().join("passphrase");
    write(&passphrase_file, PASSPHRASE.as_bytes())?;
    let extra = format!(
        "[openpgp]\nkey_file = \"{}\"\npassphrase_file = \"{}\"\nkeyring = \"{}\"\n",
        key_file.display(),
        passphrase_file.display(),
        keyring.display()
    );
    let env = Env::with_postfix(
        "Arbitration <arbitration@test.example>",
        "Team Leader <stl@test.example>",
        &extra,
        backend,
    )
    .await?;
    let check = env.run(&["check"]).await?;
    assert!(check.status.success(), "{}", text_of(&check));
    for user in [&plain, &secret] {
        let to = format!("Newcomer <{}>", user.address);
        let out = env
            .run(&["send", "welcome", "--role", "triage", "--to", &to])
            .await?;
        assert!(out.status.success(), "{}", text_of(&out));
    }
    let flush = env.run(&["outbox", "flush"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));

    // Signed only (no certificate for this recipient): verify the first part with the team's certificate.
    let got = wait_for_messages(&plain, "INBOX", 1, Duration::from_secs(20)).await?;
    let msg = parse(&got[0])?;
    let ct = msg.content_type().context("content type")?;
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("signed")));
    assert_eq!(ct.attribute("protocol"), Some("application/pgp-signature"));
    assert_eq!(ct.attribute("micalg"), Some("pgp-sha256"));
    let (signed_part, signature_part) = split_parts(&got[0])?;
    let sig_text = String::from_utf8(part_body(&signature_part)?.to_vec())?;
    let verifier = GpgHome::new()?;
    verifier.ok(&["--import", &team_cert.display().to_string()])?;
    let work = tempfile::tempdir()?;
    let (data, sig) = (work.path().join("part"), work.path().join("part.asc"));
    write(&data, &signed_part)?;
    write(&sig, sig_text.as_bytes())?;
    let verify = verifier.gpg(&[
        "--verify",
        &sig.display().to_string(),
        &data.display().to_string(),
    ])?;
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && stderr.contains("Good signature"),
        "gpg --verify: {stderr}"
    );
    let mut tampered = signed_part.clone();
    tampered.extend_from_slice(b" ");
    write(&data, &tampered)?;
    let bad = verifier.gpg(&[
        "--verify",
        &sig.display().to_string(),
        &data.display().to_string(),
    ])?;
    assert!(
        !bad.status.success(),
        "a changed byte must fail verification"
    );

    // Encrypted to the recipient's certificate: decrypt with gpg, the inner entity is the signed mail.
    let got = wait_for_messages(&secret, "INBOX", 1, Duration::from_secs(20)).await?;
    let msg = parse(&got[0])?;
    let ct = msg.content_type().context("content type")?;
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("encrypted")));
    assert_eq!(ct.attribute("protocol"), Some("application/pgp-encrypted"));
    assert!(
        !String::from_utf8_lossy(&got[0]).contains("Triage-1"),
        "the body is not in clear"
    );
    let (version, encrypted) = split_parts(&got[0])?;
    assert!(String::from_utf8_lossy(&version).contains("Version: 1"));
    let armored = String::from_utf8(part_body(&encrypted)?.to_vec())?;
    let input = work.path().join("msg.asc");
    write(&input, armored.as_bytes())?;
    let inner = recipient.ok(&[
        "--passphrase",
        "",
        "--decrypt",
        &input.display().to_string(),
    ])?;
    let inner_msg = parse(&inner)?;
    let ct = inner_msg.content_type().context("inner content type")?;
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("signed")),
        "signed, then encrypted"
    );
    let body = inner_msg.body_text(0).context("inner body")?;
    assert!(body.contains("Triage-1"), "{body}");
    env.assert_backend().await?;
    Ok(())
}
