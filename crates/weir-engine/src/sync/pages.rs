//! Walking a source's pages: which query (or URL) fetches the next page,
//! and when to stop — for every pagination type of API.md. No IO.

use std::collections::BTreeMap;

use serde_json::Value;
use weir_core::mapping::JsonPath;
use weir_core::sync::Pagination;

/// Most pages one run reads (a source that never ends is cut here).
pub const MAX_PAGES: u64 = 100_000;

/// What to fetch next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The source path with these query parameters.
    Query(Vec<(String, String)>),
    /// An absolute or root-relative URL from a `Link` header.
    Link(String),
    /// No more pages.
    Done,
}

/// The pagination state of one run.
#[derive(Debug, Clone)]
pub struct Pager {
    pagination: Pagination,
    page: u64,
    offset: u64,
    fetched: u64,
    capped: bool,
}

impl Pager {
    /// Starts at the first page.
    pub fn new(pagination: Pagination) -> Self {
        let page = match &pagination {
            Pagination::Page { start, .. } => *start,
            _ => 0,
        };
        Self { pagination, page, offset: 0, fetched: 0, capped: false }
    }

    /// The first request.
    pub fn first(&self) -> Next {
        match &self.pagination {
            Pagination::None | Pagination::LinkHeader => Next::Query(Vec::new()),
            Pagination::Page { param, .. } => Next::Query(vec![(param.clone(), self.page.to_string())]),
            Pagination::Offset { offset_param, limit_param, limit } => {
                Next::Query(vec![(offset_param.clone(), "0".to_owned()), (limit_param.clone(), limit.to_string())])
            }
            Pagination::Cursor { .. } => Next::Query(Vec::new()),
        }
    }

    /// Whether the run reached [`MAX_PAGES`] (and was cut there).
    pub fn capped(&self) -> bool {
        self.capped
    }

    /// The request after a page with `records` items, `body` and `headers`.
    pub fn next(&mut self, body: &Value, headers: &BTreeMap<String, String>, records: usize) -> Next {
        self.fetched += 1;
        if self.fetched >= MAX_PAGES {
            self.capped = true;
            return Next::Done;
        }
        match &self.pagination {
            Pagination::None => Next::Done,
            Pagination::Page { param, next_path, .. } => {
                if records == 0 {
                    return Next::Done;
                }
                if let Some(p) = next_path {
                    let more = JsonPath::parse(p).ok().and_then(|p| p.get(body).cloned());
                    match more {
                        None | Some(Value::Null) | Some(Value::Bool(false)) => return Next::Done,
                        // A page number given by the source wins.
                        Some(Value::Number(n)) if n.as_u64().is_some() => {
                            self.page = n.as_u64().unwrap_or(self.page + 1);
                            return Next::Query(vec![(param.clone(), self.page.to_string())]);
                        }
                        Some(_) => {}
                    }
                }
                self.page += 1;
                Next::Query(vec![(param.clone(), self.page.to_string())])
            }
            Pagination::Offset { offset_param, limit_param, limit } => {
                if (records as u64) < *limit {
                    return Next::Done;
                }
                self.offset += records as u64;
                Next::Query(vec![
                    (offset_param.clone(), self.offset.to_string()),
                    (limit_param.clone(), limit.to_string()),
                ])
            }
            Pagination::Cursor { param, next_path } => {
                let cursor = JsonPath::parse(next_path).ok().and_then(|p| p.get(body).cloned());
                match cursor {
                    Some(Value::String(c)) if !c.is_empty() && records > 0 => Next::Query(vec![(param.clone(), c)]),
                    Some(Value::Number(n)) if records > 0 => Next::Query(vec![(param.clone(), n.to_string())]),
                    _ => Next::Done,
                }
            }
            Pagination::LinkHeader => match headers.get("link").and_then(|l| next_link(l)) {
                Some(url) => Next::Link(url),
                None => Next::Done,
            },
        }
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header value.
pub fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| v.trim_matches('"').split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next")))
                .unwrap_or(false)
        });
        if is_next {
            return Some(url.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_headers() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn page_numbers_stop_on_empty_or_missing_next() {
        let mut p =
            Pager::new(Pagination::Page { param: "page".into(), start: 1, next_path: Some("next_page".into()) });
        assert_eq!(p.first(), Next::Query(vec![("page".into(), "1".into())]));
        assert_eq!(p.next(&json!({"next_page": 2}), &no_headers(), 10), Next::Query(vec![("page".into(), "2".into())]));
        assert_eq!(p.next(&json!({"next_page": null}), &no_headers(), 10), Next::Done);
        let mut p = Pager::new(Pagination::Page { param: "p".into(), start: 0, next_path: None });
        assert_eq!(p.next(&json!({}), &no_headers(), 3), Next::Query(vec![("p".into(), "1".into())]));
        assert_eq!(p.next(&json!({}), &no_headers(), 0), Next::Done);
    }

    #[test]
    fn offsets_advance_by_records_and_stop_on_a_short_page() {
        let mut p = Pager::new(Pagination::Offset { offset_param: "o".into(), limit_param: "l".into(), limit: 50 });
        assert_eq!(p.first(), Next::Query(vec![("o".into(), "0".into()), ("l".into(), "50".into())]));
        assert_eq!(
            p.next(&json!([]), &no_headers(), 50),
            Next::Query(vec![("o".into(), "50".into()), ("l".into(), "50".into())])
        );
        assert_eq!(p.next(&json!([]), &no_headers(), 49), Next::Done);
    }

    #[test]
    fn cursors_come_from_the_body() {
        let mut p = Pager::new(Pagination::Cursor { param: "cursor".into(), next_path: "meta.next".into() });
        assert_eq!(p.first(), Next::Query(vec![]));
        assert_eq!(
            p.next(&json!({"meta": {"next": "abc"}}), &no_headers(), 5),
            Next::Query(vec![("cursor".into(), "abc".into())])
        );
        assert_eq!(p.next(&json!({"meta": {"next": ""}}), &no_headers(), 5), Next::Done);
        assert_eq!(p.next(&json!({"meta": {}}), &no_headers(), 5), Next::Done);
    }

    #[test]
    fn link_headers_follow_rel_next() {
        assert_eq!(
            next_link(r#"<https://x/a?page=1>; rel="prev", <https://x/a?page=3>; rel="next""#),
            Some("https://x/a?page=3".to_owned())
        );
        assert_eq!(next_link(r#"</items?p=2>; rel="next last""#), Some("/items?p=2".to_owned()));
        assert_eq!(next_link(r#"<https://x/a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
        let mut p = Pager::new(Pagination::LinkHeader);
        let mut h = BTreeMap::new();
        h.insert("link".to_owned(), r#"<http://h/next>; rel="next""#.to_owned());
        assert_eq!(p.next(&json!([]), &h, 1), Next::Link("http://h/next".into()));
        assert_eq!(p.next(&json!([]), &no_headers(), 1), Next::Done);
    }
}
