//! People: a user's email (unique per tenant, compared case-insensitively),
//! display name, and password — the policy a new password must meet and
//! its Argon2id hash.
//!
//! Hashing and verifying are deliberately slow (tens of milliseconds of
//! CPU): callers on an async runtime run them on a blocking thread.

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;

/// Argon2id memory cost in KiB (19 MiB), time cost 2, parallelism 1: the
/// OWASP Password Storage Cheat Sheet's first recommended configuration.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes over memory.
pub const ARGON2_TIME_COST: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_PARALLELISM: u32 = 1;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in bytes (a bound on hashing and checking work).
pub const MAX_PASSWORD_BYTES: usize = 256;
/// Characters of a password that the strength estimate looks at (its cost
/// grows quickly with length; a longer password is strong by its length).
const STRENGTH_CHARS: usize = 64;

/// Why an email, name or password was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UserInputError {
    /// Not of the form `local@domain`, or too long.
    #[error("must be an email address (local@domain, at most 320 characters)")]
    Email,
    /// Empty, too long, or with control characters.
    #[error("must be 1 to 200 characters, without control characters")]
    Name,
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("must be at least 12 characters")]
    PasswordTooShort,
    /// Longer than [`MAX_PASSWORD_BYTES`].
    #[error("must be at most 256 bytes")]
    PasswordTooLong,
    /// Common, or easily guessed from the account's own name or email.
    #[error("is too easy to guess{0}")]
    PasswordWeak(String),
}

/// A user's email as given (shown as entered) with its comparison key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    given: String,
    key: String,
}

impl Email {
    /// Trims and checks the shape (one `@`, non-empty local part and a
    /// dotted domain, no spaces or control characters, ≤ 320 bytes).
    pub fn parse(s: &str) -> Result<Self, UserInputError> {
        let given = s.trim();
        let ok_chars = given.chars().all(|c| !c.is_whitespace() && !c.is_control());
        let Some((local, domain)) = given.split_once('@') else { return Err(UserInputError::Email) };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !domain.contains("..");
        if given.len() > 320 || !ok_chars || local.is_empty() || !domain_ok {
            return Err(UserInputError::Email);
        }
        Ok(Self { given: given.to_owned(), key: given.to_lowercase() })
    }

    /// As entered (trimmed).
    pub fn as_str(&self) -> &str {
        &self.given
    }

    /// Lower-cased: what uniqueness and sign-in compare.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The part after `@`, lower-cased (allowed-domain checks).
    pub fn domain(&self) -> &str {
        self.key.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

/// A display name: 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// Trims and checks.
    pub fn parse(s: &str) -> Result<Self, UserInputError> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
            return Err(UserInputError::Name);
        }
        Ok(Self(t.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy: at least [`MIN_PASSWORD_CHARS`]
/// characters, at most [`MAX_PASSWORD_BYTES`] bytes, and not guessable —
/// zxcvbn's estimate (its bundled lists of common passwords, names and
/// words, keyboard patterns, and the account's own email and name) must
/// need more than 10^10 guesses (score 4 of 4 is not required; 3 is).
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

impl NewPassword {
    /// Checks `password` for the account named by `hints` (email, name).
    pub fn parse(password: &str, hints: &[&str]) -> Result<Self, UserInputError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(UserInputError::PasswordTooLong);
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(UserInputError::PasswordTooShort);
        }
        let head: String = password.chars().take(STRENGTH_CHARS).collect();
        let estimate = zxcvbn::zxcvbn(&head, hints);
        if (estimate.score() as u8) < 3 {
            let warning = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(": {w}")).unwrap_or_default();
            return Err(UserInputError::PasswordWeak(warning));
        }
        Ok(Self(password.to_owned()))
    }

    /// Hashes it (Argon2id, a fresh random salt) into a PHC string.
    pub fn hash(&self) -> Result<String, PasswordError> {
        let hash = hasher()?.hash_password(self.0.as_bytes()).map_err(|_| PasswordError::Hashing)?;
        Ok(hash.to_string())
    }
}

/// Hashing failed (the parameters or the random source); not a user error.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PasswordError {
    /// The hasher could not run.
    #[error("password hashing failed")]
    Hashing,
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM, None)
        .map_err(|_| PasswordError::Hashing)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Whether `presented` matches the stored PHC string. A malformed stored
/// hash never matches. Inputs over [`MAX_PASSWORD_BYTES`] never match
/// (and are not hashed).
pub fn verify_password(presented: &str, stored: &str) -> bool {
    if presented.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let (Ok(parsed), Ok(h)) = (PasswordHash::new(stored), hasher()) else { return false };
    h.verify_password(presented.as_bytes(), &parsed).is_ok()
}

/// A stored hash of a random password, verified when the account does not
/// exist or has no password, so that a sign-in costs the same either way
/// (the answer's timing does not tell whether the email exists).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let random = crate::ids::random_key(24);
        hasher().ok().and_then(|h| h.hash_password(random.as_bytes()).ok()).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_compare_case_insensitively_and_keep_their_spelling() {
        let e = Email::parse("  Ann.Lee@Acme.Example ").unwrap();
        assert_eq!(e.as_str(), "Ann.Lee@Acme.Example");
        assert_eq!(e.key(), "ann.lee@acme.example");
        assert_eq!(e.domain(), "acme.example");
        for bad in ["", "ann", "@acme.example", "ann@", "ann@acme", "a b@c.d", "ann@.acme.example", "a@b..c"] {
            assert_eq!(Email::parse(bad), Err(UserInputError::Email), "{bad:?}");
        }
    }

    #[test]
    fn the_password_policy_refuses_short_common_and_personal_passwords() {
        assert!(matches!(NewPassword::parse("short", &[]), Err(UserInputError::PasswordTooShort)));
        assert!(matches!(NewPassword::parse(&"x".repeat(257), &[]), Err(UserInputError::PasswordTooLong)));
        for weak in ["password1234", "qwertyuiop123", "123456789012", "aaaaaaaaaaaa"] {
            assert!(matches!(NewPassword::parse(weak, &[]), Err(UserInputError::PasswordWeak(_))), "{weak}");
        }
        assert!(
            matches!(
                NewPassword::parse("annlee@acme.example", &["annlee@acme.example", "Ann Lee"]),
                Err(UserInputError::PasswordWeak(_))
            ),
            "the account's own email is guessable"
        );
        assert!(NewPassword::parse("correct horse battery staple", &[]).is_ok());
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let p = NewPassword::parse("velvet-otter-quarry-51", &[]).unwrap();
        let stored = p.hash().unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify_password("velvet-otter-quarry-51", &stored));
        assert!(!verify_password("velvet-otter-quarry-52", &stored));
        assert!(!verify_password("velvet-otter-quarry-51", "not a hash"));
        assert!(!verify_password("anything", decoy_hash()));
        assert!(format!("{p:?}").contains("redacted"));
    }
}
