//! How a mail is protected: which scheme signs it, whether it is encrypted and to which certificates,
//! or why it is held. The template asks (`sign`, `encrypt`, `scheme`), the configured schemes and their
//! order (`[outbox] schemes`) and the recipients' certificates decide.
//!
//! Recipients' certificates are found through [`CertLookup`], so where they come from (the config's
//! keyring and `certs_dir`, certificates recorded on the roster) is no concern of composing. This module
//! decides only; it signs, encrypts and builds nothing.

use chrono::{DateTime, Utc};
use lettre::Address;
use sequoia_openpgp::Cert;

use super::openpgp::Pgp;
use super::smime::{Certificate, Smime};
use crate::config::Scheme;
use crate::templates::{Encrypt, SchemeChoice};

/// Where recipients' certificates are found.
pub trait CertLookup {
    /// An S/MIME certificate that mail to `address` may be encrypted to at `at`.
    fn smime(&self, address: &Address, at: DateTime<Utc>) -> Option<Certificate>;
    /// An OpenPGP certificate for `address`.
    fn openpgp(&self, address: &Address) -> Option<Cert>;
}

/// No certificates at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCerts;

impl CertLookup for NoCerts {
    fn smime(&self, _: &Address, _: DateTime<Utc>) -> Option<Certificate> {
        None
    }

    fn openpgp(&self, _: &Address) -> Option<Cert> {
        None
    }
}

/// Certificates held in memory, from any source (for example the ones recorded on the roster, read
/// from the store before composing).
#[derive(Debug, Clone, Default)]
pub struct KnownCerts {
    pub smime: Vec<Certificate>,
    pub openpgp: Vec<Cert>,
}

impl CertLookup for KnownCerts {
    fn smime(&self, address: &Address, at: DateTime<Utc>) -> Option<Certificate> {
        self.smime
            .iter()
            .filter(|c| c.has_address(address.as_ref()) && c.can_encrypt_at(at))
            .max_by_key(|c| c.not_after())
            .cloned()
    }

    fn openpgp(&self, address: &Address) -> Option<Cert> {
        self.openpgp
            .iter()
            .find(|c| super::openpgp::cert_has_address(c, address))
            .cloned()
    }
}

/// Asks `first`, then `then`: recorded certificates before configured ones, say.
pub struct Chain<'a>(pub &'a dyn CertLookup, pub &'a dyn CertLookup);

impl CertLookup for Chain<'_> {
    fn smime(&self, address: &Address, at: DateTime<Utc>) -> Option<Certificate> {
        self.0
            .smime(address, at)
            .or_else(|| self.1.smime(address, at))
    }

    fn openpgp(&self, address: &Address) -> Option<Cert> {
        self.0.openpgp(address).or_else(|| self.1.openpgp(address))
    }
}

/// The certificates the config names: `[openpgp] keyring` and `[smime] certs_dir`.
pub struct Configured<'a> {
    pub pgp: Option<&'a Pgp>,
    pub smime: Option<&'a Smime>,
}

impl CertLookup for Configured<'_> {
    fn smime(&self, address: &Address, at: DateTime<Utc>) -> Option<Certificate> {
        self.smime?.member_cert(address.as_ref(), at).cloned()
    }

    fn openpgp(&self, address: &Address) -> Option<Cert> {
        self.pgp?.cert_for(address).cloned()
    }
}

/// What composing does with one mail.
#[derive(Debug, Clone)]
pub enum Protection {
    /// Neither signed nor encrypted.
    Plain,
    /// Signed with this scheme only.
    Signed(Scheme),
    /// Encrypted with S/MIME to these certificates (and the team's), signed first when `sign`.
    Smime { sign: bool, to: Vec<Certificate> },
    /// Encrypted with OpenPGP to these certificates (and the team's), signed first when `sign`.
    OpenPgp { sign: bool, to: Vec<Cert> },
    /// Not sent: encryption is required and impossible; the reason is shown by `outbox list`.
    Held(String),
}

/// What the choice needs to know about the mail and the config.
pub struct Ask<'a> {
    pub sign: bool,
    pub encrypt: Encrypt,
    pub scheme: SchemeChoice,
    /// `[outbox] schemes`, the preference under `auto`.
    pub preference: &'a [Scheme],
    /// The schemes whose team key is configured.
    pub configured: &'a [Scheme],
    pub recipients: &'a [Address],
    pub at: DateTime<Utc>,
}

/// Decides how the mail is protected. `auto` encrypts with the first preferred scheme that has a
/// certificate for every recipient; otherwise it signs with the first preferred scheme some recipient
/// is known to use, else with the first configured one. A named scheme is used alone.
pub fn choose(ask: &Ask<'_>, certs: &dyn CertLookup) -> Protection {
    let candidates = candidates(ask);
    if ask.encrypt != Encrypt::Never {
        let mut lacking = Vec::new();
        for &scheme in &candidates {
            match certs_for(scheme, ask, certs) {
                Ok(to) => return to,
                Err(missing) => lacking.push((scheme, missing)),
            }
        }
        if ask.encrypt == Encrypt::Always {
            return Protection::Held(hold_reason(ask, &lacking));
        }
    }
    if !ask.sign {
        return Protection::Plain;
    }
    let known = |s: Scheme| {
        ask.recipients.iter().any(|a| match s {
            Scheme::Smime => certs.smime(a, ask.at).is_some(),
            Scheme::OpenPgp => certs.openpgp(a).is_some(),
        })
    };
    let pick = candidates
        .iter()
        .copied()
        .find(|&s| known(s))
        .or(candidates.first().copied());
    pick.map_or(Protection::Plain, Protection::Signed)
}

/// The schemes the template allows, configured, in order of preference.
fn candidates(ask: &Ask<'_>) -> Vec<Scheme> {
    let wanted: Vec<Scheme> = match ask.scheme {
        SchemeChoice::Auto => ask.preference.to_vec(),
        SchemeChoice::Openpgp => vec![Scheme::OpenPgp],
        SchemeChoice::Smime => vec![Scheme::Smime],
    };
    wanted
        .into_iter()
        .filter(|s| ask.configured.contains(s))
        .collect()
}

/// Every recipient's certificate in `scheme`, or the recipients that have none.
fn certs_for(
    scheme: Scheme,
    ask: &Ask<'_>,
    certs: &dyn CertLookup,
) -> Result<Protection, Vec<String>> {
    let sign = ask.sign;
    let mut missing = Vec::new();
    let protection = match scheme {
        Scheme::Smime => {
            let mut to = Vec::new();
            for a in ask.recipients {
                match certs.smime(a, ask.at) {
                    Some(c) => to.push(c),
                    None => missing.push(a.to_string()),
                }
            }
            Protection::Smime { sign, to }
        }
        Scheme::OpenPgp => {
            let mut to = Vec::new();
            for a in ask.recipients {
                match certs.openpgp(a) {
                    Some(c) => to.push(c),
                    None => missing.push(a.to_string()),
                }
            }
            Protection::OpenPgp { sign, to }
        }
    };
    if missing.is_empty() {
        Ok(protection)
    } else {
        Err(missing)
    }
}

fn hold_reason(ask: &Ask<'_>, lacking: &[(Scheme, Vec<String>)]) -> String {
    let list = |v: &[String]| v.join(", ");
    match lacking {
        [] => {
            let tables: Vec<String> = match ask.scheme {
                SchemeChoice::Openpgp => vec!["[openpgp]".to_owned()],
                SchemeChoice::Smime => vec!["[smime]".to_owned()],
                SchemeChoice::Auto => ask.preference.iter().map(|s| format!("[{s}]")).collect(),
            };
            let what = match tables.as_slice() {
                [one] => format!("{one} is not"),
                many => format!("neither {} is", many.join(" nor ")),
            };
            format!("encryption is required but {what} configured")
        }
        [(Scheme::OpenPgp, _)] => {
            let all: Vec<String> = ask.recipients.iter().map(ToString::to_string).collect();
            format!(
                "encryption is required but the keyring lacks a certificate for one of {}",
                list(&all)
            )
        }
        [(Scheme::Smime, missing)] => format!(
            "encryption is required but there is no valid S/MIME certificate for {}",
            list(missing)
        ),
        several => {
            let parts: Vec<String> = several
                .iter()
                .map(|(s, missing)| format!("{s} lacks {}", list(missing)))
                .collect();
            format!(
                "encryption is required but no one scheme has a certificate for every recipient \
                 ({}), so the mail is held",
                parts.join("; ")
            )
        }
    }
}

#[cfg(test)]
#[path = "scheme_tests.rs"]
mod tests;
