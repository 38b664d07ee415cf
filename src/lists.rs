//! Mailing lists: who is subscribed and who may post without moderation, read and changed through
//! Mailman 3's REST API ([`mailman::Mailman`]). It knows lists, addresses and moderation actions, and
//! nothing about roles or about who should be on which list: callers decide, this module carries it out
//! and reports what the list says.

pub mod mailman;

use std::fmt;
use std::str::FromStr;

use lettre::Address;

pub use self::mailman::Mailman;

/// A list, named by its posting address (`disputes@lists.example.org`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListAddress(String);

impl ListAddress {
    /// Mailman's list id: the posting address with `@` turned into `.` (`disputes.lists.example.org`).
    pub fn list_id(&self) -> String {
        self.0.replacen('@', ".", 1)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ListAddress {
    type Err = String;

    /// Mailman keeps list names in lower case; the address is compared that way too.
    fn from_str(text: &str) -> Result<ListAddress, String> {
        let address: Address = text
            .parse()
            .map_err(|e| format!("{text:?} is not a list address: {e}"))?;
        Ok(ListAddress(address.to_string().to_lowercase()))
    }
}

impl fmt::Display for ListAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What Mailman does with a member's post: its moderation action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Posted without moderation: the member is "post-capable".
    Accept,
    /// Held for a moderator: the member is moderated.
    Hold,
    /// Refused with a notice to the sender.
    Reject,
    /// Dropped silently.
    Discard,
    /// No decision here: the post goes on to the list's other checks. Mailman's default for members;
    /// it is not moderation.
    Defer,
}

impl Action {
    /// The name Mailman's REST API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Hold => "hold",
            Action::Reject => "reject",
            Action::Discard => "discard",
            Action::Defer => "defer",
        }
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(text: &str) -> Result<Action, String> {
        match text {
            "accept" => Ok(Action::Accept),
            "hold" => Ok(Action::Hold),
            "reject" => Ok(Action::Reject),
            "discard" => Ok(Action::Discard),
            "defer" => Ok(Action::Defer),
            other => Err(format!("{other:?} is not a moderation action")),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscriber of a list (role `member`; owners and moderators are not members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The subscribed address, as Mailman reports it (lower case).
    pub address: String,
    /// Empty when none was given.
    pub display_name: String,
    /// The member's own moderation action; `None` means the list's default member action applies
    /// (see [`Mailman::default_action`]).
    pub moderation: Option<Action>,
}

/// What [`Mailman::subscribe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    Added,
    /// The address was subscribed already; nothing changed.
    AlreadyMember,
}

/// What [`Mailman::unsubscribe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribed {
    Removed,
    /// The address was not subscribed; nothing changed.
    NotMember,
}

/// What a list operation was about, for error messages: the list, and the address when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub list: ListAddress,
    pub address: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.address {
            Some(address) => write!(f, "{address} on list {}", self.list),
            None => write!(f, "list {}", self.list),
        }
    }
}

/// Why a list operation failed. Callers branch on it: [`ListError::is_transient`] errors are worth
/// trying again later; the others need a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// No answer, a broken connection, a timeout, or a 5xx from Mailman.
    #[error("{target}: Mailman is unreachable (try again later): {reason}")]
    Unreachable { target: Target, reason: String },
    /// Mailman answered and refused: bad credentials (401), a banned address, an invalid request.
    #[error("{target}: Mailman refused ({status}): {reason}")]
    Refused {
        target: Target,
        status: u16,
        reason: String,
    },
    #[error("{list}: no such list on Mailman")]
    NoSuchList { list: ListAddress },
    #[error("{target}: not a member")]
    NotMember { target: Target },
    /// Mailman answered with something this client cannot read (another API version?).
    #[error("{target}: unexpected answer from Mailman: {reason}")]
    Unexpected { target: Target, reason: String },
}

impl ListError {
    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, ListError::Unreachable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_addresses_give_mailmans_list_id() -> Result<(), String> {
        let list: ListAddress = "Disputes@Lists.Example.org".parse()?;
        assert_eq!(list.as_str(), "disputes@lists.example.org");
        assert_eq!(list.list_id(), "disputes.lists.example.org");
        assert!("disputes".parse::<ListAddress>().is_err());
        assert!("a b@lists.example.org".parse::<ListAddress>().is_err());
        Ok(())
    }

    #[test]
    fn actions_round_trip_through_their_rest_names() {
        for action in [
            Action::Accept,
            Action::Hold,
            Action::Reject,
            Action::Discard,
            Action::Defer,
        ] {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
        }
        assert!("moderate".parse::<Action>().is_err());
        assert!("".parse::<Action>().is_err());
    }

    #[test]
    fn errors_name_list_and_address_and_say_whether_to_retry() -> Result<(), String> {
        let target = Target {
            list: "se@lists.example.org".parse()?,
            address: Some("alice@example.org".to_owned()),
        };
        let down = ListError::Unreachable {
            target: target.clone(),
            reason: "connection refused".to_owned(),
        };
        assert!(down.is_transient());
        assert_eq!(
            down.to_string(),
            "alice@example.org on list se@lists.example.org: Mailman is unreachable (try again \
             later): connection refused"
        );
        let refused = ListError::Refused {
            target,
            status: 401,
            reason: "Unauthorized".to_owned(),
        };
        assert!(!refused.is_transient());
        assert!(refused.to_string().contains("(401)"));
        Ok(())
    }
}
