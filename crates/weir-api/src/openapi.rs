//! The OpenAPI document: the base (info, security scheme) here, every path
//! from the handlers' `#[utoipa::path]` via [`crate::routes::all`]. A
//! checked-in snapshot (`openapi.snapshot.json`) makes every contract change
//! a visible diff; `UPDATE_OPENAPI_SNAPSHOT=1 cargo test -p weir-api`
//! rewrites it.

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Weir", description = "Self-hosted integration hub: webhooks in, syncs out, audit, live monitoring."),
    tags(
        (name = "health", description = "Liveness, readiness, this document"),
        (name = "system", description = "Tenant management (system token)"),
        (name = "tokens", description = "A tenant's API tokens"),
        (name = "connectors", description = "Connectors, connection tests and production change approval"),
        (name = "receivers", description = "Webhook receivers and their secrets"),
        (name = "receiving", description = "The receive endpoint providers call"),
        (name = "events", description = "Received webhook events"),
        (name = "field-mappings", description = "Rules that turn payloads into records"),
        (name = "records", description = "The business system's records"),
        (name = "session", description = "Dashboard sign-in: an API token exchanged for a session cookie"),
    )
)]
struct BaseDoc;

/// The document before routes are added.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = BaseDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("weir_…").build()),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::auth::SESSION_COOKIE,
            "Dashboard session (POST /api/v1/session); state-changing requests also need X-CSRF-Token",
        ))),
    );
    doc
}

/// The complete document.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::routes::all().split_for_parts().1
}

/// Pretty JSON of `doc`.
pub fn render(doc: utoipa::openapi::OpenApi) -> String {
    doc.to_pretty_json().unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.snapshot.json");

    #[test]
    fn openapi_matches_the_checked_in_snapshot() {
        let current = render(document());
        if std::env::var_os("UPDATE_OPENAPI_SNAPSHOT").is_some() {
            std::fs::write(SNAPSHOT, &current).unwrap();
        }
        let expected = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
        assert!(
            current == expected,
            "the OpenAPI document changed; review and run UPDATE_OPENAPI_SNAPSHOT=1 cargo test -p weir-api"
        );
    }

    #[test]
    fn every_documented_error_is_problem_json() {
        let doc: serde_json::Value = serde_json::from_str(&render(document())).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v1/system/tenants"));
        assert!(paths.contains_key("/api/v1/tokens/{id}"));
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                for (status, resp) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert!(
                            resp["content"].get("application/problem+json").is_some(),
                            "{method} {path} {status} is not problem+json"
                        );
                    }
                }
            }
        }
    }
}
