//! The web dashboard's static files: `GET /` is `ui/index.html`, `GET
//! /ui/{path}` the other assets, all embedded in the binary at build time
//! (`rust-embed`; in debug builds they are read from `crates/weir-api/ui/`
//! so a page can be edited without rebuilding). The pages themselves are
//! plain ES modules that call the JSON API with the session cookie — see
//! `docs/web-dashboard.md`.
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles
//! and connections only from this origin, no inline script or style, no
//! framing.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;

use crate::problem::ApiError;

/// The dashboard's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

#[derive(Embed)]
#[folder = "ui/"]
struct Assets;

/// The dashboard routes (not part of the OpenAPI document: they serve HTML).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/ui/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The media type of an asset, by extension. The UI ships a handful of
/// kinds, so a table beats a MIME database.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::NotFound.into_response();
    };
    let etag = format!("\"{}\"", weir_core::hex::encode(&file.metadata.sha256_hash()[..16]));
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let common = [
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        // Revalidate every time (cheap with the ETag): a new binary's pages
        // are picked up at once, never mixed with cached modules.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, etag.clone()),
    ];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (StatusCode::OK, common, [(header::CONTENT_TYPE, content_type(path))], file.data.into_owned()).into_response()
}
