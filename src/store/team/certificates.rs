//! Members' certificates beside the person: S/MIME certificates and OpenPGP keys, recorded by hand or
//! learnt from signed mail, found again by a recipient's address when mail is composed and listed by
//! expiry for `team list` and the metrics. Whether a certificate may be recorded is the `team` room's
//! rule; this stores and reads the bytes it is given.

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::{Store, Tx};

/// A certificate to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate<'a> {
    pub person_id: i64,
    /// `smime` or `openpgp`.
    pub scheme: &'a str,
    /// The address (lowercased) it was recorded for.
    pub address: &'a str,
    pub fingerprint: &'a str,
    /// DER (S/MIME) or a binary transferable public key (OpenPGP).
    pub certificate: &'a [u8],
    /// When it stops being valid; 0 never.
    pub not_after_ms: i64,
    /// How it came: `team record`, `harvested`.
    pub source: &'a str,
    pub recorded_ms: i64,
    pub actor: &'a str,
}

/// A certificate as stored, without its bytes (for listings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    pub id: i64,
    pub person_id: i64,
    pub scheme: String,
    pub address: String,
    pub fingerprint: String,
    pub not_after_ms: i64,
    pub source: String,
    pub recorded_ms: i64,
}

/// A certificate's bytes with its scheme, for composing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateBytes {
    pub scheme: String,
    pub certificate: Vec<u8>,
}

fn decode(row: &AnyRow) -> Result<CertificateRow, sqlx::Error> {
    Ok(CertificateRow {
        id: row.try_get("id")?,
        person_id: row.try_get("person_id")?,
        scheme: row.try_get("scheme")?,
        address: row.try_get("address")?,
        fingerprint: row.try_get("fingerprint")?,
        not_after_ms: row.try_get("not_after_ms")?,
        source: row.try_get("source")?,
        recorded_ms: row.try_get("recorded_ms")?,
    })
}

/// The certificates of one person (`only` > 0) or of everyone, oldest first.
pub(super) async fn listed_in(tx: &mut Tx, only: i64) -> Result<Vec<CertificateRow>> {
    let rows = sqlx::query(
        "SELECT id, person_id, scheme, address, fingerprint, not_after_ms, source, recorded_ms \
         FROM team_certificates WHERE ($1 = 0 OR person_id = $1) ORDER BY person_id, id",
    )
    .bind(only)
    .fetch_all(&mut **tx)
    .await
    .context("read certificates")?;
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .context("decode certificates")
}

impl Store {
    /// Records a certificate; returns its id, or `None` when the person already has one with this
    /// scheme and fingerprint (nothing is written then).
    pub async fn team_insert_certificate_in(
        tx: &mut Tx,
        c: &NewCertificate<'_>,
    ) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "INSERT INTO team_certificates (person_id, scheme, address, fingerprint, certificate, \
             not_after_ms, source, recorded_ms, actor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (person_id, scheme, fingerprint) DO NOTHING RETURNING id",
        )
        .bind(c.person_id)
        .bind(c.scheme)
        .bind(c.address)
        .bind(c.fingerprint)
        .bind(c.certificate.to_vec())
        .bind(c.not_after_ms)
        .bind(c.source)
        .bind(c.recorded_ms)
        .bind(c.actor)
        .fetch_optional(&mut **tx)
        .await
        .with_context(|| {
            format!(
                "record a {} certificate of person {}",
                c.scheme, c.person_id
            )
        })
    }

    /// Every certificate recorded on the people who own any of `addresses` (any case), newest first.
    pub async fn team_certificates_for(
        &self,
        addresses: &[String],
    ) -> Result<Vec<CertificateBytes>> {
        let mut tx = self.begin().await?;
        let found = Self::team_certificates_for_in(&mut tx, addresses).await?;
        drop(tx);
        Ok(found)
    }

    /// [`Store::team_certificates_for`] inside `tx`.
    pub async fn team_certificates_for_in(
        tx: &mut Tx,
        addresses: &[String],
    ) -> Result<Vec<CertificateBytes>> {
        let mut found = Vec::new();
        for chunk in addresses.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT c.scheme, c.certificate FROM team_certificates c \
                 WHERE c.person_id IN (SELECT a.person_id FROM team_addresses a \
                 WHERE a.address IN ({list})) ORDER BY c.id DESC"
            );
            let mut query = sqlx::query(&sql);
            for a in chunk {
                query = query.bind(a.to_lowercase());
            }
            let rows = query
                .fetch_all(&mut **tx)
                .await
                .context("look up recipients' certificates")?;
            for row in &rows {
                found.push(CertificateBytes {
                    scheme: row.try_get("scheme").context("decode certificate")?,
                    certificate: row.try_get("certificate").context("decode certificate")?,
                });
            }
        }
        Ok(found)
    }
}
