//! File downloads streamed from the database: a head, chunks produced one
//! query at a time, a tail — so an export's memory does not grow with its
//! size — sent as an attachment.

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};

/// `head`, then `body`, then `tail`, as `filename`.
pub fn attachment(
    content_type: &str,
    filename: &str,
    head: Bytes,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    tail: Bytes,
) -> Response {
    let all = futures::stream::once(async move { Ok::<_, std::io::Error>(head) })
        .chain(body)
        .chain(futures::stream::once(async move { Ok(tail) }));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        Body::from_stream(all),
    )
        .into_response()
}

/// CSV text of `rows` (writing to memory cannot fail). Every cell passes
/// through [`spreadsheet_safe`], so a partner's value cannot become a
/// formula in the operator's spreadsheet. Every CSV export goes through here.
pub fn csv_rows(rows: &[Vec<String>]) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        let _ = w.write_record(r.iter().map(|cell| spreadsheet_safe(cell).into_owned()));
    }
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// The OWASP rule against CSV (formula) injection: a cell that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, which
/// spreadsheets read as "this is text". Everything else is unchanged. (The
/// `csv` crate quotes but does not neutralise; no crate does just this.)
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// Pages through a source with a cursor: `next(cursor)` answers a chunk and
/// the cursor after it (`None` when done), `render(chunk, is_first)` its bytes.
pub fn chunks<C, T, F, Fut, R>(start: C, next: F, render: R) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    C: Send + 'static,
    T: Send + 'static,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Option<(T, C)>, String>> + Send + 'static,
    R: Fn(&T, bool) -> Bytes + Send + Sync + 'static,
{
    let next = std::sync::Arc::new(next);
    let render = std::sync::Arc::new(render);
    futures::stream::unfold(Some((start, true)), move |state| {
        let (next, render) = (next.clone(), render.clone());
        async move {
            let (cursor, first) = state?;
            match next(cursor).await {
                Ok(None) => None,
                Ok(Some((chunk, after))) => Some((Ok(render(&chunk, first)), Some((after, false)))),
                // The response has started: end the body with an error, so
                // the client sees a broken download rather than a short file.
                Err(e) => Some((Err(std::io::Error::other(e)), None)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised_and_nothing_else_changes() {
        for hostile in ["=HYPERLINK(\"http://x\")", "+SUM(1+1)", "-1+2", "@cmd", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(hostile), format!("'{hostile}"));
        }
        for plain in ["", "order 1", "1-2", "a=b", "'quoted", " =lead space"] {
            assert_eq!(spreadsheet_safe(plain), plain);
        }
        let csv = csv_rows(&[vec!["=1+1".into(), "ok".into(), "-3".into()]]);
        assert_eq!(&csv[..], b"'=1+1,ok,'-3\n");
    }
}
