//! Tenant identity: the slug a tenant is addressed by and its display name.

use std::fmt;

use thiserror::Error;

/// Why a slug was refused.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("must be 2 to 63 characters: lowercase letters, digits, '-' or '_', starting with a letter or digit")]
pub struct InvalidSlug;

/// Whether `s` is a slug: `[a-z0-9][a-z0-9_-]{1,62}`. The same rule names
/// tenants and connector codes.
pub fn is_slug(s: &str) -> bool {
    let bytes = s.as_bytes();
    (2..=63).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes[1..].iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

/// A tenant's slug, unique across the installation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Accepts only slugs (see [`is_slug`]).
    pub fn parse(s: &str) -> Result<Self, InvalidSlug> {
        if is_slug(s) { Ok(Self(s.to_owned())) } else { Err(InvalidSlug) }
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a display name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidName {
    /// Empty after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than the limit.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// Contains control characters.
    #[error("must not contain control characters")]
    Control,
}

/// Trims and checks a human-readable name of at most `max` characters.
pub fn parse_display_name(s: &str, max: usize) -> Result<String, InvalidName> {
    let t = s.trim();
    if t.is_empty() {
        return Err(InvalidName::Empty);
    }
    if t.chars().count() > max {
        return Err(InvalidName::TooLong(max));
    }
    if t.chars().any(char::is_control) {
        return Err(InvalidName::Control);
    }
    Ok(t.to_owned())
}

/// A tenant's display name: 1 to 200 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    /// Trims and checks the name.
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        parse_display_name(s, 200).map(Self)
    }

    /// The name text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["ab", "acme", "acme-eu_1", "0x", &"a".repeat(63)] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "-ab", "_ab", "Acme", "ac me", "acmé", "a/b", &"a".repeat(64)] {
            assert_eq!(TenantSlug::parse(bad), Err(InvalidSlug), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(TenantName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert_eq!(TenantName::parse("   "), Err(InvalidName::Empty));
        assert_eq!(TenantName::parse(&"x".repeat(201)), Err(InvalidName::TooLong(200)));
        assert_eq!(TenantName::parse("a\u{0}b"), Err(InvalidName::Control));
    }
}
