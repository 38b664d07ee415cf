//! The `[mailman]` table: where Mailman 3's REST API (version 3.1) is and the account triaged uses on it.
//! The table's presence turns the mailing-list work on. The password comes only from `password_file` or
//! `password_env`; a URL with credentials in it is refused, and plain `http://` is allowed only to a
//! loopback host, since every request carries the password (Mailman's REST API listens on localhost
//! unless told otherwise).

use ::url::Url;

use super::Secret;
use super::url::is_loopback;
use super::value::Table;

/// How to reach Mailman's REST API.
#[derive(Debug, Clone)]
pub struct MailmanConfig {
    /// The API's base, ending in `/3.1` (no trailing slash): `http://127.0.0.1:8001/3.1`.
    pub url: Url,
    /// The REST admin user (Mailman's `[webservice] admin_user`).
    pub user: String,
    pub password: Secret,
}

pub(super) fn read_mailman(mut t: Table<'_>) -> Option<MailmanConfig> {
    if !t.present() {
        return None;
    }
    let url = match t.string("url") {
        Some(text) => api_url(&mut t, &text),
        None => {
            t.error("url", "is required in [mailman]");
            None
        }
    };
    let user = t.string("user");
    if user.as_deref().is_none_or(str::is_empty) {
        t.error("user", "is required in [mailman]");
    }
    let password = t.secret("password_file", "password_env");
    if password.is_none()
        && !t
            .errors
            .iter()
            .any(|e| e.key.starts_with("mailman.password"))
    {
        t.error(
            "password_file",
            "[mailman] needs password_file or password_env",
        );
    }
    t.finish();
    Some(MailmanConfig {
        url: url?,
        user: user.filter(|u| !u.is_empty())?,
        password: password?,
    })
}

/// Checks the REST API URL; every problem is reported under `mailman.url`.
fn api_url(t: &mut Table<'_>, text: &str) -> Option<Url> {
    let mut url = match Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            t.error("url", format!("{text:?} is not a URL: {e}"));
            return None;
        }
    };
    let problem = match url.scheme() {
        _ if !url.username().is_empty() || url.password().is_some() => {
            Some("must not hold credentials: use user and password_file or password_env".to_owned())
        }
        _ if url.query().is_some() || url.fragment().is_some() => {
            Some("must not have a query or fragment".to_owned())
        }
        "https" => None,
        "http" => match url.host_str() {
            Some(host) if is_loopback(host) => None,
            host => Some(format!(
                "http:// is allowed only to a loopback host, not {:?}: use https://",
                host.unwrap_or("")
            )),
        },
        other => Some(format!("{other}: is neither http: nor https:")),
    };
    let problem = problem.or_else(|| {
        (!url.path().trim_end_matches('/').ends_with("/3.1"))
            .then(|| format!("{text:?} must end with the API version, /3.1"))
    });
    if let Some(problem) = problem {
        t.error("url", problem);
        return None;
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Some(url)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::ConfigError;
    use super::*;

    fn read(text: &str) -> (Option<MailmanConfig>, Vec<ConfigError>) {
        let root: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}"));
        let mut errors = Vec::new();
        let config = read_mailman(Table::new(&root, "mailman", Path::new("/"), &mut errors));
        (config, errors)
    }

    fn keys(errors: &[ConfigError]) -> Vec<&str> {
        errors.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn absent_table_means_no_mailman() {
        let (config, errors) = read("");
        assert!(config.is_none());
        assert!(errors.is_empty());
    }

    #[test]
    fn reads_the_password_from_the_named_environment_variable() -> anyhow::Result<()> {
        // Setting a variable needs unsafe code under edition 2024; PATH is always set.
        let (config, errors) = read(
            "[mailman]\nurl = \"http://localhost:8001/3.1\"\nuser = \"restadmin\"\n\
             password_env = \"PATH\"\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let config = config.ok_or_else(|| anyhow::anyhow!("no config"))?;
        assert_eq!(config.password.expose(), std::env::var("PATH")?);

        let unset = "TRIAGED_TEST_MAILMAN_PASSWORD_NEVER_SET";
        let (config, errors) = read(&format!(
            "[mailman]\nurl = \"http://[::1]:8001/3.1\"\nuser = \"restadmin\"\n\
             password_env = \"{unset}\"\n"
        ));
        assert!(config.is_none());
        assert_eq!(keys(&errors), ["mailman.password_env"]);
        assert!(errors[0].message.contains(unset), "{errors:?}");
        Ok(())
    }

    #[test]
    fn reads_a_password_file_and_trims_the_slash() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("mailman.pw");
        std::fs::write(&file, "s3cret\n")?;
        let (config, errors) = read(&format!(
            "[mailman]\nurl = \"https://lists.example.org/rest/3.1/\"\nuser = \"restadmin\"\n\
             password_file = \"{}\"\n",
            file.display()
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let config = config.ok_or_else(|| anyhow::anyhow!("no config"))?;
        assert_eq!(config.url.as_str(), "https://lists.example.org/rest/3.1");
        assert_eq!(config.user, "restadmin");
        assert_eq!(config.password.expose(), "s3cret");
        assert!(!format!("{config:?}").contains("s3cret"));
        Ok(())
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        for (url, why) in [
            ("http://lists.example.org/3.1", "loopback"),
            ("http://restadmin:pw@127.0.0.1:8001/3.1", "credentials"),
            ("http://127.0.0.1:8001/3.0", "/3.1"),
            ("http://127.0.0.1:8001/", "/3.1"),
            ("ftp://127.0.0.1/3.1", "neither"),
            ("http://127.0.0.1:8001/3.1?x=1", "query"),
            ("127.0.0.1:8001", "not a URL"),
        ] {
            let (config, errors) = read(&format!("[mailman]\nurl = \"{url}\"\n"));
            assert!(config.is_none());
            assert_eq!(
                keys(&errors),
                ["mailman.url", "mailman.user", "mailman.password_file"],
                "{url}: {errors:?}"
            );
            assert!(
                errors[0].message.contains(why),
                "{url}: {}",
                errors[0].message
            );
        }
        let (_, errors) = read("[mailman]\nuser = \"\"\npasswd = \"x\"\n");
        assert_eq!(
            keys(&errors),
            [
                "mailman.url",
                "mailman.user",
                "mailman.password_file",
                "mailman.passwd"
            ]
        );
    }
}
