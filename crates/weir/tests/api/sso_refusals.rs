//! Refused SSO sign-ins against the real provider (issue 19), both
//! backends: ID tokens with a wrong `aud`, an expired `exp` or a bad nonce
//! (re-signed by the provider), a domain not allowed, no role, a replayed
//! state, a state from another browser or finished at another tenant's
//! callback; unverified emails and required claims; and two first sign-ins
//! of one person at once; a provider that never answers (a 422 after the
//! call's 10 s bound, the server answering meanwhile). The flow driver is
//! `sso.rs`'s.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, send};
use crate::sso::{Flow, PASSWORD, SETTINGS, audit_actions, set_up, settings_for, users};

backend_tests!(
    refused_sso_sign_ins_are_audited_and_open_no_session,
    an_unverified_email_is_trusted_only_when_the_tenant_says_so,
    two_first_sign_ins_at_once_make_one_account,
    a_provider_that_never_answers_is_a_clear_422_and_stalls_nothing
);

async fn refused_sso_sign_ins_are_audited_and_open_no_session(backend: Backend) {
    let Some((app, idp, admin)) = set_up(backend).await else { return };
    let now = chrono::Utc::now().timestamp();
    let id_token_cases = [
        (json!({"aud": "someone-else"}), "aud"),
        (json!({"exp": now - 600, "iat": now - 1200}), "exp"),
        (json!({"nonce": "not-the-nonce-of-this-sign-in"}), "nonce"),
    ];
    for (claims, check) in id_token_cases {
        idp.override_next_id_token(claims).await;
        let mut flow = Flow::new();
        let (s, out) = flow.sign_in(&app, &idp, "ann").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{check}: {out}");
        assert_eq!(out["type"], "urn:weir:problem:sso-id-token-invalid", "{out}");
        assert!(out["detail"].as_str().unwrap().contains(check), "{check}: {out}");
        assert!(flow.weir.get("weir_session").is_none(), "{check}: no session");
    }
    for (login, status, kind) in
        [("eve", StatusCode::FORBIDDEN, "sso-domain-not-allowed"), ("nina", StatusCode::FORBIDDEN, "sso-no-role")]
    {
        let mut flow = Flow::new();
        let (s, out) = flow.sign_in(&app, &idp, login).await;
        assert_eq!(s, status, "{login}: {out}");
        assert_eq!(out["type"], format!("urn:weir:problem:{kind}"), "{out}");
        assert!(flow.weir.get("weir_session").is_none());
    }

    // A state works once: a replay, even with the cookie copied, is refused.
    let mut flow = Flow::new();
    let back = flow.through_provider(&app, &idp, "ann").await;
    let copied = flow.weir.header();
    assert_eq!(flow.callback(&back).await.status(), StatusCode::CREATED);
    let (s, out) = send(flow.http.get(&back).header("cookie", &copied)).await;
    assert_eq!((s, out["type"].clone()), (StatusCode::BAD_REQUEST, json!("urn:weir:problem:sso-state-invalid")));

    // Another browser (without the binding cookie) cannot finish a sign-in,
    // nor can another tenant's callback take it (the "mix-up"); the browser
    // that started it still can.
    let mut started = Flow::new();
    let back = started.through_provider(&app, &idp, "ann").await;
    let victim = Flow::new();
    let (s, out) = send(victim.http.get(&back)).await;
    assert_eq!((s, out["type"].clone()), (StatusCode::BAD_REQUEST, json!("urn:weir:problem:sso-other-browser")));
    let beta = app.tenant("beta").await;
    let (_, beta_admin) = app.token(&beta, "admin").await;
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&beta_admin), Some(settings_for(&idp))).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let elsewhere = back.replace("/api/v1/sso/acme/", "/api/v1/sso/beta/");
    let (s, out) = send(started.http.get(&elsewhere).header("cookie", started.weir.header())).await;
    assert_eq!((s, out["type"].clone()), (StatusCode::BAD_REQUEST, json!("urn:weir:problem:sso-other-browser")));
    assert_eq!(started.callback(&back).await.status(), StatusCode::CREATED);
    // The provider's own refusal without the cookie, and nonsense, are 4xx too.
    let (s, out) = send(app.req(Method::GET, "/api/v1/sso/acme/callback?state=x&error=access_denied", None)).await;
    assert_eq!((s, out["type"].clone()), (StatusCode::BAD_REQUEST, json!("urn:weir:problem:sso-other-browser")));
    let (s, _) = send(app.req(Method::GET, "/api/v1/sso/acme/callback", None)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = send(app.req(Method::GET, "/api/v1/sso/nowhere/callback?state=x&code=y", None)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let people = users(&app, &admin).await;
    let emails: Vec<&str> = people.iter().filter_map(|p| p["email"].as_str()).collect();
    assert_eq!(emails, ["ann@acme.example"], "no account for anyone refused");
    let audit = audit_actions(&app, &admin).await;
    // Only genuine sign-ins (their cookie proved them) reach the trail.
    let mut codes: Vec<&str> = audit
        .iter()
        .filter(|e| e["action"] == "sso.sign_in_refused")
        .filter_map(|e| e["details"]["code"].as_str())
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "sso-domain-not-allowed",
            "sso-id-token-invalid",
            "sso-id-token-invalid",
            "sso-id-token-invalid",
            "sso-no-role",
            "sso-state-invalid"
        ],
        "{audit:?}"
    );
    assert!(audit.iter().any(|e| e["details"]["email"] == "eve@elsewhere.example"));
}

async fn an_unverified_email_is_trusted_only_when_the_tenant_says_so(backend: Backend) {
    let Some((app, idp, admin)) = set_up(backend).await else { return };
    // Pia has a password account; her provider sends no email_verified.
    let body = json!({"email": "pia@acme.example", "name": "Pia", "role": "viewer"});
    let (_, invited) = app.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    let token = invited["data"]["invite_url"].as_str().unwrap().trim_start_matches("/#/invite/").to_owned();
    let accept = app.req(Method::POST, &format!("/api/v1/invites/{token}/accept"), None);
    assert_eq!(send(accept.json(&json!({"password": PASSWORD}))).await.0, StatusCode::OK);
    let (s, out) = Flow::new().sign_in(&app, &idp, "pia").await;
    assert_eq!((s, out["type"].clone()), (StatusCode::UNAUTHORIZED, json!("urn:weir:problem:sso-email-unverified")));
    let updated = audit_actions(&app, &admin).await.iter().filter(|e| e["action"] == "user.updated").count();
    assert_eq!(updated, 0, "her account was not linked");

    // Required claims: Eve has no `hd`, so she is refused for that first.
    let mut strict = settings_for(&idp);
    strict.as_object_mut().unwrap().remove("client_secret");
    strict["required_claims"] = json!({"hd": "acme.example"});
    strict["trust_unverified_email"] = json!(true);
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(strict)).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["data"]["required_claims"]["hd"], "acme.example");
    let (s, out) = Flow::new().sign_in(&app, &idp, "eve").await;
    assert_eq!((s, out["type"].clone()), (StatusCode::FORBIDDEN, json!("urn:weir:problem:sso-claim-mismatch")));
    // Trusted now: Pia's own account is linked (not a second one), with her group's role.
    let (s, session) = Flow::new().sign_in(&app, &idp, "pia").await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    assert_eq!(session["data"]["user"]["id"], invited["data"]["id"]);
    assert_eq!(session["data"]["role"], "admin");
    assert_eq!(users(&app, &admin).await.len(), 1);
}

async fn two_first_sign_ins_at_once_make_one_account(backend: Backend) {
    let Some((app, idp, admin)) = set_up(backend).await else { return };
    let (mut one, mut two, mut three) = (Flow::new(), Flow::new(), Flow::new());
    let back_one = one.through_provider(&app, &idp, "nina").await;
    let back_two = two.through_provider(&app, &idp, "ann").await;
    let back_three = three.through_provider(&app, &idp, "ann").await;
    // Ann's two first sign-ins race; Nina's (refused: no role) runs beside them.
    let (a, b, c) = tokio::join!(two.callback(&back_two), three.callback(&back_three), one.callback(&back_one));
    assert_eq!((a.status(), b.status()), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(c.status(), StatusCode::FORBIDDEN);
    let a: Value = a.json().await.unwrap();
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["data"]["user"]["id"], b["data"]["user"]["id"], "one account");
    assert_eq!(users(&app, &admin).await.len(), 1);
}

async fn a_provider_that_never_answers_is_a_clear_422_and_stalls_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    // A "provider" that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let body = json!({"issuer_url": issuer, "client_id": "weir", "client_secret": "s", "allowed_domains": ["acme.example"],
        "role_mapping": {"weir-admins": "admin"}});
    let put = app.call(Method::PUT, SETTINGS, Some(&admin), Some(body));
    let probes = async {
        for _ in 0..5 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let res = app.client.get(app.url("/healthz")).timeout(std::time::Duration::from_secs(2)).send().await;
            assert_eq!(res.map(|r| r.status()).ok(), Some(StatusCode::OK), "the server answers while discovery waits");
        }
    };
    let ((s, out), ()) = tokio::join!(put, probes);
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    assert!(out["errors"]["issuer_url"][0].as_str().unwrap().contains("discovery failed"), "{out}");
    held.abort();
}
