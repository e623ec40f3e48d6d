//! Dashboard sign-in (issue 8): an API token exchanged for an HttpOnly,
//! SameSite=Strict session cookie; CSRF and origin checks on state-changing
//! cookie requests; sign-out; revocation; the embedded pages and their
//! Content-Security-Policy.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp, assert_problem, send};

backend_tests!(sign_in_csrf_and_sign_out, pages_are_embedded_with_a_strict_policy);

const API: &str = "/api/v1/integration";

/// Signs in; returns the cookie pair (`weir_session=…`) and the session body.
async fn sign_in(app: &TestApp, token: &str) -> (String, Value) {
    let res = app.req(Method::POST, "/api/v1/session", None).json(&json!({"token": token})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "not Secure unless configured: {set_cookie}");
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert!(!body.to_string().contains(token), "the token is not echoed");
    (pair, body["data"].clone())
}

fn with_cookie(app: &TestApp, method: Method, path: &str, cookie: &str) -> RequestBuilder {
    app.req(method, path, None).header("cookie", cookie)
}

async fn sign_in_csrf_and_sign_out(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (admin_id, admin) = app.token(&t, "admin").await;
    let (_, viewer) = app.token(&t, "viewer").await;

    // Refusals: wrong token, the system token, malformed bodies.
    assert_problem(
        app.req(Method::POST, "/api/v1/session", None).json(&json!({"token": "weir_nope"})),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_problem(
        app.req(Method::POST, "/api/v1/session", None).json(&json!({"token": SYSTEM_TOKEN})),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_problem(
        app.req(Method::POST, "/api/v1/session", None).json(&json!({"tok": admin})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_problem(
        app.req(Method::POST, "/api/v1/session", None)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={admin}")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_problem(
        app.req(Method::POST, "/api/v1/session", None)
            .header("origin", "https://evil.example")
            .json(&json!({"token": admin})),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_problem(app.req(Method::GET, "/api/v1/session", None), StatusCode::UNAUTHORIZED).await;
    assert_problem(with_cookie(&app, Method::GET, "/api/v1/session", "weir_session=forged"), StatusCode::UNAUTHORIZED)
        .await;

    let (cookie, session) = sign_in(&app, &admin).await;
    assert_eq!((session["tenant_slug"].as_str(), session["role"].as_str()), (Some("acme"), Some("admin")));
    assert_eq!(session["token_id"], admin_id.as_str(), "the session acts as its token");
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    assert!(csrf.len() >= 40);
    let (s, current) = send(with_cookie(&app, Method::GET, "/api/v1/session", &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(current["data"]["csrf_token"], csrf.as_str());

    // Reads work with the cookie alone.
    let (s, _) = send(with_cookie(&app, Method::GET, &format!("{API}/dashboard"), &cookie)).await;
    assert_eq!(s, StatusCode::OK);

    // Writes need the CSRF token, and a same-origin Origin when one is sent.
    let connector = json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"});
    let post = |headers: &[(&str, &str)]| {
        let mut r = with_cookie(&app, Method::POST, &format!("{API}/connectors"), &cookie).json(&connector);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r
    };
    let p = assert_problem(post(&[]), StatusCode::FORBIDDEN).await;
    assert!(p["detail"].as_str().unwrap().contains("X-CSRF-Token"), "{p}");
    assert_problem(post(&[("x-csrf-token", "wrong")]), StatusCode::FORBIDDEN).await;
    assert_problem(post(&[("x-csrf-token", &csrf), ("origin", "https://evil.example")]), StatusCode::FORBIDDEN).await;
    let (s, list) = app.call(Method::GET, &format!("{API}/connectors"), Some(&admin), None).await;
    assert_eq!((s, list["meta"]["total"].as_u64()), (StatusCode::OK, Some(0)), "refused writes wrote nothing");
    let origin = app.base.clone();
    let (s, created) = send(post(&[("x-csrf-token", &csrf), ("origin", &origin)])).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    // A bearer token needs no CSRF token (no ambient credentials to forge).
    let (s, _) = app
        .call(
            Method::POST,
            &format!("{API}/connectors"),
            Some(&admin),
            Some(json!({"code": "crm", "name": "CRM", "type": "webhook", "environment": "development"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // The session acts with its token's role.
    let (viewer_cookie, v) = sign_in(&app, &viewer).await;
    assert_eq!(v["role"], "viewer");
    assert_problem(with_cookie(&app, Method::GET, &format!("{API}/dashboard"), &viewer_cookie), StatusCode::FORBIDDEN)
        .await;

    // Signing out ends the session and clears the cookie; it needs CSRF too.
    assert_problem(with_cookie(&app, Method::DELETE, "/api/v1/session", &cookie), StatusCode::FORBIDDEN).await;
    let res = with_cookie(&app, Method::DELETE, "/api/v1/session", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_problem(with_cookie(&app, Method::GET, &format!("{API}/connectors"), &cookie), StatusCode::UNAUTHORIZED)
        .await;

    // Revoking the token ends its sessions.
    let (cookie, _) = sign_in(&app, &admin).await;
    let (s, _) = app.call(Method::DELETE, &format!("/api/v1/tokens/{admin_id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(with_cookie(&app, Method::GET, "/api/v1/session", &cookie), StatusCode::UNAUTHORIZED).await;

    // Sign-in and sign-out are audited, without secrets.
    let (_, admin2) = app.token(&t, "admin").await;
    let (_, audit) = app.call(Method::GET, &format!("{API}/audit-logs?per_page=100"), Some(&admin2), None).await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "session.created").count(), 3, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "session.ended").count(), 1, "{actions:?}");
    let text = audit.to_string();
    assert!(!text.contains(&csrf) && !text.contains(cookie.trim_start_matches("weir_session=")));
}

async fn pages_are_embedded_with_a_strict_policy(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let res = app.req(Method::GET, "/", None).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>") && html.contains("/ui/js/app.js"), "no inline script; the app is a module");

    let res = app.req(Method::GET, "/ui/js/app.js", None).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let res = app.req(Method::GET, "/ui/js/app.js", None).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = app.req(Method::GET, "/ui/style.css", None).send().await.unwrap();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/css"));

    for missing in ["/ui/nope.js", "/ui/../Cargo.toml", "/ui/%2e%2e/Cargo.toml"] {
        assert_problem(app.req(Method::GET, missing, None), StatusCode::NOT_FOUND).await;
    }
    // API answers are data: a policy that allows nothing.
    let res = app.req(Method::GET, "/healthz", None).send().await.unwrap();
    assert_eq!(res.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}
