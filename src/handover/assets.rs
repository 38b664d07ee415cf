//! The `[[asset]]` tables checked: role names known, rights valid RFC 4314, list addresses valid, the
//! Mailman table present when a list is, an IMAP `[mailbox]` for the IMAP kinds. What each role is
//! granted on each asset.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{AssetKind, Config, ConfigError, ConfigErrors, asset_key};
use crate::lists::{Action, ListAddress};
use crate::mailbox::imap::acl::Rights;
use crate::team::Role;

/// What kind of asset, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Folders of the `[mailbox]` account.
    Imap {
        /// `*`, a folder, or `Folder/*`.
        folders: String,
        rights: BTreeMap<Role, Rights>,
    },
    /// A Mailman 3 list.
    List {
        list: ListAddress,
        members: BTreeSet<Role>,
        post: BTreeSet<Role>,
    },
    /// A checklist item a person ticks.
    Manual { roles: BTreeSet<Role> },
    /// The `[mailbox]` account, reached with a shared password: a handover of it holds the manual item
    /// [`ROTATE`], and ticking it checks that triaged's own login still works.
    Password { roles: BTreeSet<Role> },
}

/// The manual item a handover of an `imap-password` asset holds.
pub const ROTATE: &str = "rotate the password";

/// One asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub name: String,
    pub critical: bool,
    pub kind: Kind,
}

/// What a person holds on one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Imap(Rights),
    /// A list member with this moderation action (`accept`: post-capable; `hold`: moderated).
    List(Action),
    Manual,
    /// Knows the shared password; handing it over means rotating it.
    Password,
}

impl Grant {
    /// How the grant is stored with a handover's asset.
    pub fn text(&self) -> String {
        match self {
            Grant::Imap(r) => r.to_string(),
            Grant::List(a) => a.as_str().to_owned(),
            Grant::Manual => String::new(),
            Grant::Password => ROTATE.to_owned(),
        }
    }

    /// Both grants together: the union of rights, `accept` over `hold`.
    pub fn union(&self, other: &Grant) -> Grant {
        match (self, other) {
            (Grant::Imap(a), Grant::Imap(b)) => Grant::Imap(a.union(b)),
            (Grant::List(Action::Accept), _) | (_, Grant::List(Action::Accept)) => {
                Grant::List(Action::Accept)
            }
            _ => self.clone(),
        }
    }
}

impl Asset {
    /// The kind as the config writes it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Imap { .. } => "imap-acl",
            Kind::List { .. } => "mailman",
            Kind::Manual { .. } => "manual",
            Kind::Password { .. } => "imap-password",
        }
    }

    /// Whether a person does the asset's handover by hand and ticks it (`manual`, `imap-password`).
    pub fn is_manual(&self) -> bool {
        matches!(self.kind, Kind::Manual { .. } | Kind::Password { .. })
    }

    /// What holding `roles` grants on this asset, if anything.
    pub fn grant_for(&self, roles: &[Role]) -> Option<Grant> {
        match &self.kind {
            Kind::Imap { rights, .. } => {
                let mut all: Option<Rights> = None;
                for r in roles.iter().filter_map(|r| rights.get(r)) {
                    all = Some(all.map_or_else(|| r.clone(), |a| a.union(r)));
                }
                all.map(Grant::Imap)
            }
            Kind::List { members, post, .. } => {
                if roles.iter().any(|r| post.contains(r)) {
                    Some(Grant::List(Action::Accept))
                } else if roles.iter().any(|r| members.contains(r)) {
                    Some(Grant::List(Action::Hold))
                } else {
                    None
                }
            }
            Kind::Manual { roles: holders } => roles
                .iter()
                .any(|r| holders.contains(r))
                .then_some(Grant::Manual),
            Kind::Password { roles: holders } => roles
                .iter()
                .any(|r| holders.contains(r))
                .then_some(Grant::Password),
        }
    }

    /// A grant stored with a handover, read back.
    pub fn grant_from(&self, text: &str) -> Grant {
        match &self.kind {
            Kind::Imap { .. } => Grant::Imap(text.parse().unwrap_or_default()),
            Kind::List { .. } => Grant::List(text.parse().unwrap_or(Action::Hold)),
            Kind::Manual { .. } => Grant::Manual,
            Kind::Password { .. } => Grant::Password,
        }
    }

    /// Whether the IMAP folder (Sieve name) belongs to this asset.
    pub fn covers(&self, folder: &str) -> bool {
        let Kind::Imap { folders, .. } = &self.kind else {
            return false;
        };
        match folders.strip_suffix("/*") {
            _ if folders == "*" => true,
            Some(prefix) => folder == prefix || folder.starts_with(&format!("{prefix}/")),
            None => folder == folders,
        }
    }
}

/// Every asset, in config order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assets(pub Vec<Asset>);

impl Assets {
    /// Checks the `[[asset]]` tables, reporting every problem with its key.
    pub fn load(config: &Config) -> Result<Assets, ConfigErrors> {
        let mut errors = Vec::new();
        let mut assets = Vec::new();
        for a in &config.assets {
            let key = |k: &str| asset_key(a.index, k);
            let roles = |names: &[String], k: &str, errors: &mut Vec<ConfigError>| {
                let mut out = BTreeSet::new();
                for n in names {
                    match n.parse::<Role>() {
                        Ok(r) => {
                            out.insert(r);
                        }
                        Err(e) => errors.push(ConfigError::new(key(k), e.to_string())),
                    }
                }
                out
            };
            let kind = match &a.kind {
                AssetKind::ImapAcl { folders, rights } => {
                    let mut checked = BTreeMap::new();
                    for (role, text) in rights {
                        let k = key(&format!("rights.{role}"));
                        match (role.parse::<Role>(), text.parse::<Rights>()) {
                            (Ok(r), Ok(set)) if !set.is_empty() => {
                                checked.insert(r, set);
                            }
                            (Ok(_), Ok(_)) => errors.push(ConfigError::new(k, "no rights")),
                            (Err(e), _) => errors.push(ConfigError::new(k, e.to_string())),
                            (_, Err(e)) => errors.push(ConfigError::new(k, e.to_string())),
                        }
                    }
                    if config.mailbox_is_maildir() {
                        errors.push(ConfigError::new(
                            key("kind"),
                            "imap-acl needs an IMAP [mailbox], not a Maildir",
                        ));
                    }
                    Kind::Imap {
                        folders: folders.clone(),
                        rights: checked,
                    }
                }
                AssetKind::Mailman {
                    list,
                    members,
                    post,
                } => {
                    if config.mailman.is_none() {
                        errors.push(ConfigError::new(
                            key("kind"),
                            "a mailman asset needs the [mailman] table",
                        ));
                    }
                    let list = match list.parse::<ListAddress>() {
                        Ok(l) => Some(l),
                        Err(e) => {
                            errors.push(ConfigError::new(key("list"), e));
                            None
                        }
                    };
                    let members = roles(members, "members", &mut errors);
                    let post = roles(post, "post", &mut errors);
                    match list {
                        Some(list) => Kind::List {
                            list,
                            members,
                            post,
                        },
                        None => continue,
                    }
                }
                AssetKind::Manual { roles: names } => Kind::Manual {
                    roles: roles(names, "roles", &mut errors),
                },
                AssetKind::ImapPassword { roles: names } => {
                    if config.mailbox_is_maildir() {
                        errors.push(ConfigError::new(
                            key("kind"),
                            "imap-password needs an IMAP [mailbox], not a Maildir",
                        ));
                    }
                    Kind::Password {
                        roles: roles(names, "roles", &mut errors),
                    }
                }
            };
            assets.push(Asset {
                name: a.name.clone(),
                critical: a.critical,
                kind,
            });
        }
        if errors.is_empty() {
            Ok(Assets(assets))
        } else {
            Err(ConfigErrors {
                file: config.file.clone(),
                errors,
            })
        }
    }

    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.0.iter().find(|a| a.name == name)
    }

    /// Every asset's name, for messages.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|a| a.name.clone()).collect()
    }
}
