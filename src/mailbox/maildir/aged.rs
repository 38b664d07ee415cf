//! What the retention practice asks of a Maildir folder: the messages received before a cutoff, and
//! removing chosen ones. A Maildir message's INTERNALDATE is its file's modification time: Dovecot's
//! maildir storage writes an APPEND's date there and reports it back. triaged's own moves are renames
//! and its copies keep the time, so a message in a bucket still shows when it arrived.
//! Decides nothing about which messages go.

use anyhow::{Context, Result};

use super::super::{Aged, Key};
use super::{Maildir, split_name};

impl Maildir {
    /// The messages of the folder acted on whose modification time is before `before_ms`, oldest name
    /// first; `deleted` is the Maildir `T` (trashed) flag.
    pub fn aged(&mut self, before_ms: i64) -> Result<Vec<Aged>> {
        self.scan()?;
        let mut out = Vec::new();
        for (name, path) in &self.files {
            let meta = match std::fs::metadata(path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("stat {}", path.display())),
            };
            let modified = meta
                .modified()
                .with_context(|| format!("read the time of {}", path.display()))?;
            let internal_ms = chrono::DateTime::<chrono::Utc>::from(modified).timestamp_millis();
            if internal_ms >= before_ms {
                continue;
            }
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            out.push(Aged {
                key: Key {
                    uid: 0,
                    name: name.clone(),
                },
                internal_ms,
                deleted: split_name(&file).1.contains('T'),
            });
        }
        Ok(out)
    }

    /// Removes the files of `names` from the folder acted on; one already gone is not an error.
    pub fn remove(&mut self, names: &[String]) -> Result<()> {
        // Where each file is now (its flags are part of its name).
        self.scan()?;
        for name in names {
            let Some(path) = self.files.remove(name) else {
                continue;
            };
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("remove {}", path.display())),
            }
        }
        Ok(())
    }
}
