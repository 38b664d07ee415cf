//! SQLite stays single-worker: `run` holds an exclusive `flock` on a file beside the database
//! (`DB.worker-lock`) for as long as it runs, and a second `run` on the same store is refused with a
//! message naming the process that holds it. The kernel drops the lock when the process dies, however
//! it dies, so there is no stale PID file to clean up. PostgreSQL needs no such lock: its workers share
//! the mailboxes through leases.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::store::{Backend, Store};

/// Held for as long as the worker runs; dropping it unlocks.
#[derive(Debug)]
pub(super) struct Single {
    _file: Option<File>,
}

/// Takes the lock for a SQLite store, or fails when another worker holds it.
pub(super) fn lock(store: &Store, url: &str) -> Result<Single> {
    if store.backend() != Backend::Sqlite {
        return Ok(Single { _file: None });
    }
    let Some(db) = crate::store::sqlite_path(url) else {
        return Ok(Single { _file: None }); // an in-memory database is this process's alone
    };
    let mut path = db.clone().into_os_string();
    path.push(".worker-lock");
    let path = PathBuf::from(path);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("open the worker lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            anyhow::bail!(
                "another `triaged run` ({}) is already using the SQLite store {}: a SQLite store \
                 has one worker; stop it first, or use a PostgreSQL store to run several workers",
                holder.trim(),
                db.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("lock {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "pid {}", std::process::id())?;
    Ok(Single { _file: Some(file) })
}
