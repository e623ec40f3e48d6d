//! Sealing secrets at rest: AES-256-GCM under the master key, a fresh
//! random 96-bit nonce per seal. A sealed value is `nonce || ciphertext+tag`.
//!
//! What is sealed: connector credentials, webhook receiver secrets, and one
//! known check value per installation that tells at start-up whether the
//! configured key is the one that sealed the existing data.

use std::fmt;

use aes_gcm::aead::{Aead, Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use thiserror::Error;

const NONCE_LEN: usize = 12;

/// Why a sealed value could not be opened.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealError {
    /// Shorter than a nonce and a tag: not something Weir sealed.
    #[error("sealed value is truncated")]
    Truncated,
    /// The tag did not verify: wrong key, or the bytes were altered.
    #[error("sealed value does not open with this master key")]
    WrongKeyOrTampered,
    /// Encryption itself failed (practically impossible for in-memory data).
    #[error("sealing failed")]
    Seal,
}

/// The installation's master key. Its `Debug` never prints the bytes.
#[derive(Clone)]
pub struct MasterKey(Key<Aes256Gcm>);

impl MasterKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Key::<Aes256Gcm>::from(bytes))
    }

    /// A new random key (operating-system randomness).
    pub fn generate() -> Self {
        Self(Key::<Aes256Gcm>::generate())
    }

    /// The key bytes, to write the key file once.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.into()
    }

    /// Seals `plaintext`.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let cipher = Aes256Gcm::new(&self.0);
        let nonce = Nonce::generate();
        let ciphertext = cipher.encrypt(&nonce, plaintext).map_err(|_| SealError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens a value sealed by [`MasterKey::seal`] under the same key.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SealError::Truncated);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Truncated)?;
        Aes256Gcm::new(&self.0).decrypt(&nonce, ciphertext).map_err(|_| SealError::WrongKeyOrTampered)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let key = MasterKey::generate();
        let a = key.seal(b"hunter2").unwrap();
        let b = key.seal(b"hunter2").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.windows(7).any(|w| w == b"hunter2"), "ciphertext is not the plaintext");
        assert_eq!(key.open(&a).unwrap(), b"hunter2");
        assert_eq!(key.open(&b).unwrap(), b"hunter2");
    }

    #[test]
    fn wrong_key_tampering_and_truncation_fail() {
        let key = MasterKey::from_bytes([1; 32]);
        let sealed = key.seal(b"secret").unwrap();
        assert_eq!(MasterKey::from_bytes([2; 32]).open(&sealed), Err(SealError::WrongKeyOrTampered));
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert_eq!(key.open(&t), Err(SealError::WrongKeyOrTampered), "flipped byte {i}");
        }
        assert_eq!(key.open(&sealed[..20]), Err(SealError::Truncated));
        assert_eq!(MasterKey::from_bytes(key.to_bytes()).open(&sealed).unwrap(), b"secret");
        assert!(!format!("{key:?}").contains('1'));
    }
}
