//! OpenPGP for outgoing mail with sequoia: the team's signing key, recipients' certificates, detached
//! signatures and encryption, each returning ASCII armor for a PGP/MIME part (RFC 3156).
//!
//! Owns key loading and the cryptographic operations; it never builds MIME (that is `compose`) and never
//! logs key material or passphrases.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use lettre::Address;
use openpgp::Cert;
use openpgp::cert::CertParser;
use openpgp::crypto::{KeyPair, Password};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Signer};
use openpgp::types::HashAlgorithm;
use sequoia_openpgp as openpgp;

use crate::config::OpenPgpConfig;

/// The `micalg` parameter matching the hash the signatures use.
pub const MICALG: &str = "pgp-sha256";

/// The team's key, ready to sign, and the certificates mail may be encrypted to.
pub struct Pgp {
    /// The unlocked signing (sub)key of the team's key.
    signer: KeyPair,
    /// The team's certificate: encrypted mail is also encrypted to it, so the team can read what it sent.
    team: Cert,
    /// Recipients' certificates from `[openpgp] keyring`.
    keyring: Vec<Cert>,
}

impl std::fmt::Debug for Pgp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pgp")
            .field("team", &self.team.fingerprint().to_hex())
            .field("keyring", &self.keyring.len())
            .finish()
    }
}

impl Pgp {
    /// Loads the team key (unlocking it with the passphrase if it is protected) and the keyring.
    pub fn load(config: &OpenPgpConfig) -> Result<Pgp> {
        let team = Cert::from_file(&config.key_file)
            .with_context(|| format!("read the team key {}", config.key_file.display()))?;
        let password = config
            .passphrase
            .as_ref()
            .map(|p| Password::from(p.expose()));
        let signer = signing_keypair(&team, password.as_ref())
            .with_context(|| format!("unlock the team key {}", config.key_file.display()))?;
        let keyring = match &config.keyring {
            Some(path) => read_keyring(path)?,
            None => Vec::new(),
        };
        Ok(Pgp {
            signer,
            team: team.strip_secret_key_material(),
            keyring,
        })
    }

    /// A detached, armored signature over exactly `data`.
    pub fn sign_detached(&self, data: &[u8]) -> Result<String> {
        let mut sink = Vec::new();
        {
            let message = Message::new(&mut sink);
            let message = Armorer::new(message)
                .kind(openpgp::armor::Kind::Signature)
                .build()?;
            let mut message = Signer::new(message, self.signer.clone())?
                .hash_algo(HashAlgorithm::SHA256)?
                .detached()
                .build()
                .context("start the signature")?;
            message.write_all(data).context("sign the mail")?;
            message.finalize().context("finish the signature")?;
        }
        String::from_utf8(sink).context("armored signature is not text")
    }

    /// The certificates of every recipient, or `None` when any one of them has none in the keyring.
    pub fn certs_for(&self, recipients: &[Address]) -> Option<Vec<&Cert>> {
        recipients.iter().map(|a| self.cert_for(a)).collect()
    }

    /// The keyring's certificate for `address`.
    pub fn cert_for(&self, address: &Address) -> Option<&Cert> {
        self.keyring.iter().find(|c| cert_has_address(c, address))
    }

    /// Encrypts `data` to `certs` and to the team, as an armored OpenPGP message.
    pub fn encrypt(&self, data: &[u8], certs: &[&Cert]) -> Result<String> {
        let policy = StandardPolicy::new();
        let mut keys = Vec::new();
        for cert in certs.iter().copied().chain(std::iter::once(&self.team)) {
            let before = keys.len();
            keys.extend(
                cert.keys()
                    .with_policy(&policy, None)
                    .supported()
                    .alive()
                    .revoked(false)
                    .for_transport_encryption(),
            );
            anyhow::ensure!(
                keys.len() > before || std::ptr::eq(cert, &self.team),
                "certificate {} has no usable encryption key",
                cert.fingerprint()
            );
        }
        let mut sink = Vec::new();
        {
            let message = Message::new(&mut sink);
            let message = Armorer::new(message).build()?;
            let message = Encryptor::for_recipients(message, keys)
                .build()
                .context("start encryption")?;
            let mut message = LiteralWriter::new(message).build()?;
            message.write_all(data).context("encrypt the mail")?;
            message.finalize().context("finish encryption")?;
        }
        String::from_utf8(sink).context("armored message is not text")
    }
}

/// The first valid signing key of `cert`, unlocked.
fn signing_keypair(cert: &Cert, password: Option<&Password>) -> Result<KeyPair> {
    let policy = StandardPolicy::new();
    let ka = cert
        .keys()
        .with_policy(&policy, None)
        .supported()
        .alive()
        .revoked(false)
        .for_signing()
        .secret()
        .next()
        .context("the team key has no usable secret signing key")?;
    let mut key = ka.key().clone();
    if key.secret().is_encrypted() {
        let password =
            password.context("the team key is protected: set passphrase_file or passphrase_env")?;
        let public = key.clone();
        key.secret_mut()
            .decrypt_in_place(&public, password)
            .context("wrong passphrase for the team key")?;
    }
    key.into_keypair().context("use the team key for signing")
}

fn read_keyring(path: &Path) -> Result<Vec<Cert>> {
    CertParser::from_file(path)
        .with_context(|| format!("read the keyring {}", path.display()))?
        .collect::<openpgp::Result<Vec<Cert>>>()
        .with_context(|| format!("parse the keyring {}", path.display()))
}

/// Whether a user ID of `cert` has `address` (normalised, as sequoia compares addresses).
pub(crate) fn cert_has_address(cert: &Cert, address: &Address) -> bool {
    let want = address.to_string().to_ascii_lowercase();
    cert.userids().any(|u| {
        u.userid()
            .email_normalized()
            .ok()
            .flatten()
            .is_some_and(|e| e == want)
    })
}
