//! S/MIME (and PGP/MIME) signature parsing and verification: a received message → `Harvester::harvest`,
//! the worker's entry point for learning a member's certificate (the MIME cut, the PKCS#7 DER, the
//! signature over the content as received, the chain to the trust roots, the address against From).
//! The trust root is the fuzz-only CA in `fuzz/pki/`, whose signer's mail `scripts/fuzz` puts in the
//! seeds, so mutations start from signatures that verify. Any input must be harvested, rejected with a
//! reason or found to teach nothing, never a panic.

#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use triaged::outbox::harvest::{Harvest, Harvester};

static SETUP: LazyLock<(Harvester, DateTime<Utc>)> = LazyLock::new(|| {
    let harvester =
        Harvester::from_ca_pem(include_bytes!("../pki/ca.pem")).unwrap_or_else(|e| panic!("{e:#}"));
    // Within the fuzz PKI's century of validity.
    let now = DateTime::from_timestamp(1_811_808_000, 0).unwrap_or_default();
    (harvester, now)
});

fuzz_target!(|data: &[u8]| {
    let (harvester, now) = &*SETUP;
    match harvester.harvest(data, *now) {
        Harvest::Verified(found) => {
            // Only a certificate for the From address is ever learnt.
            assert!(!found.address.is_empty() && !found.certificate.is_empty());
        }
        Harvest::Rejected(why) => {
            let _ = (why.reason(), why.to_string());
        }
        Harvest::Nothing => {}
    }
});
