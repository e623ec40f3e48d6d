//! Source paths: dotted keys with `[n]` indexes, e.g. `data.items[0].sku`.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(Vec<Segment>);

/// Why a path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {path:?}: {reason}")]
pub struct PathError {
    /// The path as written.
    pub path: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// Longest path accepted, in characters.
const MAX_PATH: usize = 500;

impl JsonPath {
    /// Parses `a.b[2].c`. Keys are non-empty and may not contain `.`, `[`
    /// or `]`; indexes are decimal.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        let fail = |reason| PathError { path: s.to_owned(), reason };
        if s.is_empty() {
            return Err(fail("is empty"));
        }
        if s.len() > MAX_PATH {
            return Err(fail("is longer than 500 characters"));
        }
        let mut segments = Vec::new();
        for part in s.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if key.is_empty() && segments.is_empty() && rest.is_empty() {
                return Err(fail("has an empty key"));
            }
            if key.contains(']') {
                return Err(fail("has an unmatched ]"));
            }
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_owned()));
            } else if rest.is_empty() {
                return Err(fail("has an empty key"));
            }
            while !rest.is_empty() {
                let Some(inner) = rest.strip_prefix('[') else { return Err(fail("has text after ]")) };
                let Some(close) = inner.find(']') else { return Err(fail("has an unclosed [")) };
                let idx = &inner[..close];
                if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(fail("has an index that is not a number"));
                }
                let n = idx.parse::<usize>().map_err(|_| fail("has an index that is too large"))?;
                segments.push(Segment::Index(n));
                rest = &inner[close + 1..];
            }
        }
        Ok(Self(segments))
    }

    /// The value at this path, if every step exists.
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for seg in &self.0 {
            cur = match (seg, cur) {
                (Segment::Key(k), Value::Object(m)) => m.get(k)?,
                (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_and_reads() {
        let v = json!({"data": {"items": [{"sku": "a"}, {"sku": "b"}], "n": 1}});
        assert_eq!(JsonPath::parse("data.items[1].sku").unwrap().get(&v), Some(&json!("b")));
        assert_eq!(JsonPath::parse("data.n").unwrap().get(&v), Some(&json!(1)));
        assert_eq!(JsonPath::parse("data.items[5].sku").unwrap().get(&v), None);
        assert_eq!(JsonPath::parse("data.n.x").unwrap().get(&v), None);
        assert_eq!(JsonPath::parse("[0]").unwrap().get(&json!([7])), Some(&json!(7)));
        for bad in ["", "a..b", "a.", ".a", "a[", "a[x]", "a[1]b", "a]", "a[]", "a[99999999999999999999999]"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
