//! The header blocks of a selected folder's newer messages (`UID FETCH n:* BODY.PEEK[HEADER]`), for the
//! response-time records' look at the team's sent folders. PEEK leaves `\Seen` as it is.

use anyhow::Result;
use futures::TryStreamExt;

use super::super::SentHeader;
use super::Imap;

impl Imap {
    /// The header blocks of the selected folder's messages with a UID above `after`, oldest first, at
    /// most `limit`. `n:*` names the last message even when its UID is below `n` (RFC 3501 6.4.8), so
    /// the UIDs are checked.
    pub async fn headers_after(&mut self, after: i64, limit: usize) -> Result<Vec<SentHeader>> {
        let from = u32::try_from(after.max(0))
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let set = format!("{from}:*");
        let (lr, live) = (self.last_read.clone(), self.liveness);
        let what = format!("UID FETCH {set} (BODY.PEEK[HEADER])");
        let fetches: Vec<_> = Self::io(&lr, live, &what, async {
            self.session
                .uid_fetch(&set, "(UID BODY.PEEK[HEADER])")
                .await?
                .try_collect()
                .await
        })
        .await?;
        self.drain();
        let mut out: Vec<SentHeader> = fetches
            .iter()
            .filter_map(|f| {
                let uid = f.uid?;
                (uid >= from).then(|| SentHeader {
                    position: i64::from(uid),
                    header: f.header().unwrap_or_default().to_vec(),
                })
            })
            .collect();
        out.sort_by_key(|h| h.position);
        out.truncate(limit);
        Ok(out)
    }
}
