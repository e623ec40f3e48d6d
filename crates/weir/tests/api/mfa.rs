//! Multi-factor sign-in (issue 19): enrolment by otpauth URI confirmed
//! with a code the test computes (RFC 6238, with `totp-rs` directly, not
//! Weir's wrapper); sign-in in two steps; a code and a challenge work once;
//! a recovery code works once; a tenant that requires a second factor of
//! admins limits one without it to enrolling.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem, send};

backend_tests!(a_second_factor_is_enrolled_and_then_required_at_sign_in);

const PASSWORD: &str = "velvet-otter-quarry-51";

fn code_at(secret_base32: &str, unix: u64) -> String {
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).unwrap().generate(unix)
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

struct Browser {
    cookie: String,
    csrf: String,
    session: Value,
}

impl Browser {
    fn req(&self, app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
        app.req(method, path, None).header("cookie", &self.cookie).header("x-csrf-token", &self.csrf)
    }

    async fn from(res: reqwest::Response) -> Browser {
        assert_eq!(res.status(), StatusCode::CREATED);
        let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let body: Value = res.json().await.unwrap();
        Browser { cookie, csrf: body["data"]["csrf_token"].as_str().unwrap().to_owned(), session: body["data"].clone() }
    }
}

async fn password_step(app: &TestApp) -> reqwest::Response {
    app.req(Method::POST, "/api/v1/session", None)
        .json(&json!({"email": "ivy@acme.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

/// The password step of a user with a second factor: the challenge.
async fn challenge(app: &TestApp) -> String {
    let res = password_step(app).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["mfa_required"], true);
    assert!(res_has_no_cookie(&body));
    body["data"]["mfa_token"].as_str().unwrap().to_owned()
}

fn res_has_no_cookie(body: &Value) -> bool {
    body["data"].get("csrf_token").is_none()
}

async fn second(app: &TestApp, body: Value) -> reqwest::Response {
    app.req(Method::POST, "/api/v1/session/mfa", None).json(&body).send().await.unwrap()
}

async fn a_second_factor_is_enrolled_and_then_required_at_sign_in(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let body = json!({"email": "ivy@acme.example", "name": "Ivy", "role": "admin"});
    let (_, invited) = app.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    let invite = invited["data"]["invite_url"].as_str().unwrap().trim_start_matches("/#/invite/").to_owned();
    let (s, _) = send(
        app.req(Method::POST, &format!("/api/v1/invites/{invite}/accept"), None).json(&json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // The tenant requires a second factor of admins: Ivy may only enrol.
    let (s, out) =
        app.call(Method::PATCH, "/api/v1/settings", Some(&admin), Some(json!({"mfa_required_for_admins": true}))).await;
    assert_eq!((s, out["data"]["mfa_required_for_admins"].as_bool()), (StatusCode::OK, Some(true)), "{out}");
    let ivy = Browser::from(password_step(&app).await).await;
    assert_eq!(ivy.session["must_enrol_mfa"], true);
    let limited =
        assert_problem(ivy.req(&app, Method::GET, "/api/v1/integration/connectors"), StatusCode::FORBIDDEN).await;
    assert!(limited["detail"].as_str().unwrap().contains("second factor"), "{limited}");
    let (s, _) = send(ivy.req(&app, Method::GET, "/api/v1/me")).await;
    assert_eq!(s, StatusCode::OK, "who she is stays readable");

    // Enrolment: the URI names Weir and her; a wrong code is refused.
    let (s, enrol) = send(ivy.req(&app, Method::POST, "/api/v1/me/mfa")).await;
    assert_eq!(s, StatusCode::CREATED, "{enrol}");
    let secret = enrol["data"]["secret"].as_str().unwrap().to_owned();
    let uri = enrol["data"]["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Weir:ivy%40acme.example?") && uri.contains(&secret), "{uri}");
    let wrong = if code_at(&secret, now()) == "000000" { "111111" } else { "000000" };
    let (s, _) = send(ivy.req(&app, Method::POST, "/api/v1/me/mfa/confirm").json(&json!({"code": wrong}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let first = code_at(&secret, now());
    let (s, confirmed) =
        send(ivy.req(&app, Method::POST, "/api/v1/me/mfa/confirm").json(&json!({"code": first}))).await;
    assert_eq!(s, StatusCode::OK, "{confirmed}");
    let recovery: Vec<String> = confirmed["data"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let (s, _) = send(ivy.req(&app, Method::GET, "/api/v1/integration/connectors")).await;
    assert_eq!(s, StatusCode::OK, "enrolled: no longer limited");
    // Replacing the factor needs the password (a session alone cannot take it over).
    let (s, _) = send(ivy.req(&app, Method::POST, "/api/v1/me/mfa")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) =
        send(ivy.req(&app, Method::POST, "/api/v1/me/mfa").json(&json!({"password": "not-the-password"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Sign-in now takes two steps; the code used at enrolment is spent.
    let token = challenge(&app).await;
    let res = second(&app, json!({"mfa_token": token, "code": first})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a code works once");
    // The next step's code (one step of skew is allowed) signs her in.
    let next = code_at(&secret, now() + 30);
    let res = second(&app, json!({"mfa_token": token, "code": next})).await;
    let signed = Browser::from(res).await;
    assert_eq!(signed.session["must_enrol_mfa"], false);
    let res = second(&app, json!({"mfa_token": token, "code": code_at(&secret, now() + 30)})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a challenge works once");

    // A recovery code works once, however it is typed.
    let token = challenge(&app).await;
    let typed = recovery[3].to_lowercase().replace('-', " ");
    Browser::from(second(&app, json!({"mfa_token": token, "recovery_code": typed})).await).await;
    let token = challenge(&app).await;
    let res = second(&app, json!({"mfa_token": token, "recovery_code": recovery[3]})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a recovery code works once");
    let res = second(&app, json!({"mfa_token": "forged", "code": "123456"})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let (_, audit) = app.call(Method::GET, "/api/v1/integration/audit-logs?per_page=100", Some(&admin), None).await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"user.mfa_enabled") && actions.contains(&"tenant.settings_updated"), "{actions:?}");
    assert!(!audit.to_string().contains(&secret), "the key is never audited");
    let methods: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "session.created")
        .filter_map(|e| e["details"]["method"].as_str())
        .collect();
    assert!(methods.contains(&"password+totp") && methods.contains(&"password+recovery_code"), "{methods:?}");
}
