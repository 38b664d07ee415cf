//! The team report's reads: mail sorted per bucket per day, aliveness pings sent and answered, and the
//! roster, handovers and disputes read through their own parts. Reads only; the report's rules (months,
//! medians, who joined) belong to `records::report`.

use anyhow::{Context, Result};
use sqlx::Row;

use super::{HandoverAssetRow, HandoverRow, RosterRows, Store};

/// What the report reads about the roster and its handovers, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct TeamRows {
    pub roster: RosterRows,
    pub handovers: Vec<HandoverRow>,
    pub assets: Vec<HandoverAssetRow>,
}

impl Store {
    /// Messages sorted with `since_ms <= created < until_ms`, per UTC day (days since the epoch, `created_ms / 86400000`) and
    /// bucket, in every watched mailbox.
    pub async fn sorted_per_day(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(i64, String, u64)>> {
        let rows = sqlx::query(
            "SELECT created_ms / 86400000 AS day, bucket, COUNT(*) AS n FROM verdicts \
             WHERE created_ms >= $1 AND created_ms < $2 GROUP BY created_ms / 86400000, bucket \
             ORDER BY day, bucket",
        )
        .bind(since_ms)
        .bind(until_ms)
        .fetch_all(self.pool())
        .await
        .context("count mail per bucket and day")?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n")?;
                Ok((
                    r.try_get("day")?,
                    r.try_get("bucket")?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("decode mail counts")
    }

    /// Aliveness pings sent with `since_ms <= sent < until_ms`, and how many of them were answered.
    pub async fn pings_between(&self, since_ms: i64, until_ms: i64) -> Result<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS sent, \
             COALESCE(SUM(CASE WHEN answered_ms > 0 THEN 1 ELSE 0 END), 0) AS answered \
             FROM team_pings WHERE sent_ms >= $1 AND sent_ms < $2",
        )
        .bind(since_ms)
        .bind(until_ms)
        .fetch_one(self.pool())
        .await
        .context("count pings")?;
        let sent: i64 = row.try_get("sent").context("decode ping count")?;
        let answered: i64 = row.try_get("answered").context("decode ping count")?;
        Ok((
            u64::try_from(sent).unwrap_or(0),
            u64::try_from(answered).unwrap_or(0),
        ))
    }

    /// The roster (every person, stint and ping) and every handover with its assets, read together.
    pub async fn team_rows(&self) -> Result<TeamRows> {
        let mut tx = self.begin().await?;
        let roster = Store::team_roster_in(&mut tx, None).await?;
        let handovers = Store::handovers_in(&mut tx, None).await?;
        let assets = Store::handover_assets_in(&mut tx, None).await?;
        tx.commit().await.context("finish reading the roster")?;
        Ok(TeamRows {
            roster,
            handovers,
            assets,
        })
    }
}
