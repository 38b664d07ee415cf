//! The scheme choice on its own: preference order, named schemes, what is held and why, with
//! certificates from an in-memory lookup.

use anyhow::Result;
use openpgp::cert::CertBuilder;
use sequoia_openpgp as openpgp;

use super::*;
use crate::outbox::smime::testing::{Ca, Spec, now};

const BOTH: &[Scheme] = &[Scheme::Smime, Scheme::OpenPgp];

/// A lookup where `both@` has both kinds, `x509@` only S/MIME, `pgp@` only OpenPGP.
fn lookup() -> Result<KnownCerts> {
    let ca = Ca::new("Test CA")?;
    let mut smime = Vec::new();
    for who in ["both@example.org", "x509@example.org"] {
        smime.push(Certificate::from_x509(ca.issue(&Spec::mail(who))?.0)?);
    }
    let mut pgp = Vec::new();
    for who in ["<both@example.org>", "<pgp@example.org>"] {
        pgp.push(CertBuilder::general_purpose(Some(who)).generate()?.0);
    }
    Ok(KnownCerts {
        smime,
        openpgp: pgp,
    })
}

fn addresses(list: &[&str]) -> Result<Vec<Address>> {
    Ok(list.iter().map(|a| a.parse()).collect::<Result<_, _>>()?)
}

fn ask<'a>(recipients: &'a [Address], configured: &'a [Scheme]) -> Ask<'a> {
    Ask {
        sign: true,
        encrypt: Encrypt::IfKey,
        scheme: SchemeChoice::Auto,
        preference: BOTH,
        configured,
        recipients,
        at: now(),
    }
}

fn shown(p: &Protection) -> String {
    match p {
        Protection::Plain => "plain".to_owned(),
        Protection::Signed(s) => format!("signed {s}"),
        Protection::Smime { sign, to } => format!("smime sign={sign} to={}", to.len()),
        Protection::OpenPgp { sign, to } => format!("openpgp sign={sign} to={}", to.len()),
        Protection::Held(why) => format!("held: {why}"),
    }
}

#[test]
fn auto_encrypts_with_the_first_preferred_scheme_every_recipient_has() -> Result<()> {
    let certs = lookup()?;
    let both = addresses(&["both@example.org"])?;
    assert_eq!(
        shown(&choose(&ask(&both, BOTH), &certs)),
        "smime sign=true to=1"
    );
    let mut a = ask(&both, BOTH);
    a.preference = &[Scheme::OpenPgp, Scheme::Smime];
    assert_eq!(shown(&choose(&a, &certs)), "openpgp sign=true to=1");
    let two = addresses(&["both@example.org", "pgp@example.org"])?;
    assert_eq!(
        shown(&choose(&ask(&two, BOTH), &certs)),
        "openpgp sign=true to=2"
    );
    let mut unsigned = ask(&two, BOTH);
    unsigned.sign = false;
    assert_eq!(shown(&choose(&unsigned, &certs)), "openpgp sign=false to=2");
    Ok(())
}

#[test]
fn only_configured_schemes_are_chosen() -> Result<()> {
    let certs = lookup()?;
    let x509 = addresses(&["x509@example.org"])?;
    assert_eq!(
        shown(&choose(&ask(&x509, &[Scheme::OpenPgp]), &certs)),
        "signed openpgp"
    );
    assert_eq!(shown(&choose(&ask(&x509, &[]), &certs)), "plain");
    let mut always = ask(&x509, &[]);
    always.encrypt = Encrypt::Always;
    assert_eq!(
        shown(&choose(&always, &certs)),
        "held: encryption is required but neither [smime] nor [openpgp] is configured"
    );
    always.scheme = SchemeChoice::Smime;
    assert_eq!(
        shown(&choose(&always, &certs)),
        "held: encryption is required but [smime] is not configured"
    );
    Ok(())
}

#[test]
fn a_named_scheme_is_used_alone() -> Result<()> {
    let certs = lookup()?;
    let x509 = addresses(&["x509@example.org"])?;
    let mut a = ask(&x509, BOTH);
    a.scheme = SchemeChoice::Openpgp;
    assert_eq!(shown(&choose(&a, &certs)), "signed openpgp");
    a.encrypt = Encrypt::Always;
    assert_eq!(
        shown(&choose(&a, &certs)),
        "held: encryption is required but the keyring lacks a certificate for one of x509@example.org"
    );
    a.scheme = SchemeChoice::Smime;
    assert_eq!(shown(&choose(&a, &certs)), "smime sign=true to=1");
    Ok(())
}

#[test]
fn signing_only_follows_the_scheme_a_recipient_is_known_to_use() -> Result<()> {
    let certs = lookup()?;
    let mixed = addresses(&["pgp@example.org", "nobody@example.org"])?;
    assert_eq!(shown(&choose(&ask(&mixed, BOTH), &certs)), "signed openpgp");
    let nobody = addresses(&["nobody@example.org"])?;
    assert_eq!(shown(&choose(&ask(&nobody, BOTH), &certs)), "signed smime");
    let mut never = ask(&mixed, BOTH);
    never.encrypt = Encrypt::Never;
    let all_pgp = addresses(&["pgp@example.org"])?;
    never.recipients = &all_pgp;
    assert_eq!(
        shown(&choose(&never, &certs)),
        "signed openpgp",
        "never encrypts"
    );
    never.sign = false;
    assert_eq!(shown(&choose(&never, &certs)), "plain");
    Ok(())
}

#[test]
fn mixed_recipients_under_always_are_held_naming_what_each_scheme_lacks() -> Result<()> {
    let certs = lookup()?;
    let mixed = addresses(&["x509@example.org", "pgp@example.org"])?;
    let mut a = ask(&mixed, BOTH);
    a.encrypt = Encrypt::Always;
    assert_eq!(
        shown(&choose(&a, &certs)),
        "held: encryption is required but no one scheme has a certificate for every recipient \
         (smime lacks pgp@example.org; openpgp lacks x509@example.org), so the mail is held"
    );
    Ok(())
}

#[test]
fn chained_lookups_ask_the_first_then_the_second() -> Result<()> {
    let certs = lookup()?;
    let x509: Address = "x509@example.org".parse()?;
    assert!(Chain(&NoCerts, &certs).smime(&x509, now()).is_some());
    assert!(Chain(&certs, &NoCerts).smime(&x509, now()).is_some());
    assert!(Chain(&NoCerts, &NoCerts).smime(&x509, now()).is_none());
    let pgp: Address = "pgp@example.org".parse()?;
    assert!(Chain(&NoCerts, &certs).openpgp(&pgp).is_some());
    Ok(())
}
