//! API tokens: `weir_` followed by 32 random bytes (base64url), shown once
//! and stored only as their SHA-256.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::tenant::{InvalidName, parse_display_name};

/// Every token Weir issues starts with this.
pub const TOKEN_PREFIX: &str = "weir_";

/// A token in the clear. Exists only between generation and the response
/// that shows it once; its `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    /// A new token from 32 bytes of the thread-local CSPRNG (ChaCha, seeded
    /// and periodically reseeded from the operating system).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        Self(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a token supplied from outside (e.g. `WEIR_SYSTEM_TOKEN`).
    pub fn from_supplied(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The clear text, for the one place that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its stored form.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// A short, non-secret hint for listings: the prefix and first four
    /// characters of the random part (`weir_AbCd…`).
    pub fn hint(&self) -> String {
        let shown: String = self.0.chars().take(TOKEN_PREFIX.len() + 4).collect();
        format!("{shown}…")
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(<redacted>)")
    }
}

/// The SHA-256 of a token, lowercase hex: what the database holds. Tokens
/// carry 256 bits of entropy, so a fast unsalted hash is the right tool (a
/// slow password hash would only slow every request down).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a presented token.
    pub fn of(token: &str) -> Self {
        Self(crate::hex::encode(&Sha256::digest(token.as_bytes())))
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token's label: 1 to 100 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenName(String);

impl ApiTokenName {
    /// Trims and checks the name.
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        parse_display_name(s, 100).map(Self)
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
    fn generated_tokens_have_the_documented_shape() {
        let t = PlainToken::generate();
        assert!(t.expose().starts_with(TOKEN_PREFIX));
        let raw = URL_SAFE_NO_PAD.decode(&t.expose()[TOKEN_PREFIX.len()..]).unwrap();
        assert_eq!(raw.len(), 32);
        assert_ne!(t, PlainToken::generate());
        assert!(!format!("{t:?}").contains(&t.expose()[5..]));
        assert!(t.hint().starts_with("weir_") && t.hint().ends_with('…'));
    }

    #[test]
    fn hash_is_sha256_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(TokenHash::of("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let t = PlainToken::generate();
        assert_eq!(t.hash(), TokenHash::of(t.expose()));
    }
}
