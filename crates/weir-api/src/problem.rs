//! Every error answer is `application/problem+json` (RFC 9457), built here
//! and nowhere else. Each variant has a stable machine `type`
//! (`urn:weir:problem:<id>`), documented in `docs/errors.md`.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use weir_core::FieldErrors;
use weir_engine::intake::{IntakeError, Refusal};
use weir_store::StoreError;

/// The content type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client is told to wait after a 503.
const RETRY_AFTER_SECS: &str = "5";

/// The body of an error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable machine id, e.g. `urn:weir:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Messages by field (422, some 409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not well-formed JSON.
    #[error("malformed request: {0}")]
    BadRequest(String),
    /// 401: no credentials, or credentials not recognised.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403: recognised, but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 404: does not exist, does not parse, or belongs to another tenant.
    #[error("not found")]
    NotFound,
    /// 409: a uniqueness or state rule refused the request.
    #[error("conflict: {detail}")]
    Conflict {
        /// Sentence for the client.
        detail: String,
        /// Messages by field, if the conflict is about fields.
        errors: Option<FieldErrors>,
    },
    /// 410: the receiver or its connector is out of service.
    #[error("gone")]
    Gone(&'static str),
    /// 429: over the rate limit; retry after this many seconds.
    #[error("rate limited")]
    TooManyRequests(u64),
    /// 401 from a webhook receiver: the delivery did not authenticate.
    #[error("delivery not authenticated: {0}")]
    DeliveryUnauthorized(String),
    /// 413: body over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: well-formed but invalid.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 422: a valid request that this resource cannot carry out.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// 503: the database is unreachable or saturated; retry.
    #[error("service unavailable")]
    Unavailable,
    /// An SSO sign-in refused (its own problem type per reason).
    #[error("single sign-on refused: {0}")]
    SsoRefused(weir_core::sso::SsoRefusal),
    /// 500: a bug. Logged with its cause; answered without detail.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 422 with one field message.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(FieldErrors::single(field, message))
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::DeliveryUnauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::SsoRefused(r) => sso_status(r),
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let (id, detail, errors) = match self {
            ApiError::BadRequest(d) => ("malformed-json", Some(d.clone()), None),
            ApiError::Unauthorized(d) => ("unauthorized", Some((*d).to_owned()), None),
            ApiError::Forbidden(d) => ("forbidden", Some((*d).to_owned()), None),
            ApiError::NotFound => ("not-found", None, None),
            ApiError::Conflict { detail, errors } => {
                ("conflict", Some(detail.clone()), errors.as_ref().map(|e| e.as_map().clone()))
            }
            ApiError::PayloadTooLarge => ("payload-too-large", None, None),
            ApiError::Gone(d) => ("gone", Some((*d).to_owned()), None),
            ApiError::TooManyRequests(s) => {
                ("rate-limited", Some(format!("over this connector's rate limit; retry in {s} s")), None)
            }
            ApiError::DeliveryUnauthorized(d) => ("unauthorized", Some(d.clone()), None),
            ApiError::UnsupportedMediaType => {
                ("unsupported-media-type", Some("send Content-Type: application/json".to_owned()), None)
            }
            ApiError::Unprocessable(d) => ("unprocessable", Some(d.clone()), None),
            ApiError::Validation(e) => {
                ("validation", Some("the request has invalid fields".to_owned()), Some(e.as_map().clone()))
            }
            ApiError::Unavailable => ("unavailable", Some("the database is unavailable; retry later".to_owned()), None),
            ApiError::SsoRefused(r) => (r.code(), Some(r.to_string()), None),
            ApiError::Internal(_) => ("internal", None, None),
        };
        Problem {
            kind: format!("urn:weir:problem:{id}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

/// The status of each SSO refusal: a spent or foreign `state` is the
/// request's fault (400); the provider vouching for no one is 401; a person
/// Weir will not let in is 403; a provider that cannot be used is 502.
fn sso_status(r: &weir_core::sso::SsoRefusal) -> StatusCode {
    use weir_core::sso::SsoRefusal as R;
    match r {
        R::StateInvalid | R::OtherBrowser => StatusCode::BAD_REQUEST,
        R::ProviderError(_) | R::IdTokenInvalid(_) | R::EmailMissing | R::EmailUnverified => StatusCode::UNAUTHORIZED,
        R::DomainNotAllowed(_)
        | R::ClaimMismatch(_)
        | R::NoRole
        | R::SubjectMismatch
        | R::EmailTaken
        | R::Deactivated => StatusCode::FORBIDDEN,
        R::ProviderUnavailable(_) => StatusCode::BAD_GATEWAY,
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(c) => ApiError::Conflict {
                detail: c.message().to_owned(),
                errors: c.field().map(|f| FieldErrors::single(f, c.message())),
            },
            StoreError::StateConflict(m) => ApiError::Conflict { detail: m.to_owned(), errors: None },
            StoreError::Unprocessable(m) => ApiError::Unprocessable(m.to_owned()),
            StoreError::ConnectorInUse(blocking) => {
                let names: Vec<String> = blocking.iter().map(|(id, name)| format!("{name} ({id})")).collect();
                let mut errors = FieldErrors::new();
                for n in &names {
                    errors.add("sync_configurations", n.clone());
                }
                ApiError::Conflict {
                    detail: format!(
                        "the connector is used by active scheduled sync configurations: {}; deactivate or delete them first",
                        names.join(", ")
                    ),
                    errors: Some(errors),
                }
            }
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// The one mapping of intake's refusals to responses.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound => ApiError::NotFound,
            Refusal::Gone { why } => ApiError::Gone(why),
            Refusal::RateLimited { retry_after } => ApiError::TooManyRequests(retry_after),
            Refusal::UnsupportedMediaType => ApiError::UnsupportedMediaType,
            Refusal::PayloadTooLarge => ApiError::PayloadTooLarge,
            Refusal::Unauthenticated(e) => ApiError::DeliveryUnauthorized(e.to_string()),
            Refusal::MalformedJson(detail) => ApiError::BadRequest(detail),
            Refusal::SchemaInvalid(errors) => ApiError::Validation(errors),
            e @ Refusal::SchemaBudgetExceeded => ApiError::Unprocessable(e.to_string()),
            Refusal::Lookup(IntakeError::Store(e)) => e.into(),
            Refusal::Lookup(e @ IntakeError::Broken(..)) => ApiError::Internal(Box::new(e)),
            Refusal::Unavailable => ApiError::Unavailable,
        }
    }
}

/// Renders a problem body with its headers.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    match status {
        StatusCode::UNAUTHORIZED => {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        _ => {}
    }
    res
}

/// A problem for a status whose error carries no detail (405, 408, …).
pub fn bare_problem(status: StatusCode) -> Problem {
    Problem {
        kind: format!(
            "urn:weir:problem:{}",
            status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "-")
        ),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: None,
        errors: None,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %cause, source = ?cause.source(), "internal error");
        }
        let mut res = problem_response(self.status(), &self.problem());
        if let ApiError::TooManyRequests(secs) = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        res
    }
}

/// The answer for a route that does not exist.
pub async fn not_found_fallback() -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use weir_core::webhook::VerifyError;

    use super::*;

    /// Every refusal of intake keeps the status and problem type it had
    /// when the receive handler built them itself.
    #[test]
    fn refusals_map_to_their_statuses() {
        let cases = [
            (Refusal::NotFound, 404, "not-found"),
            (Refusal::Gone { why: "this receiver is inactive" }, 410, "gone"),
            (Refusal::RateLimited { retry_after: 3 }, 429, "rate-limited"),
            (Refusal::UnsupportedMediaType, 415, "unsupported-media-type"),
            (Refusal::PayloadTooLarge, 413, "payload-too-large"),
            (Refusal::Unauthenticated(VerifyError::BadSignature), 401, "unauthorized"),
            (Refusal::MalformedJson("invalid JSON: x".into()), 400, "malformed-json"),
            (Refusal::SchemaInvalid(FieldErrors::single("/id", "required")), 422, "validation"),
            (Refusal::Lookup(IntakeError::Broken("r1".into(), "bad".into())), 500, "internal"),
            (Refusal::Unavailable, 503, "unavailable"),
        ];
        for (refusal, status, kind) in cases {
            let problem = ApiError::from(refusal).problem();
            assert_eq!((problem.status, problem.kind.as_str()), (status, format!("urn:weir:problem:{kind}").as_str()));
        }
        let unauthorized = ApiError::from(Refusal::Unauthenticated(VerifyError::BadToken)).problem();
        assert_eq!(unauthorized.detail.as_deref(), Some("invalid token"));
    }
}
