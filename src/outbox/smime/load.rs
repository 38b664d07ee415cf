//! Reads the files `[smime]` names: the team's certificate and key (PEM files or one PKCS#12 file, the
//! passphrase from `passphrase_file`/`passphrase_env`), the chain, the trust roots and the members'
//! certificates. Every problem is collected under the key of the file it is about.
//!
//! Owns file reading and parsing only; it signs and encrypts nothing and never shows a passphrase.

use std::path::Path;

use openssl::pkcs12::Pkcs12;
use openssl::pkey::{Id, PKey, Private};
use openssl::x509::X509;

use super::{Certificate, LoadErrors, Smime, files_in, shown};
use crate::config::{ConfigError, Secret, SmimeConfig, SmimeIdentity};

/// The team's certificate, its key, the certificates that came with it, and the key they came under.
struct Identity {
    cert: Certificate,
    key: PKey<Private>,
    extra: Vec<X509>,
    cert_key: &'static str,
    key_key: &'static str,
}

pub(super) fn load(config: &SmimeConfig) -> Result<Smime, LoadErrors> {
    let mut errors = Vec::new();
    let identity = identity(config, &mut errors);
    let mut chain = Vec::new();
    if let Some(path) = &config.chain_file {
        chain = certificates(path, "smime.chain_file", &mut errors);
    }
    let ca = match &config.ca_file {
        Some(path) => certificates(path, "smime.ca_file", &mut errors),
        None => Vec::new(),
    };
    let members = match &config.certs_dir {
        Some(dir) => members(dir, &mut errors),
        None => Vec::new(),
    };
    let identity = identity.filter(|id| key_fits(id, &mut errors));
    match identity {
        Some(id) if errors.is_empty() => {
            let mut all_chain = id.extra;
            all_chain.extend(chain.into_iter().map(|c| c.x509().clone()));
            Ok(Smime {
                team: id.cert,
                key: id.key,
                chain: all_chain,
                ca: ca.into_iter().map(|c| c.x509().clone()).collect(),
                members,
                cert_key: id.cert_key,
            })
        }
        _ => Err(LoadErrors(errors)),
    }
}

fn identity(config: &SmimeConfig, errors: &mut Vec<ConfigError>) -> Option<Identity> {
    let passphrase = config.passphrase.as_ref();
    match &config.identity {
        SmimeIdentity::Pem {
            cert_file,
            key_file,
        } => {
            let certs = read(cert_file, "smime.cert_file", errors)
                .and_then(|b| parse(&b, cert_file, "smime.cert_file", errors));
            let key = read(key_file, "smime.key_file", errors)
                .and_then(|b| pem_key(&b, key_file, passphrase, errors));
            let mut certs = certs?.into_iter();
            let cert = certs.next()?;
            Some(Identity {
                cert,
                key: key?,
                extra: certs.map(|c| c.x509().clone()).collect(),
                cert_key: "cert_file",
                key_key: "key_file",
            })
        }
        SmimeIdentity::Pkcs12 { pkcs12_file } => {
            let bytes = read(pkcs12_file, "smime.pkcs12_file", errors)?;
            pkcs12(&bytes, pkcs12_file, passphrase, errors)
        }
    }
}

fn read(path: &Path, key: &str, errors: &mut Vec<ConfigError>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            errors.push(ConfigError::new(
                key,
                format!("cannot read {}: {e}", shown(path)),
            ));
            None
        }
    }
}

fn parse(
    bytes: &[u8],
    path: &Path,
    key: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<Certificate>> {
    match Certificate::parse_all(bytes) {
        Ok(certs) => Some(certs),
        Err(e) => {
            let shown = shown(path);
            errors.push(ConfigError::new(
                key,
                format!("{shown}: not a certificate: {e:#}"),
            ));
            None
        }
    }
}

fn certificates(path: &Path, key: &str, errors: &mut Vec<ConfigError>) -> Vec<Certificate> {
    read(path, key, errors)
        .and_then(|b| parse(&b, path, key, errors))
        .unwrap_or_default()
}

fn pem_key(
    bytes: &[u8],
    path: &Path,
    passphrase: Option<&Secret>,
    errors: &mut Vec<ConfigError>,
) -> Option<PKey<Private>> {
    let encrypted = bytes.windows(9).any(|w| w == b"ENCRYPTED");
    let result = match passphrase {
        Some(p) => PKey::private_key_from_pem_passphrase(bytes, p.expose().as_bytes()),
        None if encrypted => {
            let why = "the key is encrypted: set passphrase_file or passphrase_env";
            errors.push(ConfigError::new("smime.key_file", why));
            return None;
        }
        None => PKey::private_key_from_pem(bytes),
    };
    match result {
        Ok(key) => Some(key),
        Err(_) => {
            let why = if encrypted {
                "cannot unlock the key with the passphrase"
            } else {
                "not a PEM private key"
            };
            errors.push(ConfigError::new(
                "smime.key_file",
                format!("{}: {why}", shown(path)),
            ));
            None
        }
    }
}

fn pkcs12(
    bytes: &[u8],
    path: &Path,
    passphrase: Option<&Secret>,
    errors: &mut Vec<ConfigError>,
) -> Option<Identity> {
    let key = "smime.pkcs12_file";
    let parsed =
        Pkcs12::from_der(bytes).and_then(|p| p.parse2(passphrase.map_or("", Secret::expose)));
    let parsed = match parsed {
        Ok(p) => p,
        Err(_) => {
            let why = "cannot open it: not PKCS#12, a wrong passphrase, or a cipher OpenSSL 3 has \
                       only in its legacy provider (such as RC2)";
            errors.push(ConfigError::new(key, format!("{}: {why}", shown(path))));
            return None;
        }
    };
    let (Some(x509), Some(pkey)) = (parsed.cert, parsed.pkey) else {
        let why = "needs both the certificate and its private key";
        errors.push(ConfigError::new(key, format!("{}: {why}", shown(path))));
        return None;
    };
    let cert = match Certificate::from_x509(x509) {
        Ok(c) => c,
        Err(e) => {
            errors.push(ConfigError::new(key, format!("{}: {e:#}", shown(path))));
            return None;
        }
    };
    Some(Identity {
        cert,
        key: pkey,
        extra: parsed
            .ca
            .map(|s| s.into_iter().collect())
            .unwrap_or_default(),
        cert_key: "pkcs12_file",
        key_key: "pkcs12_file",
    })
}

/// The key must be RSA or EC (whose default digest, SHA-256, is what `micalg` announces) and must
/// belong to the certificate.
fn key_fits(id: &Identity, errors: &mut Vec<ConfigError>) -> bool {
    let key = format!("smime.{}", id.key_key);
    if !matches!(id.key.id(), Id::RSA | Id::EC) {
        errors.push(ConfigError::new(&key, "the private key must be RSA or EC"));
        return false;
    }
    let matches = id
        .cert
        .x509()
        .public_key()
        .map(|public| public.public_eq(&id.key))
        .unwrap_or(false);
    if !matches {
        let cert = if id.cert_key == "cert_file" {
            "the certificate of cert_file"
        } else {
            "its certificate"
        };
        errors.push(ConfigError::new(
            &key,
            format!("the private key does not match {cert}"),
        ));
    }
    matches
}

fn members(dir: &Path, errors: &mut Vec<ConfigError>) -> Vec<Certificate> {
    let files = match files_in(dir) {
        Ok(files) => files,
        Err(e) => {
            let why = format!("cannot read {}: {e}", shown(dir));
            errors.push(ConfigError::new("smime.certs_dir", why));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for file in files {
        out.extend(certificates(&file, "smime.certs_dir", errors));
    }
    out
}
