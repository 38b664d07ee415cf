//! S/MIME for outgoing mail with OpenSSL's CMS (through the `openssl` crate): the team's certificate and
//! key, members' certificates from `[smime] certs_dir`, detached signatures and AES-256-CBC enveloped
//! data (RFC 8551), and the problems `triaged check` reports about them, each under its config key.
//!
//! Owns loading and the cryptographic operations; it builds no message (`smime::mime` makes the MIME
//! parts, `compose` the message) and never logs key material or passphrases.

pub mod cert;
mod load;
pub(super) mod mime;

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;

pub use self::cert::{Certificate, Usage};
use crate::config::{ConfigError, SmimeConfig};

/// The `micalg` parameter of RFC 8551 §3.5.3 for the SHA-256 digests OpenSSL uses with RSA and EC keys.
pub const MICALG: &str = "sha-256";

/// The team's X.509 identity, ready to sign, and the members' certificates mail may be encrypted to.
pub struct Smime {
    /// The team's certificate: sent with every signature, and every encrypted mail is also encrypted to
    /// it, so the team can read what it sent.
    team: Certificate,
    /// Its private key (RSA or EC, checked against the certificate at load).
    key: PKey<Private>,
    /// Intermediate certificates sent with every signature.
    chain: Vec<X509>,
    /// Trust roots for members' certificates (`ca_file`), for harvesting.
    ca: Vec<X509>,
    /// Members' certificates from `certs_dir`.
    members: Vec<Certificate>,
    /// The config key the team's certificate came from (`cert_file` or `pkcs12_file`), for problems.
    cert_key: &'static str,
}

impl std::fmt::Debug for Smime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smime")
            .field("team", &self.team.fingerprint())
            .field("chain", &self.chain.len())
            .field("ca", &self.ca.len())
            .field("members", &self.members.len())
            .finish()
    }
}

/// Problems loading `[smime]`, each under its key; the caller wraps them as config errors (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct LoadErrors(pub Vec<ConfigError>);

impl Smime {
    /// Reads the team's certificate and key (PEM or PKCS#12), the chain, the trust roots and the
    /// members' certificates; every file that cannot be read, and a key that does not match its
    /// certificate, is reported under its key.
    pub fn load(config: &SmimeConfig) -> Result<Smime, LoadErrors> {
        load::load(config)
    }

    /// What `triaged check` reports beyond loading: a certificate expired or not yet valid at `now`,
    /// key usage or extended key usage that does not allow e-mail protection, and a certificate that is
    /// not for the team's address.
    pub fn problems(&self, now: DateTime<Utc>, team_address: &str) -> Vec<ConfigError> {
        let key = format!("smime.{}", self.cert_key);
        let mut out = Vec::new();
        let team = &self.team;
        if now > team.not_after() {
            let when = cert::show(team.not_after());
            out.push(ConfigError::new(
                &key,
                format!("the certificate expired on {when}"),
            ));
        }
        if now < team.not_before() {
            let when = cert::show(team.not_before());
            out.push(ConfigError::new(
                &key,
                format!("the certificate is not valid before {when}"),
            ));
        }
        let mut usage = team.usage_problems(Usage::Sign);
        for problem in team.usage_problems(Usage::Encrypt) {
            if !usage.contains(&problem) {
                usage.push(problem);
            }
        }
        for problem in usage {
            out.push(ConfigError::new(
                &key,
                format!("the certificate: {problem}"),
            ));
        }
        if !team.has_address(team_address) {
            let has = team.addresses().join(", ");
            out.push(ConfigError::new(
                &key,
                format!("the certificate is for {has:?}, not for {team_address} ([outbox] from)"),
            ));
        }
        out
    }

    /// The team's own certificate.
    pub fn team(&self) -> &Certificate {
        &self.team
    }

    /// The trust roots of `ca_file` (empty when it is not set).
    pub fn ca(&self) -> &[X509] {
        &self.ca
    }

    /// The member certificate from `certs_dir` to encrypt to `address` at `at`: valid then, allowing
    /// encryption, the one that lasts longest when there are several.
    pub fn member_cert(&self, address: &str, at: DateTime<Utc>) -> Option<&Certificate> {
        self.members
            .iter()
            .filter(|c| c.has_address(address) && c.can_encrypt_at(at))
            .max_by_key(|c| c.not_after())
    }

    /// A detached CMS signature (DER) over exactly `data`: `DETACHED | BINARY`, so OpenSSL neither
    /// translates line endings nor embeds the content.
    pub fn sign_detached(&self, data: &[u8]) -> Result<Vec<u8>> {
        let mut chain = Stack::new().context("certificate stack")?;
        for c in &self.chain {
            chain.push(c.clone()).context("certificate stack")?;
        }
        let flags = CMSOptions::DETACHED | CMSOptions::BINARY;
        let cms = CmsContentInfo::sign(
            Some(self.team.x509()),
            Some(&self.key),
            Some(&chain),
            Some(data),
            flags,
        )
        .context("sign the mail (CMS)")?;
        cms.to_der().context("encode the signature")
    }

    /// CMS enveloped-data (DER) of `data`, AES-256-CBC, to every certificate in `to` and to the team.
    /// CBC rather than GCM: with GCM OpenSSL 3 writes authEnveloped-data, which gpgsm 2.2 cannot read.
    pub fn encrypt(&self, data: &[u8], to: &[&Certificate]) -> Result<Vec<u8>> {
        let mut certs = Stack::new().context("certificate stack")?;
        for c in to.iter().copied().chain(std::iter::once(&self.team)) {
            certs.push(c.x509().clone()).context("certificate stack")?;
        }
        let cms = CmsContentInfo::encrypt(&certs, data, Cipher::aes_256_cbc(), CMSOptions::BINARY)
            .context("encrypt the mail (CMS)")?;
        cms.to_der().context("encode the encrypted mail")
    }

    /// Decrypts enveloped-data (DER) addressed to the team: what the team can read of what it sent.
    pub fn decrypt(&self, der: &[u8]) -> Result<Vec<u8>> {
        let cms = CmsContentInfo::from_der(der).context("read the enveloped data")?;
        cms.decrypt(&self.key, self.team.x509())
            .context("decrypt with the team's key")
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
#[path = "smime/smime_tests.rs"]
mod smime_tests;

#[cfg(test)]
#[path = "smime/compose_tests.rs"]
mod compose_tests;

/// Files named in `[smime]`, for messages.
pub(crate) fn shown(path: &std::path::Path) -> String {
    path.display().to_string()
}

/// Every regular, non-hidden file in `dir`, sorted by name.
pub(crate) fn files_in(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
