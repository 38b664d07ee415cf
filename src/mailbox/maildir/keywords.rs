//! IMAP keywords (`$Ticket`, `$Privacy`) on Maildir, the way Dovecot keeps them so Dovecot reads ours
//! and we read its: each folder's directory holds `dovecot-keywords`, one `INDEX NAME` line per keyword,
//! and a message carries keyword INDEX as the letter `a` + INDEX in the info part of its file name, after
//! the system flags (`:2,FSab`). A folder has at most 26; a keyword past that is left off, with a warning.
//! Letters mean nothing outside their folder, so a copy or a move remaps them by name.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The keyword file Dovecot reads in each Maildir folder.
pub const FILE: &str = "dovecot-keywords";

const MAX: usize = 26;

/// One folder's keyword table: index → name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    dir: PathBuf,
    names: Vec<Option<String>>,
    changed: bool,
}

impl Keywords {
    /// Reads `dir/dovecot-keywords`; a missing file is an empty table.
    pub fn load(dir: &Path) -> Result<Keywords> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        let mut names = vec![None; MAX];
        for line in text.lines() {
            let Some((index, name)) = line.split_once(' ') else {
                continue;
            };
            if let Ok(i) = index.parse::<usize>()
                && i < MAX
                && !name.is_empty()
            {
                names[i] = Some(name.to_owned());
            }
        }
        Ok(Keywords {
            dir: dir.to_path_buf(),
            names,
            changed: false,
        })
    }

    /// The letter of keyword `name`, given the next free one when the folder does not know it yet.
    pub fn letter(&mut self, name: &str) -> Option<char> {
        let found = self
            .names
            .iter()
            .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)));
        let index = match found {
            Some(i) => i,
            None => {
                let Some(free) = self.names.iter().position(Option::is_none) else {
                    tracing::warn!(keyword = name, dir = %self.dir.display(), "folder has 26 keywords already: keyword left off");
                    return None;
                };
                self.names[free] = Some(name.to_owned());
                self.changed = true;
                free
            }
        };
        char::from_u32(u32::from(b'a') + u32::try_from(index).ok()?)
    }

    /// The letter of keyword `name` when the folder knows it (nothing is added).
    pub fn known(&self, name: &str) -> Option<char> {
        let index = self
            .names
            .iter()
            .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))?;
        char::from_u32(u32::from(b'a') + u32::try_from(index).ok()?)
    }

    /// The keyword a letter stands for here.
    pub fn name(&self, letter: char) -> Option<&str> {
        let index = (letter as usize).checked_sub('a' as usize)?;
        self.names.get(index)?.as_deref()
    }

    /// Writes the table if a keyword was added: aside, then renamed, so Dovecot never reads half of it.
    pub fn save(&mut self) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        let path = self.dir.join(FILE);
        let tmp = self.dir.join(format!(".{FILE}.tmp"));
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("write {}", tmp.display()))?;
        for (i, name) in self.names.iter().enumerate() {
            if let Some(name) = name {
                writeln!(f, "{i} {name}").with_context(|| format!("write {}", tmp.display()))?;
            }
        }
        f.sync_all()
            .with_context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
        self.changed = false;
        Ok(())
    }
}

/// Sorted, without repeats: system flags (upper case) come before keyword letters (lower case).
pub fn info(letters: impl IntoIterator<Item = char>) -> String {
    letters
        .into_iter()
        .collect::<BTreeSet<char>>()
        .into_iter()
        .collect()
}

/// The info part a message in `from`'s folder carries in `to`'s: system flags kept, keyword letters
/// translated by name (a letter `from` does not know is dropped).
pub fn remap(info_part: &str, from: &Keywords, to: &mut Keywords) -> String {
    info(info_part.chars().filter_map(|c| {
        if c.is_ascii_lowercase() {
            from.name(c).and_then(|name| to.letter(name))
        } else {
            Some(c)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_get_letters_that_survive_a_reload_and_remap_between_folders() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a)?;
        std::fs::create_dir_all(&b)?;
        std::fs::write(b.join(FILE), "0 $Privacy\n")?;
        let mut ka = Keywords::load(&a)?;
        assert_eq!(ka.letter("$Privacy"), Some('a'));
        assert_eq!(ka.letter("$Ticket"), Some('b'));
        assert_eq!(ka.letter("$ticket"), Some('b'));
        ka.save()?;
        assert_eq!(
            std::fs::read_to_string(a.join(FILE))?,
            "0 $Privacy\n1 $Ticket\n"
        );
        let ka = Keywords::load(&a)?;
        assert_eq!(ka.name('b'), Some("$Ticket"));
        let mut kb = Keywords::load(&b)?;
        assert_eq!(remap("SFb", &ka, &mut kb), "FSb");
        assert_eq!(kb.name('b'), Some("$Ticket"));
        assert_eq!(remap("Sa", &ka, &mut kb), "Sa");
        assert_eq!(remap("z", &ka, &mut kb), "");
        Ok(())
    }

    #[test]
    fn a_folder_holds_at_most_26_keywords() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let mut k = Keywords::load(dir.path())?;
        for i in 0..26 {
            assert!(k.letter(&format!("k{i}")).is_some());
        }
        assert_eq!(k.letter("one-too-many"), None);
        assert_eq!(k.letter("k25"), Some('z'));
        Ok(())
    }
}
