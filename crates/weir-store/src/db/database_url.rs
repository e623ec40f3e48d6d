//! Database URLs: which engine a URL names, and its password kept out of
//! `Debug`, `Display` and logs.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

use super::Backend;

/// Why a database URL was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidDatabaseUrl {
    /// Neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("database URL must start with sqlite:// or postgres:// (got scheme {0:?})")]
    Scheme(String),
    /// `sqlite://` without a file path.
    #[error("sqlite URL needs a file path, e.g. sqlite://./weir-data/weir.db")]
    MissingPath,
    /// Not a URL at all.
    #[error("database URL is not a valid URL")]
    Malformed,
}

/// A database URL whose password never reaches `Debug`, `Display` or logs.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: SecretString,
    backend: Backend,
    redacted: String,
}

impl DatabaseUrl {
    /// Parses and classifies a URL.
    pub fn parse(s: &str) -> Result<Self, InvalidDatabaseUrl> {
        let s = s.trim();
        let (scheme, _) = s.split_once(':').ok_or(InvalidDatabaseUrl::Malformed)?;
        let backend = match scheme {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            other => return Err(InvalidDatabaseUrl::Scheme(other.to_owned())),
        };
        let redacted = match backend {
            Backend::Sqlite => {
                let path = sqlite_path_of(s);
                if path.as_os_str().is_empty() {
                    return Err(InvalidDatabaseUrl::MissingPath);
                }
                s.to_owned()
            }
            Backend::Postgres => {
                let u = url::Url::parse(s).map_err(|_| InvalidDatabaseUrl::Malformed)?;
                weir_core::redact::redact_password(&u)
            }
        };
        Ok(Self { url: SecretString::from(s.to_owned()), backend, redacted })
    }

    /// Which engine the URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password replaced by `REDACTED`: safe to log.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// For SQLite, the database file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.backend == Backend::Sqlite).then(|| sqlite_path_of(self.url.expose_secret()))
    }

    /// The full URL, for the driver only.
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }
}

/// A PostgreSQL URL without its password, and the password (percent-decoded).
/// Other URLs are returned as they are.
pub(super) fn split_password(raw: &str) -> (String, Option<String>) {
    let Ok(mut parsed) = url::Url::parse(raw) else { return (raw.to_owned(), None) };
    let Some(password) =
        parsed.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
    else {
        return (raw.to_owned(), None);
    };
    if parsed.set_password(None).is_err() {
        return (raw.to_owned(), None);
    }
    (parsed.to_string(), Some(password))
}

fn sqlite_path_of(s: &str) -> PathBuf {
    let rest = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")).unwrap_or("");
    let path = rest.split('?').next().unwrap_or("");
    PathBuf::from(path)
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_password_is_redacted() {
        let u = DatabaseUrl::parse("postgres://weir:s3cret@db.example:5432/weir").unwrap();
        assert_eq!(u.backend(), Backend::Postgres);
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(!u.to_string().contains("s3cret"));
        assert!(u.redacted().contains("REDACTED"));
        assert_eq!(u.expose(), "postgres://weir:s3cret@db.example:5432/weir");
    }

    #[test]
    fn the_password_goes_to_the_driver_not_the_url() {
        let (url, password) = split_password("postgres://weir:p%40ss+w%2Frd@db.example:5432/weir?sslmode=disable");
        assert_eq!(url, "postgres://weir@db.example:5432/weir?sslmode=disable");
        assert_eq!(password.as_deref(), Some("p@ss+w/rd"));
        assert_eq!(split_password("postgres://weir@db/weir"), ("postgres://weir@db/weir".to_owned(), None));
        assert_eq!(split_password("sqlite://./weir.db").1, None);
    }

    #[test]
    fn sqlite_paths_and_bad_schemes() {
        let u = DatabaseUrl::parse("sqlite://./weir-data/weir.db?mode=rwc").unwrap();
        assert_eq!(u.sqlite_path().unwrap(), PathBuf::from("./weir-data/weir.db"));
        assert_eq!(DatabaseUrl::parse("mysql://x").unwrap_err(), InvalidDatabaseUrl::Scheme("mysql".into()));
        assert_eq!(DatabaseUrl::parse("sqlite://").unwrap_err(), InvalidDatabaseUrl::MissingPath);
        assert_eq!(DatabaseUrl::parse("nothing").unwrap_err(), InvalidDatabaseUrl::Malformed);
    }
}
