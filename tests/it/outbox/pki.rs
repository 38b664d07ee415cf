//! A test PKI made with the `openssl` command at test time (never committed certificates, which would
//! expire): a CA per test that issues S/MIME certificates valid now, expired or not yet valid, signs
//! mail with `openssl cms`, and a GnuPG `gpgsm` home that trusts the CA, to check what triaged sends
//! with two implementations that are not triaged's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Duration, Utc};

/// Runs `openssl ARGS` in `dir`; a failure carries its standard error.
pub fn openssl(dir: &Path, args: &[&str]) -> Result<Output> {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!("run openssl {args:?} (is openssl installed? scripts/install-deps test)")
        })
}

/// [`openssl`], requiring success.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = openssl(dir, args)?;
    anyhow::ensure!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// When an issued certificate is valid, relative to now.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// From yesterday for a year.
    Current,
    /// Ended a month ago.
    Expired,
    /// Starts in ten days.
    NotYet,
}

/// A certificate and its unencrypted key, as PEM files.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA in a temp dir, issuing with `openssl ca` (which, unlike `openssl x509 -req` in OpenSSL 3.0,
/// takes start and end dates).
pub struct Ca {
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
}

const CA_CONFIG: &str = "[ca]\ndefault_ca = test\n[test]\ndir = .\ndatabase = ./index.txt\n\
    new_certs_dir = ./newcerts\nserial = ./serial\ndefault_md = sha256\npolicy = any\n\
    unique_subject = no\ncopy_extensions = none\n[any]\ncommonName = supplied\n";

impl Ca {
    pub fn new(name: &str) -> Result<Ca> {
        let dir = tempfile::Builder::new().prefix("pki").tempdir_in("/tmp")?;
        let p = dir.path();
        std::fs::write(p.join("ca.cnf"), CA_CONFIG)?;
        std::fs::create_dir(p.join("newcerts"))?;
        std::fs::write(p.join("index.txt"), "")?;
        std::fs::write(p.join("serial"), "01\n")?;
        let subject = format!("/CN={name}");
        openssl_ok(
            p,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                &subject,
                "-days",
                "800",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )?;
        let cert = p.join("ca.crt");
        Ok(Ca { dir, cert })
    }

    /// An S/MIME certificate for `email` (subjectAltName rfc822Name, digitalSignature and
    /// keyEncipherment, emailProtection), files `NAME.crt` and `NAME.key`.
    pub fn issue(&self, name: &str, email: &str, validity: Validity) -> Result<Issued> {
        let p = self.dir.path();
        let (key, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let subject = format!("/CN={email}");
        openssl_ok(
            p,
            &[
                "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr,
                "-subj", &subject,
            ],
        )?;
        std::fs::write(
            p.join(&ext),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=emailProtection\nsubjectAltName=email:{email}\n"
            ),
        )?;
        let now = triaged::clock::Clock::system().now();
        let (start, end) = match validity {
            Validity::Current => (now - Duration::days(1), now + Duration::days(365)),
            Validity::Expired => (now - Duration::days(400), now - Duration::days(30)),
            Validity::NotYet => (now + Duration::days(10), now + Duration::days(400)),
        };
        let (start, end) = (stamp(start), stamp(end));
        openssl_ok(
            p,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.crt",
                "-keyfile",
                "ca.key",
                "-in",
                &csr,
                "-out",
                &crt,
                "-notext",
                "-startdate",
                &start,
                "-enddate",
                &end,
                "-extfile",
                &ext,
            ],
        )?;
        Ok(Issued {
            cert: p.join(crt),
            key: p.join(key),
        })
    }

    /// Signs `content` (a MIME entity, CRLF line ends) as mail from `from` with `openssl cms -sign`:
    /// `multipart/signed` (detached) or, when `opaque`, `application/pkcs7-mime` signed-data. `-binary`
    /// signs the entity as it is; `-crlfeol` writes CRLF, as mail arrives.
    pub fn sign_mail(
        &self,
        signer: &Issued,
        from: &str,
        content: &[u8],
        opaque: bool,
    ) -> Result<Vec<u8>> {
        let p = self.dir.path();
        let input = p.join(format!("content-{}.txt", rand::random::<u32>()));
        std::fs::write(&input, content)?;
        let (cert, key) = (
            signer.cert.display().to_string(),
            signer.key.display().to_string(),
        );
        let input = input.display().to_string();
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-crlfeol",
            "-in",
            &input,
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-from",
            from,
            "-to",
            "support@example.org",
            "-subject",
            "my certificate",
        ];
        if opaque {
            args.push("-nodetach");
        }
        openssl_ok(p, &args)
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%SZ").to_string()
}

/// `openssl cms -decrypt` of a whole S/MIME message (the bytes as fetched) with `recipient`'s key:
/// the decrypted entity.
pub fn openssl_decrypt(work: &Path, raw: &[u8], recipient: &Issued) -> Result<Vec<u8>> {
    let file = work.join("encrypted.eml");
    std::fs::write(&file, raw)?;
    openssl_ok(
        work,
        &[
            "cms",
            "-decrypt",
            "-in",
            &file.display().to_string(),
            "-recip",
            &recipient.cert.display().to_string(),
            "-inkey",
            &recipient.key.display().to_string(),
        ],
    )
}

/// The certificate in `cert` (PEM) as DER.
pub fn der(cert: &Path) -> Result<Vec<u8>> {
    let dir = cert.parent().context("certificate directory")?;
    openssl_ok(
        dir,
        &[
            "x509",
            "-in",
            &cert.display().to_string(),
            "-outform",
            "DER",
        ],
    )
}

/// A GnuPG home for `gpgsm` that trusts `ca`, with CRL checks off; its agent is stopped on drop.
pub struct Gpgsm(tempfile::TempDir);

impl Gpgsm {
    pub fn new(ca: &Ca) -> Result<Gpgsm> {
        let home = tempfile::Builder::new()
            .prefix("gpgsm")
            .tempdir_in("/tmp")?;
        std::fs::write(home.path().join("gpgsm.conf"), "disable-crl-checks\n")?;
        std::fs::write(
            home.path().join("gpg-agent.conf"),
            "allow-loopback-pinentry\n",
        )?;
        let gpgsm = Gpgsm(home);
        gpgsm.ok(&["--import", &ca.cert.display().to_string()], b"")?;
        let fingerprint = openssl_ok(
            ca.dir.path(),
            &["x509", "-in", "ca.crt", "-noout", "-fingerprint", "-sha1"],
        )?;
        let fingerprint = String::from_utf8(fingerprint)?;
        let fingerprint = fingerprint
            .trim()
            .split_once('=')
            .map(|(_, f)| f.to_owned())
            .context("fingerprint")?;
        std::fs::write(
            gpgsm.0.path().join("trustlist.txt"),
            format!("{fingerprint} S\n"),
        )?;
        Ok(gpgsm)
    }

    /// Imports `issued`'s certificate and key as PKCS#12 in the form gpgsm 2.2 reads (3DES bags, SHA-1
    /// MAC); the passphrase goes in on standard input (`--pinentry-mode loopback`).
    pub fn import_key(&self, ca: &Ca, issued: &Issued) -> Result<()> {
        let p12 = issued.cert.with_extension("p12");
        openssl_ok(
            ca.dir.path(),
            &[
                "pkcs12",
                "-export",
                "-in",
                &issued.cert.display().to_string(),
                "-inkey",
                &issued.key.display().to_string(),
                "-out",
                &p12.display().to_string(),
                "-passout",
                "pass:test-passphrase",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        )?;
        self.ok(
            &["--import", &p12.display().to_string()],
            b"test-passphrase\n",
        )?;
        Ok(())
    }

    /// Runs `gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 --status-fd 1 ARGS`, with
    /// `stdin` as the passphrase; standard output holds the status lines.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Result<Output> {
        use std::io::Write as _;
        let mut child = Command::new("gpgsm")
            .env("GNUPGHOME", self.0.path())
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase-fd",
                "0",
                "--status-fd",
                "1",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("run gpgsm (is gpgsm installed? scripts/install-deps test)")?;
        child
            .stdin
            .take()
            .context("gpgsm stdin")?
            .write_all(stdin)?;
        child.wait_with_output().context("wait for gpgsm")
    }

    /// `gpgsm --decrypt` of an `application/pkcs7-mime` message as fetched (its one part's DER),
    /// holding this home's keys; the decrypted entity. gpgsm exits 2 on mail encrypted to several
    /// recipients of which it holds one key even though it decrypted, so its status line decides.
    pub fn decrypt(&self, work: &Path, raw: &[u8]) -> Result<Vec<u8>> {
        let der = super::parse(raw)?.parts[0].contents().to_vec();
        let (input, output) = (work.join("encrypted.p7m"), work.join("decrypted.eml"));
        std::fs::write(&input, der)?;
        let out = self.run(
            &[
                "--output",
                &output.display().to_string(),
                "--decrypt",
                &input.display().to_string(),
            ],
            b"test-passphrase\n",
        )?;
        let status = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            status.contains("[GNUPG:] DECRYPTION_OKAY"),
            "gpgsm did not decrypt: {status}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(&output).context("gpgsm output")
    }

    fn ok(&self, args: &[&str], stdin: &[u8]) -> Result<Output> {
        let out = self.run(args, stdin)?;
        anyhow::ensure!(
            out.status.success(),
            "gpgsm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out)
    }
}

impl Drop for Gpgsm {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.0.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}
