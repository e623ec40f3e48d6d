//! The OpenAPI document: the base (info, security scheme) here, every path
//! from the handlers' `#[utoipa::path]` via [`crate::routes::all`], then
//! [`complete`] adds what holds for every operation alike. A checked-in
//! snapshot (`openapi.snapshot.json`) makes every contract change a visible
//! diff; `UPDATE_OPENAPI_SNAPSHOT=1 cargo test -p weir-api` rewrites it.
//! `scripts/schemathesis.sh` checks the running server against it.

use utoipa::OpenApi;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};

use crate::problem::PROBLEM_JSON;

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
    complete(crate::routes::all().split_for_parts().1)
}

/// The answers every operation with a JSON body can give before its
/// handler runs ([`crate::extract::ApiJson`], `OptionalJson`): added where
/// the operation does not list them itself.
const BODY_ERRORS: [(&str, &str); 4] = [
    ("400", "The body is not well-formed JSON (`urn:weir:problem:malformed-json`)"),
    ("413", "The body is over the size limit (`urn:weir:problem:payload-too-large`)"),
    ("415", "The body is not `application/json` (`urn:weir:problem:unsupported-media-type`)"),
    ("422", "The body has the wrong shape or invalid fields (`urn:weir:problem:validation`)"),
];

/// Finishes the document from the routes: documents the body errors of
/// every operation that takes a JSON body; gives every `page`/`per_page`
/// query parameter the bounds of [`weir_core::PageRequest::parse`], which
/// checks them all.
pub fn complete(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            add_body_errors(op);
            bound_pagination(op);
        }
    }
    doc
}

fn bound_pagination(op: &mut Operation) {
    use weir_core::pagination::{MAX_PAGE, MAX_PER_PAGE};
    for param in op.parameters.iter_mut().flatten() {
        let RefOr::T(param) = param else { continue };
        let max = match (&param.parameter_in, param.name.as_str()) {
            (ParameterIn::Query, "page") => MAX_PAGE,
            (ParameterIn::Query, "per_page") => MAX_PER_PAGE,
            _ => continue,
        };
        if let Some(RefOr::T(Schema::Object(schema))) = param.schema.as_mut() {
            schema.minimum = Some(1.into());
            schema.maximum = Some(max.into());
        }
    }
}

fn add_body_errors(op: &mut Operation) {
    let takes_json = match &op.request_body {
        Some(RefOr::T(body)) => body.content.contains_key("application/json"),
        _ => false,
    };
    if !takes_json {
        return;
    }
    for (status, description) in BODY_ERRORS {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
                    .build(),
            )
        });
    }
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
    fn string_enums_are_documented_as_serialized() {
        use weir_core::sync::{Direction, Trigger};
        use weir_core::{ConnectorType, Environment};
        let doc: serde_json::Value = serde_json::from_str(&render(document())).unwrap();
        let wire = |values: Vec<serde_json::Value>| serde_json::Value::from(values);
        let cases = [
            ("ConnectorType", wire(vec![json(ConnectorType::Http), json(ConnectorType::Webhook)])),
            (
                "Environment",
                wire(vec![json(Environment::Production), json(Environment::Staging), json(Environment::Development)]),
            ),
            ("Direction", wire(vec![json(Direction::Inbound), json(Direction::Outbound)])),
            ("Trigger", wire(vec![json(Trigger::Webhook), json(Trigger::Schedule), json(Trigger::Manual)])),
        ];
        for (name, values) in cases {
            assert_eq!(doc["components"]["schemas"][name]["enum"], values, "{name}");
        }
    }

    fn json<T: serde::Serialize>(v: T) -> serde_json::Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn json_bodies_document_their_errors_and_pages_their_bounds() {
        let doc: serde_json::Value = serde_json::from_str(&render(document())).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if op["requestBody"]["content"].get("application/json").is_some() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(op["responses"].get(status).is_some(), "{method} {path} lacks {status}");
                    }
                }
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "query" && (p["name"] == "page" || p["name"] == "per_page") {
                        assert_eq!(p["schema"]["minimum"], 1, "{method} {path} {}", p["name"]);
                        assert!(p["schema"]["maximum"].is_u64(), "{method} {path} {}", p["name"]);
                    }
                }
            }
        }
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
