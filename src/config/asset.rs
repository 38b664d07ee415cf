//! The `[[asset]]` tables: what changes hands when someone joins, leaves or takes over a role. Each asset
//! is the watched mailbox's IMAP folders (`imap-acl`, with RFC 4314 rights per role), a Mailman 3 list
//! (`mailman`, with the roles subscribed and the roles that post unmoderated), a checklist item a
//! person ticks (`manual`), or the `[mailbox]` account itself, reached with a shared password whose
//! rotation is ticked by hand (`imap-password`).
//!
//! Owns reading these keys only. Whether a role name exists and whether a rights string is valid RFC
//! 4314 is checked by the handover room, which knows roles and rights; this reports the TOML's shape.

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;
use super::value::Table;

/// What kind of thing an asset is, with its own keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetKind {
    /// Folders of the `[mailbox]` account, shared with members by IMAP ACLs.
    ImapAcl {
        /// `*` (the whole tree), a folder, or `Folder/*` (a folder and everything under it).
        folders: String,
        /// Role name (as written) to rights string (as written).
        rights: BTreeMap<String, String>,
    },
    /// A Mailman 3 list.
    Mailman {
        /// The posting address, as written.
        list: String,
        /// Roles whose members are subscribed.
        members: Vec<String>,
        /// Roles whose members post without moderation.
        post: Vec<String>,
    },
    /// A checklist item for a person to tick.
    Manual { roles: Vec<String> },
    /// The `[mailbox]` account, reached with a shared password: its rotation is a manual item.
    ImapPassword { roles: Vec<String> },
}

impl AssetKind {
    /// How the kind is written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            AssetKind::ImapAcl { .. } => "imap-acl",
            AssetKind::Mailman { .. } => "mailman",
            AssetKind::Manual { .. } => "manual",
            AssetKind::ImapPassword { .. } => "imap-password",
        }
    }
}

/// One `[[asset]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetConfig {
    pub name: String,
    pub kind: AssetKind,
    /// A handover of it needs a second person's confirmation.
    pub critical: bool,
    /// Its position in the file, for error keys (`asset[0].rights`).
    pub index: usize,
}

/// The key path of an asset's key, `asset[N].key`.
pub fn asset_key(index: usize, key: &str) -> String {
    format!("asset[{index}].{key}")
}

/// Reads every `[[asset]]`; problems are reported as `asset[N].key`.
pub(super) fn read_assets(
    root: &toml::Table,
    base: &Path,
    errors: &mut Vec<ConfigError>,
) -> Vec<AssetConfig> {
    let items = match root.get("asset") {
        None => return Vec::new(),
        Some(toml::Value::Array(items)) => items,
        Some(_) => {
            errors.push(ConfigError::new(
                "asset",
                "must be an array of tables, written [[asset]]",
            ));
            return Vec::new();
        }
    };
    let mut assets: Vec<AssetConfig> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let mut one = toml::Table::new();
        one.insert("asset".to_owned(), item.clone());
        let mut found = Vec::new();
        let asset = read_one(Table::new(&one, "asset", base, &mut found), index);
        for mut e in found {
            if let Some(rest) = e.key.strip_prefix("asset.") {
                e.key = asset_key(index, rest);
            } else if e.key == "asset" {
                e.key = format!("asset[{index}]");
            }
            errors.push(e);
        }
        if let Some(asset) = asset {
            if assets.iter().any(|a| a.name == asset.name) {
                errors.push(ConfigError::new(
                    asset_key(index, "name"),
                    format!("{:?} names another asset too", asset.name),
                ));
            } else {
                assets.push(asset);
            }
        }
    }
    assets
}

fn read_one(mut t: Table<'_>, index: usize) -> Option<AssetConfig> {
    let name = t.string("name").filter(|n| !n.trim().is_empty());
    if name.is_none() {
        t.error("name", "is required, e.g. \"mailbox:support\"");
    }
    let critical = t.bool_or("critical", false);
    let kind = match t.string("kind").as_deref() {
        Some("imap-acl") => imap_acl(&mut t),
        Some("mailman") => mailman(&mut t),
        Some("manual") => {
            let roles = t.strings_or("roles", &[]);
            if roles.is_empty() {
                t.error("roles", "a manual asset needs the roles that hold it");
            }
            Some(AssetKind::Manual { roles })
        }
        Some("imap-password") => {
            let roles = t.strings_or("roles", &[]);
            if roles.is_empty() {
                t.error(
                    "roles",
                    "an imap-password asset needs the roles that know the password",
                );
            }
            Some(AssetKind::ImapPassword { roles })
        }
        Some(other) => {
            t.error(
                "kind",
                format!(
                    "{other:?} is none of \"imap-acl\", \"mailman\", \"manual\", \"imap-password\""
                ),
            );
            None
        }
        None => {
            t.error(
                "kind",
                "is required: \"imap-acl\", \"mailman\", \"manual\" or \"imap-password\"",
            );
            None
        }
    };
    t.finish();
    Some(AssetConfig {
        name: name?,
        kind: kind?,
        critical,
        index,
    })
}

fn imap_acl(t: &mut Table<'_>) -> Option<AssetKind> {
    let folders = t.string_or("folders", "*");
    if folders.trim().is_empty() {
        t.error("folders", "is empty: use \"*\" for the whole tree");
    }
    let mut rights = BTreeMap::new();
    match t.subtable("rights") {
        Some(table) => {
            for (role, value) in table {
                match value.as_str() {
                    Some(text) => {
                        rights.insert(role.clone(), text.to_owned());
                    }
                    None => t.error(
                        &format!("rights.{role}"),
                        "expected a rights string such as \"lrswi\"",
                    ),
                }
            }
        }
        None => t.error(
            "rights",
            "is required for imap-acl, e.g. { se = \"lrswipkxte\" }",
        ),
    }
    Some(AssetKind::ImapAcl { folders, rights })
}

fn mailman(t: &mut Table<'_>) -> Option<AssetKind> {
    let list = t.string("list");
    if list.is_none() {
        t.error(
            "list",
            "is required for mailman, e.g. \"disputes@lists.example.org\"",
        );
    }
    let members = t.strings_or("members", &[]);
    if members.is_empty() {
        t.error(
            "members",
            "a mailman asset needs the roles that are members",
        );
    }
    let post = t.strings_or("post", &[]);
    for role in &post {
        if !members.contains(role) {
            t.error("post", format!("{role:?} may post but is not in members"));
        }
    }
    Some(AssetKind::Mailman {
        list: list?,
        members,
        post,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<AssetConfig>, Vec<ConfigError>) {
        let root: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}"));
        let mut errors = Vec::new();
        let assets = read_assets(&root, Path::new("/"), &mut errors);
        (assets, errors)
    }

    #[test]
    fn reads_the_four_kinds_as_written_in_the_readme() {
        let (assets, errors) = read(
            r#"
[[asset]]
name = "mailbox:support"
kind = "imap-acl"
folders = "*"
rights = { triage = "lrswi", se = "lrswipkxte", leader = "lrswipkxtea" }
critical = true

[[asset]]
name = "list:disputes"
kind = "mailman"
list = "disputes@lists.example.org"
members = ["se", "cm", "leader"]
post = ["se", "cm", "leader"]
critical = true

[[asset]]
name = "wiki:se-group"
kind = "manual"
roles = ["se", "leader"]

[[asset]]
name = "mailbox:shared"
kind = "imap-password"
roles = ["se", "leader"]
critical = true
"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(assets.len(), 4);
        assert!(assets[3].critical);
        assert_eq!(
            assets[3].kind,
            AssetKind::ImapPassword {
                roles: vec!["se".to_owned(), "leader".to_owned()]
            }
        );
        assert!(assets[0].critical && assets[1].critical && !assets[2].critical);
        match &assets[0].kind {
            AssetKind::ImapAcl { folders, rights } => {
                assert_eq!(folders, "*");
                assert_eq!(rights.get("se").map(String::as_str), Some("lrswipkxte"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(assets[1].kind.name(), "mailman");
        assert_eq!(assets[2].kind.name(), "manual");
    }

    #[test]
    fn every_problem_names_the_asset_and_key() {
        let (assets, errors) = read(
            r#"
[[asset]]
name = "a"
kind = "imap-acl"
colour = "red"

[[asset]]
name = "a"
kind = "manual"
roles = ["se"]

[[asset]]
kind = "mailman"
members = ["se"]
post = ["cm"]

[[asset]]
name = "b"
kind = "ldap"

[[asset]]
name = "c"
kind = "imap-password"
"#,
        );
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "asset[0].rights",
                "asset[0].colour",
                "asset[1].name",
                "asset[2].name",
                "asset[2].list",
                "asset[2].post",
                "asset[3].kind",
                "asset[4].roles"
            ],
            "{errors:?}"
        );
        assert_eq!(assets.len(), 2);
    }
}
