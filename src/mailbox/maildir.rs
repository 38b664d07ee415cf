//! The Maildir++ source, the embedded default: the top level is `INBOX`, folder `A/B` is the directory
//! `.A.B`. A message is known by the unique part of its file name (before `:2,`) plus its digest; moving
//! it renames the file into the target folder's `cur/`, carrying its flags in the `:2,` info part.
//! Keywords are kept as Dovecot keeps them (`dovecot-keywords`, letters `a`-`z`; see `keywords`). New
//! mail is noticed by watching `new/` and `cur/` (notify). It decides nothing about content.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use notify::Watcher as _;
use tokio::sync::mpsc;

use self::keywords::Keywords;
use super::Fetched;
use super::Op;

mod aged;
pub mod keywords;

/// A local Maildir++ tree.
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
    /// The folder scanned and acted on: the top level, or the quarantine while it is looked at.
    dir: PathBuf,
    /// Unique name → current path of the messages in `dir`, from the last scan.
    files: BTreeMap<String, PathBuf>,
}

/// The unique part of a Maildir file name and its flag letters (`1234.M5P6.host:2,FS` → (`1234.M5P6.host`, `FS`)).
pub fn split_name(file: &str) -> (&str, &str) {
    match file.split_once(":2,") {
        Some((unique, flags)) => (unique, flags),
        None => (file.split_once(':').map_or(file, |(u, _)| u), ""),
    }
}

/// The Maildir flag letter of an IMAP system flag; keywords have none.
pub fn flag_letter(flag: &str) -> Option<char> {
    match flag.to_ascii_lowercase().as_str() {
        "\\draft" => Some('D'),
        "\\flagged" => Some('F'),
        "\\answered" => Some('R'),
        "\\seen" => Some('S'),
        "\\deleted" => Some('T'),
        _ => None,
    }
}

/// The IMAP flags of an info part's letters: system flags by letter, keywords by this folder's table.
pub fn flag_names(letters: &str, keywords: &Keywords) -> Vec<String> {
    letters
        .chars()
        .filter_map(|c| match c {
            'D' => Some("\\Draft".to_owned()),
            'F' => Some("\\Flagged".to_owned()),
            'R' => Some("\\Answered".to_owned()),
            'S' => Some("\\Seen".to_owned()),
            'T' => Some("\\Deleted".to_owned()),
            c if c.is_ascii_lowercase() => keywords.name(c).map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// The flag letters of `old` plus those of `flags`, sorted and without repeats (the Maildir rule).
pub fn merge_flags(old: &str, flags: &[String]) -> String {
    let set: BTreeSet<char> = old
        .chars()
        .chain(flags.iter().filter_map(|f| flag_letter(f)))
        .collect();
    set.into_iter().collect()
}

/// The directory of folder `name` (Sieve name, `/` separator) under `root`.
pub fn folder_dir(root: &Path, name: &str) -> PathBuf {
    if name.eq_ignore_ascii_case("INBOX") {
        root.to_path_buf()
    } else {
        root.join(format!(".{}", name.replace('/', ".")))
    }
}

impl Maildir {
    pub fn open(root: &Path) -> Result<Maildir> {
        for sub in ["cur", "new", "tmp"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
            dir: root.to_path_buf(),
            files: BTreeMap::new(),
        })
    }

    /// A handle on the same directories that knows no files yet (its next scan finds them).
    pub fn detached(&self) -> Maildir {
        Maildir {
            root: self.root.clone(),
            dir: self.dir.clone(),
            files: BTreeMap::new(),
        }
    }

    /// Acts on folder `name` instead of the top level until [`Maildir::leave`]; false when it does not
    /// exist.
    pub fn enter(&mut self, name: &str) -> bool {
        let dir = folder_dir(&self.root, name);
        if !dir.join("cur").is_dir() {
            return false;
        }
        self.dir = dir;
        self.files.clear();
        true
    }

    /// Back to the top level.
    pub fn leave(&mut self) {
        self.dir = self.root.clone();
        self.files.clear();
    }

    /// The folders that exist (Sieve names), for `mailboxexists`.
    pub fn folders(&self) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::from(["INBOX".to_owned()]);
        let entries = std::fs::read_dir(&self.root)
            .with_context(|| format!("list {}", self.root.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(folder) = name.strip_prefix('.')
                && !folder.is_empty()
                && entry.path().join("cur").is_dir()
            {
                out.insert(folder.replace('.', "/"));
            }
        }
        Ok(out)
    }

    /// Rescans the folder acted on (the top level); returns every unique name there, oldest first.
    pub fn scan(&mut self) -> Result<Vec<String>> {
        self.files.clear();
        for sub in ["new", "cur"] {
            let dir = self.dir.join(sub);
            let entries =
                std::fs::read_dir(&dir).with_context(|| format!("list {}", dir.display()))?;
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if file.starts_with('.') {
                    continue;
                }
                let unique = split_name(&file).0.to_owned();
                self.files.insert(unique, entry.path());
            }
        }
        Ok(self.files.keys().cloned().collect())
    }

    /// Reads the messages named; one that vanished meanwhile is left out.
    pub fn fetch(&self, names: &[String]) -> Result<Vec<Fetched>> {
        let keywords = Keywords::load(&self.dir)?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let Some(path) = self.files.get(name) else {
                continue;
            };
            match std::fs::read(path) {
                Ok(raw) => out.push(Fetched {
                    uid: 0,
                    name: name.clone(),
                    raw,
                    flags: flag_names(&self.flags_of(name)?, &keywords),
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
            }
        }
        Ok(out)
    }

    /// Which of `names` are still in the top level.
    pub fn present(&mut self, names: &[String]) -> Result<BTreeSet<String>> {
        self.scan()?;
        Ok(names
            .iter()
            .filter(|n| self.files.contains_key(*n))
            .cloned()
            .collect())
    }

    /// Whether `folder` holds a file with this unique name (re-applying after a crash).
    pub fn folder_has(&self, folder: &str, name: &str) -> bool {
        self.find_in(folder, name).is_some()
    }

    fn find_in(&self, folder: &str, name: &str) -> Option<PathBuf> {
        let dir = folder_dir(&self.root, folder);
        ["cur", "new"].iter().find_map(|sub| {
            std::fs::read_dir(dir.join(sub)).ok()?.find_map(|e| {
                let e = e.ok()?;
                (split_name(&e.file_name().to_string_lossy()).0 == name).then(|| e.path())
            })
        })
    }

    /// Like [`Maildir::folder_has`]; a copy found gets its flags repaired: `want` added, `foreign`
    /// taken off (a copy made by an interrupted apply may carry the flags meant for another copy).
    pub fn repair_copy(
        &self,
        folder: &str,
        name: &str,
        want: &[String],
        foreign: &[String],
    ) -> Result<bool> {
        let Some(path) = self.find_in(folder, name) else {
            return Ok(false);
        };
        let dir = folder_dir(&self.root, folder);
        let mut kw = Keywords::load(&dir)?;
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut flags = flag_names(split_name(&file).1, &kw);
        flags.retain(|f| !foreign.iter().any(|x| x.eq_ignore_ascii_case(f)));
        for f in want {
            if !flags.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                flags.push(f.clone());
            }
        }
        let letters = keywords::info(flags.iter().filter_map(|f| {
            if f.starts_with('\\') {
                flag_letter(f)
            } else {
                kw.letter(f)
            }
        }));
        kw.save()?;
        if letters != split_name(&file).1 {
            let to = dir.join("cur").join(format!("{name}:2,{letters}"));
            std::fs::rename(&path, &to)
                .with_context(|| format!("repair the flags of {name} in {folder:?}"))?;
            tracing::info!(folder = %folder, "repaired the flags of a copy");
        }
        Ok(true)
    }

    /// Creates (and subscribes) every folder in `folders` that does not exist yet.
    pub fn ensure_folders<'a>(&self, folders: impl Iterator<Item = &'a str>) -> Result<()> {
        for folder in folders {
            let dir = folder_dir(&self.root, folder);
            if dir.join("cur").is_dir() {
                continue;
            }
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(dir.join(sub))
                    .with_context(|| format!("create folder {folder:?}"))?;
            }
            std::fs::File::create(dir.join("maildirfolder"))
                .with_context(|| format!("mark folder {folder:?}"))?;
            let mut subs = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.root.join("subscriptions"))
                .context("open subscriptions")?;
            writeln!(subs, "{folder}").context("subscribe folder")?;
            tracing::info!(folder = %folder, "created folder");
        }
        Ok(())
    }

    /// Carries out a batch's grouped operations, in order.
    pub fn apply(&mut self, ops: &[Op<String>]) -> Result<()> {
        for op in ops {
            match op {
                Op::Flag { flags, ids } => {
                    let mut kw = Keywords::load(&self.dir)?;
                    let added: Vec<char> = flags
                        .iter()
                        .filter(|f| !f.starts_with('\\'))
                        .filter_map(|f| kw.letter(f))
                        .collect();
                    // The names first, so a letter on a file always has its name in the table.
                    kw.save()?;
                    for name in ids {
                        self.flag(name, flags, &added)?;
                    }
                }
                Op::Unflag { flags, ids } => {
                    let kw = Keywords::load(&self.dir)?;
                    let keywords: Vec<char> = flags
                        .iter()
                        .filter(|f| !f.starts_with('\\'))
                        .filter_map(|f| kw.known(f))
                        .collect();
                    for name in ids {
                        self.unflag(name, flags, &keywords)?;
                    }
                }
                Op::Copy { folder, ids } => {
                    let from = Keywords::load(&self.dir)?;
                    let mut to = Keywords::load(&folder_dir(&self.root, folder))?;
                    let infos = self.remapped(ids, &from, &mut to)?;
                    for (name, info) in ids.iter().zip(&infos) {
                        self.copy(name, folder, info)?;
                    }
                }
                Op::Move { folder, ids } => {
                    let from = Keywords::load(&self.dir)?;
                    let mut to = Keywords::load(&folder_dir(&self.root, folder))?;
                    let infos = self.remapped(ids, &from, &mut to)?;
                    for (name, info) in ids.iter().zip(&infos) {
                        self.move_to(name, folder, info)?;
                    }
                }
                Op::Delete { ids } => {
                    for name in ids {
                        if let Some(path) = self.files.remove(name) {
                            std::fs::remove_file(&path)
                                .with_context(|| format!("delete {}", path.display()))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn path_of(&self, name: &str) -> Result<&PathBuf> {
        self.files
            .get(name)
            .with_context(|| format!("message {name} is no longer in the Maildir"))
    }

    /// Current flag letters of a message.
    fn flags_of(&self, name: &str) -> Result<String> {
        let path = self.path_of(name)?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        Ok(split_name(&file).1.to_owned())
    }

    /// The info parts `ids` carry in the target folder (keyword letters translated); saves its table.
    fn remapped(&self, ids: &[String], from: &Keywords, to: &mut Keywords) -> Result<Vec<String>> {
        let infos = ids
            .iter()
            .map(|name| Ok(keywords::remap(&self.flags_of(name)?, from, to)))
            .collect::<Result<Vec<_>>>()?;
        to.save()?;
        Ok(infos)
    }

    fn flag(&mut self, name: &str, flags: &[String], keywords: &[char]) -> Result<()> {
        let system = merge_flags(&self.flags_of(name)?, flags);
        let letters = keywords::info(system.chars().chain(keywords.iter().copied()));
        let from = self.path_of(name)?.clone();
        let to = self.dir.join("cur").join(format!("{name}:2,{letters}"));
        std::fs::rename(&from, &to).with_context(|| format!("flag {}", from.display()))?;
        self.files.insert(name.to_owned(), to);
        Ok(())
    }

    fn unflag(&mut self, name: &str, flags: &[String], keywords: &[char]) -> Result<()> {
        let drop: BTreeSet<char> = flags
            .iter()
            .filter_map(|f| flag_letter(f))
            .chain(keywords.iter().copied())
            .collect();
        let letters: String = self
            .flags_of(name)?
            .chars()
            .filter(|c| !drop.contains(c))
            .collect();
        let from = self.path_of(name)?.clone();
        let to = self.dir.join("cur").join(format!("{name}:2,{letters}"));
        std::fs::rename(&from, &to).with_context(|| format!("unflag {}", from.display()))?;
        self.files.insert(name.to_owned(), to);
        Ok(())
    }

    fn copy(&self, name: &str, folder: &str, info: &str) -> Result<()> {
        let from = self.path_of(name)?;
        let dir = folder_dir(&self.root, folder);
        let file = format!("{name}:2,{info}");
        let tmp = dir.join("tmp").join(&file);
        std::fs::copy(from, &tmp).with_context(|| format!("copy {name} to {folder:?}"))?;
        // The copy keeps the original's modification time: Dovecot reads it as the INTERNALDATE, and
        // the retention rules count a message's age from it.
        let modified = std::fs::metadata(from).and_then(|m| m.modified());
        let kept = modified.and_then(|t| {
            std::fs::File::options()
                .write(true)
                .open(&tmp)?
                .set_modified(t)
        });
        kept.with_context(|| format!("keep the time of {name} in {folder:?}"))?;
        std::fs::rename(&tmp, dir.join("cur").join(&file))
            .with_context(|| format!("copy {name} to {folder:?}"))?;
        Ok(())
    }

    fn move_to(&mut self, name: &str, folder: &str, info: &str) -> Result<()> {
        let from = self.path_of(name)?.clone();
        let file = format!("{name}:2,{info}");
        let to = folder_dir(&self.root, folder).join("cur").join(file);
        std::fs::rename(&from, &to).with_context(|| format!("move {name} to {folder:?}"))?;
        self.files.remove(name);
        Ok(())
    }

    /// Watches the top level's `new/` and `cur/`; a message on the channel means "look again". The
    /// watcher stops when dropped.
    pub fn watch(&self) -> Result<(notify::RecommendedWatcher, mpsc::Receiver<()>)> {
        let (tx, rx) = mpsc::channel(1);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok_and(|e| e.kind.is_create() || e.kind.is_modify()) {
                    // A full channel already holds a wake-up; one is enough.
                    tx.try_send(()).ok();
                }
            })
            .context("start the Maildir watcher")?;
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            watcher
                .watch(&dir, notify::RecursiveMode::NonRecursive)
                .with_context(|| format!("watch {}", dir.display()))?;
        }
        Ok((watcher, rx))
    }
}

#[cfg(test)]
#[path = "maildir_tests.rs"]
mod tests;
