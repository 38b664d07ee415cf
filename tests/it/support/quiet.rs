//! Counts that must be exact: a test that expects exactly N messages first waits until the mailbox is
//! quiet (no folder's UIDNEXT or message count moved for [`QUIET`]) and only then counts, so a late
//! duplicate cannot arrive after the assertion and pass unseen. Reads with STATUS and BODY.PEEK only.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use super::imap::{ImapSession, fetch_all, imap_login, list_folders};
use super::{TestUser, wait_for_messages};

/// How long nothing may change before a mailbox counts as quiet. A second copy from the same run
/// (Postfix handing on a second transaction, a worker copying twice) lands well within it.
pub const QUIET: Duration = Duration::from_secs(2);

/// How often the mailbox is looked at while waiting.
const POLL: Duration = Duration::from_millis(100);

/// Each folder's (UIDNEXT, MESSAGES): any delivery, copy or move changes one of them, even one
/// expunged at once.
async fn fingerprint(session: &mut ImapSession) -> Result<BTreeMap<String, (u32, u32)>> {
    let mut out = BTreeMap::new();
    for folder in list_folders(session).await? {
        // Parents such as `Support` of `Support/Disputes` are listed but cannot be asked (\NonExistent).
        if let Ok(mb) = session.status(&folder, "(UIDNEXT MESSAGES)").await {
            out.insert(folder, (mb.uid_next.unwrap_or(0), mb.exists));
        }
    }
    Ok(out)
}

/// Waits until no folder of the sessions `login` opens has changed for `quiet`; fails after `limit`.
pub async fn wait_quiet_with<F, Fut>(login: F, quiet: Duration, limit: Duration) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<ImapSession>>,
{
    let start = Instant::now();
    let mut session = login().await?;
    let mut last = fingerprint(&mut session).await?;
    let mut since = Instant::now();
    while since.elapsed() < quiet {
        if start.elapsed() > limit {
            bail!("the mailbox did not stay unchanged for {quiet:?} within {limit:?}");
        }
        tokio::time::sleep(POLL).await;
        let now = fingerprint(&mut session).await?;
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    session.logout().await.ok();
    Ok(())
}

/// [`wait_quiet_with`] on `user`'s mailbox of the shared server, for [`QUIET`], within a minute.
pub async fn wait_quiet(user: &TestUser) -> Result<()> {
    wait_quiet_with(|| imap_login(user, false), QUIET, Duration::from_secs(60)).await
}

/// Waits until `folder` of `user` holds at least `n` messages, then until the mailbox is quiet, and
/// returns the messages, failing unless there are exactly `n`.
pub async fn wait_for_exactly(
    user: &TestUser,
    folder: &str,
    n: usize,
    timeout: Duration,
) -> Result<Vec<Vec<u8>>> {
    wait_for_messages(user, folder, n, timeout).await?;
    wait_quiet(user).await?;
    let mut session = imap_login(user, false).await?;
    let got = fetch_all(&mut session, folder).await?;
    session.logout().await.ok();
    ensure!(
        got.len() == n,
        "{folder:?} of {} holds {} message(s) once quiet, expected exactly {n}",
        user.name,
        got.len()
    );
    Ok(got)
}
