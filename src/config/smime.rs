//! The `[smime]` table: the team's X.509 identity (PEM files or one PKCS#12 file), its chain, the trust
//! roots for members' certificates and the directory of members' certificates.
//!
//! Only checks that the files exist and that the identity is given one way; the certificates themselves
//! are parsed and checked by `outbox::smime`, which `triaged check` calls.

use std::path::PathBuf;

use super::value::Table;
use super::{SmimeConfig, SmimeIdentity};

pub(super) fn read(mut t: Table<'_>) -> Option<SmimeConfig> {
    if !t.present() {
        return None;
    }
    let cert_file = t.existing_file("cert_file");
    let key_file = t.existing_file("key_file");
    let pkcs12_file = t.existing_file("pkcs12_file");
    let passphrase = t.secret("passphrase_file", "passphrase_env");
    let chain_file = t.existing_file("chain_file");
    let ca_file = t.existing_file("ca_file");
    let certs_dir = t.path("certs_dir");
    if let Some(dir) = &certs_dir
        && !dir.is_dir()
    {
        let shown = dir.display().to_string();
        t.error("certs_dir", format!("no such directory: {shown}"));
    }
    let identity = smime_identity(&mut t, cert_file, key_file, pkcs12_file);
    t.finish();
    Some(SmimeConfig {
        identity: identity?,
        passphrase,
        chain_file,
        ca_file,
        certs_dir,
    })
}

/// `cert_file` with `key_file`, or `pkcs12_file` alone; a missing half is reported under its own key
/// unless the file was named and not found (already reported).
fn smime_identity(
    t: &mut Table<'_>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    pkcs12_file: Option<PathBuf>,
) -> Option<SmimeIdentity> {
    let reported = |t: &Table<'_>, key: &str| {
        let key = t.key(key);
        t.errors.iter().any(|e| e.key == key)
    };
    match (cert_file, key_file, pkcs12_file) {
        (Some(cert_file), Some(key_file), None) => Some(SmimeIdentity::Pem {
            cert_file,
            key_file,
        }),
        (None, None, Some(pkcs12_file)) => Some(SmimeIdentity::Pkcs12 { pkcs12_file }),
        (_, _, Some(_)) => {
            t.error(
                "pkcs12_file",
                "give cert_file and key_file, or pkcs12_file, not both",
            );
            None
        }
        (Some(_), None, None) => {
            if !reported(t, "key_file") {
                t.error(
                    "key_file",
                    "cert_file needs the key_file of its private key",
                );
            }
            None
        }
        (None, Some(_), None) => {
            if !reported(t, "cert_file") {
                t.error(
                    "cert_file",
                    "key_file needs the cert_file of its certificate",
                );
            }
            None
        }
        _ => {
            let given = ["cert_file", "key_file", "pkcs12_file"];
            if !given.iter().any(|k| reported(t, k)) {
                t.error(
                    "cert_file",
                    "[smime] needs cert_file and key_file, or pkcs12_file",
                );
            }
            None
        }
    }
}
