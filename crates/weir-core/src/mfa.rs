//! Multi-factor sign-in: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps,
//! one step of clock skew either way, via `totp-rs`) and single-use
//! recovery codes.
//!
//! A code is accepted once: the caller stores the step a code matched and
//! refuses that step and earlier ones next time ([`TotpSecret::matching_step`]).

use rand::RngExt as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Secret, TOTP};

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Weir";
/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;
/// Recovery codes issued at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The alphabet of recovery codes (no 0/O or 1/I/L to misread).
const RECOVERY_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A user's TOTP key: 20 random bytes (160 bits, RFC 4226's recommendation).
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        rand::rng().fill(&mut bytes[..]);
        Self(bytes)
    }

    /// A stored key (after opening its seal).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw key, to seal for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Base32 (no padding), for typing into an authenticator app.
    pub fn base32(&self) -> String {
        Secret::Raw(self.0.clone()).to_encoded().to_string()
    }

    fn totp(&self, account: &str) -> Option<TOTP> {
        // The label may not contain ':' (it separates issuer and account).
        let account = account.replace(':', "_");
        TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECS, self.0.clone(), Some(ISSUER.to_owned()), account).ok()
    }

    /// `otpauth://totp/Weir:<account>?secret=…&issuer=Weir…`: what an
    /// authenticator app scans or imports.
    pub fn otpauth_uri(&self, account: &str) -> String {
        self.totp(account).map(|t| t.get_url()).unwrap_or_default()
    }

    /// The code for the step holding `unix_secs` (tests and tools).
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.totp("").map(|t| t.generate(unix_secs)).unwrap_or_default()
    }

    /// The step (`unix_secs / 30`) whose code `code` is, among the current
    /// step and one either side, if it is later than `after` (the last step
    /// accepted, so a code works once). Compared in constant time.
    pub fn matching_step(&self, code: &str, unix_secs: u64, after: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp("")?;
        let now = unix_secs / STEP_SECS;
        (now.saturating_sub(1)..=now + 1)
            .filter(|step| after.is_none_or(|a| *step > a))
            .find(|step| bool::from(totp.generate(step * STEP_SECS).as_bytes().ct_eq(code.as_bytes())))
    }
}

/// Fresh recovery codes, `XXXXX-XXXXX` (50 bits each), shown once.
pub fn recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String =
                (0..10).map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())] as char).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What is stored of a recovery code: the SHA-256 (hex) of its characters,
/// upper-cased, without dashes or spaces (50 random bits each and a
/// per-account limit on attempts make a slow hash unnecessary).
pub fn recovery_hash(code: &str) -> String {
    let normal: String =
        code.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    crate::hex::encode(&Sha256::digest(normal.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_once() {
        let s = TotpSecret::generate();
        let t = 1_800_000_000;
        let code = s.code_at(t);
        let step = t / STEP_SECS;
        assert_eq!(s.matching_step(&code, t, None), Some(step));
        assert_eq!(s.matching_step(&code, t + STEP_SECS, None), Some(step), "one step of skew");
        assert_eq!(s.matching_step(&code, t + 3 * STEP_SECS, None), None, "too old");
        assert_eq!(s.matching_step(&code, t, Some(step)), None, "a used code is refused");
        assert_eq!(s.matching_step("12345", t, None), None);
        assert_eq!(s.matching_step("abcdef", t, None), None);
    }

    #[test]
    fn the_uri_names_the_issuer_and_account() {
        let s = TotpSecret::from_bytes(vec![7; 20]);
        let uri = s.otpauth_uri("ann@acme.example");
        assert!(uri.starts_with("otpauth://totp/Weir:ann%40acme.example?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", s.base32())) && uri.contains("issuer=Weir"), "{uri}");
        assert!(!format!("{s:?}").contains('7'));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_the_same_however_typed() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), RECOVERY_CODES);
        let c = &codes[0];
        assert_eq!(recovery_hash(c), recovery_hash(&c.to_lowercase().replace('-', " ")));
        assert_ne!(recovery_hash(c), recovery_hash(&codes[1]));
    }
}
