//! People, not tokens (issue 19): invite → accept → sign in with email and
//! password → roles enforced; wrong passwords held back and audited;
//! deactivation ends sessions, tokens and live streams at once; the
//! production approval compares people, whatever token or session each
//! holds; change requests and audit entries name the people.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp, assert_problem, send};

backend_tests!(
    invited_users_sign_in_and_act_with_their_role,
    wrong_passwords_are_held_back_and_audited,
    deactivation_ends_sessions_tokens_and_streams_at_once,
    approval_needs_another_person_whatever_they_hold,
    service_accounts_own_tokens_that_never_exceed_their_role,
    people_see_and_end_their_own_sessions_and_tokens,
    concurrent_wrong_passwords_each_count
);

const PASSWORD: &str = "velvet-otter-quarry-51";
const CONNECTORS: &str = "/api/v1/integration/connectors";

/// A signed-in browser: the cookie and the CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
    session: Value,
}

impl Browser {
    fn req(&self, app: &TestApp, method: Method, path: &str) -> RequestBuilder {
        app.req(method, path, None).header("cookie", &self.cookie).header("x-csrf-token", &self.csrf)
    }
}

/// Invites `email` with `role` as `admin`; answers (user id, invitation token).
async fn invite(app: &TestApp, admin: &str, email: &str, name: &str, role: &str) -> (String, String) {
    let body = json!({"email": email, "name": name, "role": role});
    let (s, out) = app.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{out}");
    assert_eq!(out["data"]["status"], "invited");
    let url = out["data"]["invite_url"].as_str().unwrap();
    let token = url.strip_prefix("/#/invite/").expect("the console's invitation page").to_owned();
    (out["data"]["id"].as_str().unwrap().to_owned(), token)
}

async fn accept(app: &TestApp, token: &str, password: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/invites/{token}/accept");
    send(app.req(Method::POST, &path, None).json(&json!({"password": password}))).await
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Browser {
    let res = app
        .req(Method::POST, "/api/v1/session", None)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let csrf = body["data"]["csrf_token"].as_str().unwrap().to_owned();
    Browser { cookie, csrf, session: body["data"].clone() }
}

/// Invites, accepts and signs in a user.
async fn person(app: &TestApp, admin: &str, email: &str, name: &str, role: &str) -> (String, Browser) {
    let (id, token) = invite(app, admin, email, name, role).await;
    let (s, out) = accept(app, &token, PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    (id, sign_in(app, email, PASSWORD).await)
}

fn password_attempt(app: &TestApp, email: &str, password: &str) -> RequestBuilder {
    app.req(Method::POST, "/api/v1/session", None).json(&json!({"email": email, "password": password}))
}

async fn invited_users_sign_in_and_act_with_their_role(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    // The system side invites the first admin.
    let first = json!({"email": "Ann.Lee@Acme.Example", "name": "Ann Lee", "role": "admin"});
    let path = format!("/api/v1/system/tenants/{tenant}/users");
    let (s, out) = app.call(Method::POST, &path, Some(SYSTEM_TOKEN), Some(first.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{out}");
    let ann_token = out["data"]["invite_url"].as_str().unwrap().trim_start_matches("/#/invite/").to_owned();
    let (s, _) = app.call(Method::POST, &path, Some(SYSTEM_TOKEN), Some(first)).await;
    assert_eq!(s, StatusCode::CONFLICT, "an email is unique per tenant");

    // Weak passwords are refused with a field error; the link stays usable.
    for weak in ["short", "password1234", "ann.lee@acme.example", "Ann.Lee2026!"] {
        let (s, problem) = accept(&app, &ann_token, weak).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{weak}: {problem}");
        assert!(problem["errors"]["password"].is_array(), "{problem}");
    }
    let (s, out) = accept(&app, &ann_token, PASSWORD).await;
    assert_eq!((s, out["data"]["status"].as_str()), (StatusCode::OK, Some("active")), "{out}");
    assert_eq!(accept(&app, &ann_token, PASSWORD).await.0, StatusCode::NOT_FOUND, "the link works once");
    assert_eq!(accept(&app, "not-a-real-invitation", PASSWORD).await.0, StatusCode::NOT_FOUND);

    // The email is compared case-insensitively.
    let ann = sign_in(&app, "ann.lee@acme.example", PASSWORD).await;
    assert_eq!(ann.session["user"]["name"], "Ann Lee");
    let (s, me) = send(ann.req(&app, Method::GET, "/api/v1/me")).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!((me["data"]["kind"].as_str(), me["data"]["role"].as_str()), (Some("user"), Some("admin")));
    assert!(me["data"]["principal_id"].as_str().unwrap().starts_with("user:"));

    // Ann invites a viewer, who can read but not invite.
    let (bob_id, bob) = person(&app, &admin_token_of(&app, &ann).await, "bob@acme.example", "Bob", "viewer").await;
    let (s, _) = send(bob.req(&app, Method::GET, CONNECTORS)).await;
    assert_eq!(s, StatusCode::OK, "a viewer reads");
    let invite_carl = json!({"email": "carl@acme.example", "name": "Carl", "role": "viewer"});
    assert_problem(bob.req(&app, Method::POST, "/api/v1/users").json(&invite_carl), StatusCode::FORBIDDEN).await;
    let connector = json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"});
    assert_problem(bob.req(&app, Method::POST, CONNECTORS).json(&connector), StatusCode::FORBIDDEN).await;

    // Promoted to operator, Bob's next request acts as one; the listing shows it.
    let (s, out) =
        send(ann.req(&app, Method::PATCH, &format!("/api/v1/users/{bob_id}")).json(&json!({"role": "operator"}))).await;
    assert_eq!((s, out["data"]["role"].as_str()), (StatusCode::OK, Some("operator")), "{out}");
    let (_, me) = send(bob.req(&app, Method::GET, "/api/v1/me")).await;
    assert_eq!(me["data"]["role"], "operator");
    let (s, list) = send(ann.req(&app, Method::GET, "/api/v1/users")).await;
    assert_eq!(s, StatusCode::OK);
    let emails: Vec<&str> = list["data"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["Ann.Lee@Acme.Example", "bob@acme.example"]);
    assert!(list["data"][1]["last_sign_in_at"].is_string());
    assert!(!list.to_string().contains("argon2"), "no hash in any answer");

    // Another tenant's admin sees none of it.
    let other = app.tenant("globex").await;
    let (_, globex) = app.token(&other, "admin").await;
    assert_problem(app.req(Method::GET, &format!("/api/v1/users/{bob_id}"), Some(&globex)), StatusCode::NOT_FOUND)
        .await;
    let (_, theirs) = app.call(Method::GET, "/api/v1/users", Some(&globex), None).await;
    assert_eq!(theirs["meta"]["total"], 0);
}

/// An admin API token minted through a signed-in admin's session (owned by them).
async fn admin_token_of(app: &TestApp, browser: &Browser) -> String {
    let body = json!({"name": "cli", "role": "admin"});
    let (s, out) = send(browser.req(app, Method::POST, "/api/v1/tokens").json(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{out}");
    out["data"]["token"].as_str().unwrap().to_owned()
}

async fn wrong_passwords_are_held_back_and_audited(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (_, _dana) = person(&app, &admin, "dana@acme.example", "Dana", "viewer").await;

    // An unknown email and a wrong password get the same answer.
    let unknown =
        assert_problem(password_attempt(&app, "nobody@acme.example", PASSWORD), StatusCode::UNAUTHORIZED).await;
    let mut refused = 0;
    let held = loop {
        let res = password_attempt(&app, "dana@acme.example", "wrong-password-guess").send().await.unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break res;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["detail"], unknown["detail"], "the answer does not say whether the email exists");
        refused += 1;
        assert!(refused <= 7, "held back after the free failures");
    };
    assert_eq!(refused, 6, "five free failures; the sixth starts the hold");
    let retry: u64 = held.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "growing from one second: {retry}");
    // Held back even with the right password, until the hold passes.
    assert_problem(password_attempt(&app, "dana@acme.example", PASSWORD), StatusCode::TOO_MANY_REQUESTS).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    sign_in(&app, "DANA@acme.example", PASSWORD).await;

    let (_, audit) = app.call(Method::GET, "/api/v1/integration/audit-logs?per_page=100", Some(&admin), None).await;
    let failed: Vec<&Value> =
        audit["data"].as_array().unwrap().iter().filter(|e| e["action"] == "session.sign_in_failed").collect();
    assert_eq!(failed.len(), 6, "every failed sign-in is audited");
    assert_eq!(failed[0]["details"]["email"], "dana@acme.example");
    assert!(!audit.to_string().contains("wrong-password-guess"), "never the password");
    let created = audit["data"].as_array().unwrap().iter().find(|e| e["action"] == "session.created").unwrap();
    assert_eq!(created["actor_name"], "Dana <dana@acme.example>", "entries name the person");
}

async fn deactivation_ends_sessions_tokens_and_streams_at_once(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (erin_id, erin) = person(&app, &admin, "erin@acme.example", "Erin", "admin").await;
    let erin_token = admin_token_of(&app, &erin).await;
    let (s, _) = app.call(Method::GET, CONNECTORS, Some(&erin_token), None).await;
    assert_eq!(s, StatusCode::OK, "her token works");
    // The stream re-checks every 15 s by default; deactivation closes it now.
    let stream = app.req(Method::GET, "/api/v1/integration/stream", Some(&erin_token)).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    let (s, out) = app.call(Method::DELETE, &format!("/api/v1/users/{erin_id}"), Some(&admin), None).await;
    assert_eq!((s, out["data"]["status"].as_str()), (StatusCode::OK, Some("deactivated")), "{out}");
    assert_problem(erin.req(&app, Method::GET, "/api/v1/session"), StatusCode::UNAUTHORIZED).await;
    assert_problem(app.req(Method::GET, CONNECTORS, Some(&erin_token)), StatusCode::UNAUTHORIZED).await;
    assert_problem(password_attempt(&app, "erin@acme.example", PASSWORD), StatusCode::UNAUTHORIZED).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async move {
        let mut stream = stream;
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the open stream closed at once, not at its next check");
}

async fn approval_needs_another_person_whatever_they_hold(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, bootstrap) = app.token(&tenant, "admin").await;
    let (_, fay) = person(&app, &bootstrap, "fay@acme.example", "Fay Wu", "admin").await;
    let (_, gus) = person(&app, &bootstrap, "gus@acme.example", "Gus Oh", "admin").await;
    let fay_token = admin_token_of(&app, &fay).await;
    let body = json!({"code": "erp", "name": "ERP", "type": "http",
        "config": {"base_url": "https://erp.example.com", "auth": {"type": "bearer"}}, "credentials": {"token": "t1"}});
    let (s, created) = send(fay.req(&app, Method::POST, CONNECTORS).json(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let url = format!("{CONNECTORS}/{}", created["data"]["id"].as_str().unwrap());
    let patch = json!({"config": {"base_url": "https://erp-v2.example.com", "auth": {"type": "bearer"}}});
    let (s, held) = send(fay.req(&app, Method::PATCH, &url).json(&patch)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{held}");
    assert_eq!(held["data"]["change_request"]["requested_by_name"], "Fay Wu <fay@acme.example>");
    let approve = format!(
        "/api/v1/integration/change-requests/{}/approve",
        held["data"]["change_request"]["id"].as_str().unwrap()
    );

    // Fay, through her session, her token, or a token that token minted: 403.
    let minted = {
        let (s, out) = app
            .call(Method::POST, "/api/v1/tokens", Some(&fay_token), Some(json!({"name": "x", "role": "admin"})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{out}");
        out["data"]["token"].as_str().unwrap().to_owned()
    };
    assert_problem(fay.req(&app, Method::POST, &approve), StatusCode::FORBIDDEN).await;
    assert_problem(app.req(Method::POST, &approve, Some(&fay_token)), StatusCode::FORBIDDEN).await;
    assert_problem(app.req(Method::POST, &approve, Some(&minted)), StatusCode::FORBIDDEN).await;
    let again = sign_in(&app, "fay@acme.example", PASSWORD).await;
    assert_problem(again.req(&app, Method::POST, &approve), StatusCode::FORBIDDEN).await;

    // Nor an identity Fay made: a service account's token, or an account she invited.
    let (_, account) = send(
        fay.req(&app, Method::POST, "/api/v1/service-accounts").json(&json!({"name": "fay-bot", "role": "admin"})),
    )
    .await;
    let body = json!({"name": "bot", "role": "admin", "service_account_id": account["data"]["id"]});
    let (_, bot) = send(fay.req(&app, Method::POST, "/api/v1/tokens").json(&body)).await;
    let bot = bot["data"]["token"].as_str().unwrap().to_owned();
    let refused = assert_problem(app.req(Method::POST, &approve, Some(&bot)), StatusCode::FORBIDDEN).await;
    assert!(refused["detail"].as_str().unwrap().contains("service account"), "{refused}");
    let fay_token2 = admin_token_of(&app, &fay).await;
    let (_, alt) = person(&app, &fay_token2, "fay.alt@acme.example", "Fay Alt", "admin").await;
    let refused = assert_problem(alt.req(&app, Method::POST, &approve), StatusCode::FORBIDDEN).await;
    assert!(refused["detail"].as_str().unwrap().contains("invited"), "{refused}");

    // Gus, another person, applies it; the request names both.
    let (s, out) = send(gus.req(&app, Method::POST, &approve)).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["data"]["connector"]["config"]["base_url"], "https://erp-v2.example.com");
    assert_eq!(out["data"]["change_request"]["decided_by_name"], "Gus Oh <gus@acme.example>");
    assert_eq!(out["data"]["change_request"]["requested_by_name"], "Fay Wu <fay@acme.example>");
}

async fn service_accounts_own_tokens_that_never_exceed_their_role(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let sa = json!({"name": "CI pipeline", "role": "operator"});
    let (s, created) = app.call(Method::POST, "/api/v1/service-accounts", Some(&admin), Some(sa.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let sa_id = created["data"]["id"].as_str().unwrap().to_owned();
    let (s, _) = app.call(Method::POST, "/api/v1/service-accounts", Some(&admin), Some(sa)).await;
    assert_eq!(s, StatusCode::CONFLICT, "names are unique per tenant");

    // Never above the account's role; an expiry in days.
    let too_high = json!({"name": "deploy", "role": "admin", "service_account_id": sa_id});
    let (s, _) = app.call(Method::POST, "/api/v1/tokens", Some(&admin), Some(too_high)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_expiry = json!({"name": "deploy", "role": "viewer", "expires_in_days": 0});
    let (s, problem) = app.call(Method::POST, "/api/v1/tokens", Some(&admin), Some(bad_expiry)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem["errors"]["expires_in_days"].is_array(), "{problem}");
    let body = json!({"name": "deploy", "role": "operator", "service_account_id": sa_id, "expires_in_days": 30});
    let (s, minted) = app.call(Method::POST, "/api/v1/tokens", Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{minted}");
    assert_eq!(minted["data"]["owner"], format!("service_account:{sa_id}"));
    let expires: chrono::DateTime<chrono::Utc> = minted["data"]["expires_at"].as_str().unwrap().parse().unwrap();
    assert!((expires - chrono::Utc::now() - chrono::Duration::days(30)).num_minutes().abs() < 5);
    let ci = minted["data"]["token"].as_str().unwrap().to_owned();
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(&ci), None).await;
    assert_eq!((me["data"]["kind"].as_str(), me["data"]["role"].as_str()), (Some("token"), Some("operator")));

    // Lowering the account lowers its token at once; deactivating ends it.
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/service-accounts/{sa_id}"),
            Some(&admin),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(&ci), None).await;
    assert_eq!(me["data"]["role"], "viewer");
    let (_, tokens) = app.call(Method::GET, "/api/v1/tokens", Some(&admin), None).await;
    let listed = tokens["data"].as_array().unwrap().iter().find(|t| t["name"] == "deploy").unwrap().clone();
    assert_eq!(listed["owner"], format!("service_account:{sa_id}"));
    assert!(listed["expires_at"].is_string());
    let (s, out) = app.call(Method::DELETE, &format!("/api/v1/service-accounts/{sa_id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert!(out["data"]["deactivated_at"].is_string());
    assert_problem(app.req(Method::GET, "/api/v1/me", Some(&ci)), StatusCode::UNAUTHORIZED).await;
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "x", "role": "viewer", "service_account_id": sa_id})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no tokens for a deactivated account");

    // Another tenant sees none of it.
    let other = app.tenant("globex").await;
    let (_, globex) = app.token(&other, "admin").await;
    assert_problem(
        app.req(Method::GET, &format!("/api/v1/service-accounts/{sa_id}"), Some(&globex)),
        StatusCode::NOT_FOUND,
    )
    .await;
    let body = json!({"name": "steal", "role": "viewer", "service_account_id": sa_id});
    let (s, _) = app.call(Method::POST, "/api/v1/tokens", Some(&globex), Some(body)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a token for another tenant's account");
}

async fn people_see_and_end_their_own_sessions_and_tokens(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (_, laptop) = person(&app, &admin, "lee@acme.example", "Lee", "admin").await;
    let phone = sign_in(&app, "lee@acme.example", PASSWORD).await;
    let (_, other) = person(&app, &admin, "max@acme.example", "Max", "admin").await;

    let (s, list) = send(laptop.req(&app, Method::GET, "/api/v1/me/sessions")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let sessions = list["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    // Max cannot end Lee's session; Lee can.
    assert_problem(other.req(&app, Method::DELETE, &format!("/api/v1/me/sessions/{phone_id}")), StatusCode::NOT_FOUND)
        .await;
    let (s, _) = send(laptop.req(&app, Method::DELETE, &format!("/api/v1/me/sessions/{phone_id}"))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(phone.req(&app, Method::GET, "/api/v1/session"), StatusCode::UNAUTHORIZED).await;
    let (s, _) = send(laptop.req(&app, Method::GET, "/api/v1/session")).await;
    assert_eq!(s, StatusCode::OK, "the current session stays");

    let token = admin_token_of(&app, &laptop).await;
    let (_, mine) = send(laptop.req(&app, Method::GET, "/api/v1/me/tokens")).await;
    let listed = mine["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{mine}");
    let token_id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_problem(other.req(&app, Method::DELETE, &format!("/api/v1/me/tokens/{token_id}")), StatusCode::NOT_FOUND)
        .await;
    let (s, _) = send(laptop.req(&app, Method::DELETE, &format!("/api/v1/me/tokens/{token_id}"))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(app.req(Method::GET, "/api/v1/me", Some(&token)), StatusCode::UNAUTHORIZED).await;
    // A bearer token has no sessions of its own.
    assert_problem(app.req(Method::GET, "/api/v1/me/sessions", Some(&admin)), StatusCode::UNPROCESSABLE_ENTITY).await;
}

/// Failures sent at once all count (one statement adds each), so a burst
/// earns the hold its size deserves: 10 failures hold the account 16 s.
async fn concurrent_wrong_passwords_each_count(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    person(&app, &admin, "ned@acme.example", "Ned", "viewer").await;
    let burst = (0..10).map(|_| password_attempt(&app, "ned@acme.example", "a-wrong-guess-0000").send());
    for res in futures::future::join_all(burst).await {
        assert_eq!(res.unwrap().status(), StatusCode::UNAUTHORIZED, "each was checked before any hold");
    }
    let held = password_attempt(&app, "ned@acme.example", PASSWORD).send().await.unwrap();
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = held.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 8, "all ten failures counted (2^(10-5-1) = 16 s), not fewer: {retry}");
}
