//! Identifiers. Every row id is a UUIDv7 rendered as a string: time-ordered
//! (good index locality on both backends) and opaque to clients.

use uuid::Uuid;

/// A fresh, time-ordered identifier for a new row.
pub fn new_id() -> String {
    Uuid::now_v7().to_string()
}

/// A random, unguessable key (`bytes` bytes of CSPRNG output, base64url):
/// receiver keys in receive URLs.
pub fn random_key(bytes: usize) -> String {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    rand::fill(buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Whether `s` has the shape of an id Weir issues. Used to answer 404 early
/// for ids that cannot exist, without touching the database.
pub fn is_valid_id(s: &str) -> bool {
    Uuid::try_parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(is_valid_id(&a));
        assert!(!is_valid_id("not-an-id"));
        assert!(!is_valid_id(""));
    }
}
