//! Members' certificates on both backends: a verified certificate from an active member is stored,
//! records `smime-cert` and ticks `start/smime-cert` once; a non-member's or a paused member's is not;
//! `team record NAME smime-cert FILE` refuses another address, an unknown CA and an expired
//! certificate; near expiry shows in the health; what is stored is what composing encrypts to.

use anyhow::{Result, anyhow};
use chrono::Duration;

use crate::config::Scheme;
use crate::outbox::harvest::{Harvested, Harvester};
use crate::outbox::smime::Certificate;
use crate::outbox::smime::testing::{Ca, Spec, now};
use crate::store::testing::backend_tests;
use crate::team::*;

fn team() -> Result<(tempfile::TempDir, Team)> {
    let dir = tempfile::tempdir()?;
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/support.sieve");
    let path = dir.path().join("triaged.toml");
    std::fs::write(
        &path,
        format!(
            "[mailbox]\nurl = \"maildir:mail\"\n[rules]\nscript = \"{}\"\n[outbox]\n\
             transport = \"file:out\"\nfrom = \"Support <support@example.org>\"\n",
            rules.display()
        ),
    )?;
    let config = Config::load(&path)?;
    Ok((dir, Team::load(&config)?))
}

async fn add_member(store: &Store, team: &Team, name: &str, address: &str) -> Result<()> {
    let new = NewMember {
        name: name.to_owned(),
        addresses: vec![address.to_owned()],
        roles: vec![Role::Triage],
        since: Some(now() - Duration::days(3)),
        ..NewMember::default()
    };
    add(store, team, &new, "alice", now()).await?;
    Ok(())
}

/// What the harvester hands over for `cert`, as if it came in signed mail from `address`.
fn harvested(cert: &Certificate, address: &str) -> Result<Harvested> {
    Ok(Harvested {
        scheme: Scheme::Smime,
        address: address.to_owned(),
        certificate: cert.to_der()?,
        fingerprint: cert.fingerprint().to_owned(),
        expires: Some(cert.not_after()),
    })
}

async fn learn(store: &Store, found: &Harvested) -> Result<Learnt> {
    let mut tx = store.begin().await?;
    let learnt = learn_in(&mut tx, found, now()).await?;
    tx.commit().await?;
    Ok(learnt)
}

async fn stored(store: &Store) -> Result<usize> {
    let mut tx = store.begin().await?;
    Ok(Roster::load_in(&mut tx, None).await?.certificates.len())
}

async fn a_members_verified_certificate_is_stored_and_ticks_start_once(store: Store) -> Result<()> {
    let (_dir, team) = team()?;
    add_member(&store, &team, "Santa", "santa@example.org").await?;
    let ca = Ca::new("Members CA")?;
    let (x509, _) = ca.issue(&Spec::mail("santa@example.org"))?;
    let cert = Certificate::from_x509(x509)?;
    let found = harvested(&cert, "santa@example.org")?;
    let Learnt::Recorded { person, ticked, .. } = learn(&store, &found).await? else {
        return Err(anyhow!("not recorded"));
    };
    assert_eq!(person, "Santa");
    let ticked: Vec<String> = ticked.iter().map(ToString::to_string).collect();
    assert_eq!(ticked, ["start/smime-cert"]);
    let santa = find(&store, "santa").await?;
    assert_eq!(santa.fact(Fact::SMIME_CERT), Some(cert.fingerprint()));
    assert_eq!(stored(&store).await?, 1);

    let again = learn(&store, &found).await?;
    assert_eq!(
        again,
        Learnt::Known {
            person: "Santa".to_owned()
        }
    );
    assert_eq!(
        stored(&store).await?,
        1,
        "the same certificate is kept once"
    );

    let mut tx = store.begin().await?;
    let known =
        crate::outbox::recorded_certs_in(&mut tx, &welcome_to("santa@example.org")?).await?;
    drop(tx);
    assert_eq!(known.smime.len(), 1);
    assert_eq!(known.smime[0].fingerprint(), cert.fingerprint());
    Ok(())
}

fn welcome_to(address: &str) -> Result<crate::templates::RenderedMail> {
    let templates = crate::templates::Templates::load(None)?;
    let mut mail = templates
        .render_samples()?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no sample"))?;
    mail.to = vec![address.parse()?];
    mail.cc = Vec::new();
    Ok(mail)
}

async fn strangers_and_paused_members_teach_nothing(store: Store) -> Result<()> {
    let (_dir, team) = team()?;
    add_member(&store, &team, "Dave", "dave@example.org").await?;
    set_paused(&store, "dave", true, "away", "alice", now()).await?;
    let ca = Ca::new("Members CA")?;
    for (address, expected) in [
        ("grinch@example.org", Learnt::NotMember),
        (
            "dave@example.org",
            Learnt::NotActive {
                person: "Dave".to_owned(),
            },
        ),
    ] {
        let (x509, _) = ca.issue(&Spec::mail(address))?;
        let cert = Certificate::from_x509(x509)?;
        assert_eq!(learn(&store, &harvested(&cert, address)?).await?, expected);
    }
    assert_eq!(stored(&store).await?, 0);
    let dave = find(&store, "dave").await?;
    assert_eq!(dave.fact(Fact::SMIME_CERT), None);
    Ok(())
}

async fn team_record_checks_address_chain_and_validity(store: Store) -> Result<()> {
    let (_dir, team) = team()?;
    add_member(&store, &team, "Santa", "santa@example.org").await?;
    let ca = Ca::new("Members CA")?;
    let trust = Harvester::new(std::slice::from_ref(&ca.cert));
    let pem = |spec: &Spec| -> Result<Vec<u8>> { Ok(ca.issue(spec)?.0.to_pem()?) };
    let refusal = |r: Result<Learnt>| -> Result<String> {
        let e = r.err().ok_or_else(|| anyhow!("recorded"))?;
        anyhow::ensure!(e.is::<Invalid>(), "not a usage error: {e:#}");
        Ok(e.to_string())
    };

    let other = pem(&Spec::mail("grinch@example.org"))?;
    let why = refusal(record_certificate(&store, "santa", &other, &trust, "alice", now()).await)?;
    assert!(why.contains("grinch@example.org"), "{why}");

    let stranger = Ca::new("Unknown CA")?;
    let foreign = stranger
        .issue(&Spec::mail("santa@example.org"))?
        .0
        .to_pem()?;
    let why = refusal(record_certificate(&store, "santa", &foreign, &trust, "alice", now()).await)?;
    assert!(why.contains("not trusted"), "{why}");

    let mut old = Spec::mail("santa@example.org");
    old.from = Duration::days(-400);
    old.until = Duration::days(-35);
    let expired = pem(&old)?;
    let why = refusal(record_certificate(&store, "santa", &expired, &trust, "alice", now()).await)?;
    assert!(why.contains("expired"), "{why}");
    assert_eq!(stored(&store).await?, 0, "nothing refused is stored");

    let good = pem(&Spec::mail("santa@example.org"))?;
    let learnt = record_certificate(&store, "santa", &good, &trust, "alice", now()).await?;
    assert!(matches!(learnt, Learnt::Recorded { .. }), "{learnt:?}");
    assert_eq!(stored(&store).await?, 1);
    Ok(())
}

async fn a_certificate_near_expiry_is_listed_until_a_later_one_is_learnt(
    store: Store,
) -> Result<()> {
    let (_dir, team) = team()?;
    add_member(&store, &team, "Santa", "santa@example.org").await?;
    let ca = Ca::new("Members CA")?;
    let mut soon = Spec::mail("santa@example.org");
    soon.until = Duration::days(10);
    let short = Certificate::from_x509(ca.issue(&soon)?.0)?;
    learn(&store, &harvested(&short, "santa@example.org")?).await?;
    let config = team.settings.clone();
    let (roster, health) = crate::team::roster(&store, &config, now()).await?;
    assert_eq!(health.expiring.len(), 1, "{:?}", health.expiring);
    assert_eq!(health.expiring[0].name, "Santa");
    assert_eq!(health.gauges().expiring_certificates, 1);
    let text = render(&roster, &health, &Filter::default(), Format::Text, now())?;
    let day = short.not_after().format("%Y-%m-%d").to_string();
    assert!(
        text.contains(&format!("smime certificate expires {day}")),
        "{text}"
    );
    let (_, later) = crate::team::roster(&store, &config, now() - Duration::days(30)).await?;
    assert!(later.expiring.is_empty(), "40 days ahead is not near");

    let long = Certificate::from_x509(ca.issue(&Spec::mail("santa@example.org"))?.0)?;
    learn(&store, &harvested(&long, "santa@example.org")?).await?;
    let (_, health) = crate::team::roster(&store, &config, now()).await?;
    assert!(health.expiring.is_empty(), "{:?}", health.expiring);
    Ok(())
}

async fn a_members_openpgp_key_is_stored_beside_them_without_the_smime_fact(
    store: Store,
) -> Result<()> {
    use sequoia_openpgp::cert::CertBuilder;
    use sequoia_openpgp::serialize::SerializeInto as _;
    let (_dir, team) = team()?;
    add_member(&store, &team, "Rudolph", "rudolph@example.org").await?;
    let (cert, _) =
        CertBuilder::general_purpose(Some("Rudolph <rudolph@example.org>")).generate()?;
    let found = Harvested {
        scheme: Scheme::OpenPgp,
        address: "rudolph@example.org".to_owned(),
        certificate: cert.clone().strip_secret_key_material().to_vec()?,
        fingerprint: cert.fingerprint().to_hex(),
        expires: None,
    };
    let learnt = learn(&store, &found).await?;
    assert!(
        matches!(&learnt, Learnt::Recorded { ticked, .. } if ticked.is_empty()),
        "{learnt:?}"
    );
    let rudolph = find(&store, "rudolph").await?;
    assert_eq!(rudolph.fact(Fact::SMIME_CERT), None);
    let mut tx = store.begin().await?;
    let known =
        crate::outbox::recorded_certs_in(&mut tx, &welcome_to("rudolph@example.org")?).await?;
    drop(tx);
    assert!(known.smime.is_empty());
    assert_eq!(known.openpgp.len(), 1);
    assert_eq!(known.openpgp[0].fingerprint(), cert.fingerprint());
    let (_, health) = crate::team::roster(&store, &team.settings, now()).await?;
    assert!(
        health.expiring.is_empty(),
        "a key without expiry never warns"
    );
    Ok(())
}

async fn a_certs_dir_certificate_near_expiry_is_listed_too(store: Store) -> Result<()> {
    let (_dir, team) = team()?;
    add_member(&store, &team, "Santa", "santa@example.org").await?;
    let mut settings = team.settings.clone();
    settings.configured_certs = vec![ConfiguredCert {
        addresses: vec!["santa@example.org".to_owned()],
        fingerprint: "AB12".to_owned(),
        not_after_ms: (now() + Duration::days(5)).timestamp_millis(),
    }];
    let (_, health) = crate::team::roster(&store, &settings, now()).await?;
    assert_eq!(health.expiring.len(), 1, "{:?}", health.expiring);
    assert_eq!(health.expiring[0].fingerprint, "AB12");
    let ca = Ca::new("Members CA")?;
    let long = Certificate::from_x509(ca.issue(&Spec::mail("santa@example.org"))?.0)?;
    learn(&store, &harvested(&long, "santa@example.org")?).await?;
    let (_, health) = crate::team::roster(&store, &settings, now()).await?;
    assert!(health.expiring.is_empty(), "a later certificate was learnt");
    Ok(())
}

backend_tests!(
    a_certs_dir_certificate_near_expiry_is_listed_too,
    a_members_verified_certificate_is_stored_and_ticks_start_once,
    a_members_openpgp_key_is_stored_beside_them_without_the_smime_fact,
    strangers_and_paused_members_teach_nothing,
    team_record_checks_address_chain_and_validity,
    a_certificate_near_expiry_is_listed_until_a_later_one_is_learnt,
);
