//! Lowercase hex, for digests on hot paths. Twenty lines instead of a
//! dependency; `format!("{b:02x}")` per byte showed in the ingest profile.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lowercase() {
        assert_eq!(super::encode(&[0x00, 0x7f, 0xab, 0xff]), "007fabff");
        assert_eq!(super::encode(&[]), "");
    }
}
