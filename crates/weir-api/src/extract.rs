//! Extractors whose every rejection is a problem+json answer:
//! * [`ApiJson`] — 415 when not JSON, 413 over the body limit, 400 when the
//!   JSON is malformed, 422 (naming the field) when it has the wrong shape.
//! * [`ApiQuery`] — 422 naming the parameter.
//! * [`Id`] — a path id; one that cannot exist is 404 before any query.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use weir_core::ids;

use crate::problem::ApiError;

/// A JSON request body of type `T`.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Whether a Content-Type names JSON (`application/json` or `application/*+json`).
pub(crate) fn is_json(content_type: Option<&str>) -> bool {
    weir_core::json::is_json_media_type(content_type)
}

/// Turns a serde path and message into a field key: the JSON path, or for
/// "missing field `x`" at the root, `x`.
fn field_key(path: &str, message: &str) -> String {
    if path == "." || path.is_empty() {
        if let Some(rest) = message.strip_prefix("missing field `")
            && let Some(name) = rest.split('`').next()
        {
            return name.to_owned();
        }
        return "body".to_owned();
    }
    path.to_owned()
}

/// Reads the body under the configured limit (413 beyond it).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(inner) if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        other => ApiError::BadRequest(other.body_text()),
    })
}

/// Parses JSON bytes into `T`, classifying failures: not JSON (or NUL
/// characters, which storage refuses) → 400; the wrong shape → 422 naming
/// the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    if weir_core::json::contains_nul(&value) {
        return Err(ApiError::BadRequest("invalid JSON: NUL characters (\\u0000) are not accepted".to_owned()));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        ApiError::field(field_key(&path, &message), message)
    })
}

/// Takes field `key` of a JSON object body as a `T`, noting a missing or
/// mistyped value in `errors` (keyed by the field, or by its path inside
/// it) instead of stopping there: bodies parsed field by field report
/// every bad field at once.
pub fn take_field<T: DeserializeOwned>(
    body: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    errors: &mut weir_core::FieldErrors,
) -> Option<T> {
    let Some(value) = body.remove(key) else {
        errors.add(key, format!("missing field `{key}`"));
        return None;
    };
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(err) => {
            let inner = err.path().to_string();
            let field = if inner == "." { key.to_owned() } else { format!("{key}{}", inner_path(&inner)) };
            errors.add(field, err.into_inner().to_string());
            None
        }
    }
}

/// `serde_path_to_error`'s `[2].op` or `x.y` as it follows a field name.
fn inner_path(path: &str) -> String {
    if path.starts_with('[') { path.to_owned() } else { format!(".{path}") }
}

/// Notes every key of `body` not in `known` as unknown (bodies that
/// refuse unknown fields, parsed field by field).
pub fn refuse_unknown(
    body: &serde_json::Map<String, serde_json::Value>,
    known: &[&str],
    errors: &mut weir_core::FieldErrors,
) {
    for key in body.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.add(key.clone(), format!("unknown field `{key}`, expected one of {}", known.join(", ")));
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !is_json(content_type) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: an empty body or JSON `null` is `None`; anything
/// else must be JSON of type `T`, with [`ApiJson`]'s rules.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json_body = is_json(req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()));
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        if !is_json_body {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json::<Option<T>>(&bytes).map(OptionalJson)
    }
}

/// Query parameters of type `T`.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            ApiError::field(field_key(&path, &message), message)
        })
    }
}

/// A resource id from the path. Anything that is not an id Weir could have
/// issued answers 404 (API.md: "an id that does not parse … is 404").
#[derive(Debug, Clone)]
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        if ids::is_valid_id(&id) { Ok(Id(id)) } else { Err(ApiError::NotFound) }
    }
}

/// Two ids from the path (`/{parent}/…/{child}`), each checked like [`Id`].
#[derive(Debug, Clone)]
pub struct Ids(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((a, b)) =
            Path::<(String, String)>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        if ids::is_valid_id(&a) && ids::is_valid_id(&b) { Ok(Ids(a, b)) } else { Err(ApiError::NotFound) }
    }
}

/// For three-state PATCH fields: absent → `None`, `null` → `Some(None)`,
/// a value → `Some(Some(v))`. Use with `#[serde(default)]`.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

/// `?page=&per_page=` as API.md defines them.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

impl PageParams {
    /// Validates the bounds (422 naming the parameter).
    pub fn parse(&self) -> Result<weir_core::PageRequest, ApiError> {
        weir_core::PageRequest::parse(self.page, self.per_page).map_err(|e| {
            let field = match e {
                weir_core::pagination::PageError::Page => "page",
                weir_core::pagination::PageError::PerPage => "per_page",
            };
            ApiError::field(field, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct In {
        name: String,
        n: u8,
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation(f) => f.as_map().keys().cloned().collect(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn classifies_json_errors() {
        assert!(matches!(parse_json::<In>(b"{\"name\": "), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_json::<In>(b"nope"), Err(ApiError::BadRequest(_))));
        assert_eq!(fields(parse_json::<In>(br#"{"name": 1, "n": 1}"#).unwrap_err()), ["name"]);
        assert_eq!(fields(parse_json::<In>(br#"{"name": "a"}"#).unwrap_err()), ["n"]);
        assert_eq!(fields(parse_json::<In>(br#"{"name": "a", "n": 300}"#).unwrap_err()), ["n"]);
        assert_eq!(fields(parse_json::<In>(br#"{"name": "a", "n": 1, "x": 2}"#).unwrap_err()), ["x"]);
        assert!(parse_json::<In>(br#"{"name": "a", "n": 1}"#).is_ok());
    }

    #[test]
    fn content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}

/// The client's address (the TCP peer), when the server knows it.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(ClientAddr(peer.map(|c| c.0.ip().to_string())))
    }
}
