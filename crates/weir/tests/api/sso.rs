//! Single sign-on with a real identity provider (issue 19): panva's
//! `oidc-provider`, started per test with node (`tests/support/oidc.rs`).
//! The flow is driven as a browser would (cookies carried by hand,
//! redirects followed one by one): Weir's start → the provider's login
//! form → back to Weir's callback. Checked: settings validated, the secret
//! never shown; people provisioned just in time with the role from their
//! groups (an invited person linked and activated); refusals for a wrong
//! `aud`, an expired ID token, a bad nonce, a domain not allowed, no role,
//! a replayed state and a state from another browser, each audited and
//! none leaving a session (`sso_refusals.rs`); an SSO-only tenant refusing
//! passwords; and the TOTP step after SSO for a person with a second factor.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, send};

#[path = "../support/oidc.rs"]
pub(crate) mod oidc;
use oidc::{CLIENT_ID, CLIENT_SECRET, Idp, password_of};

backend_tests!(
    sso_settings_are_checked_and_the_secret_never_shown,
    people_sign_in_through_the_provider_with_the_role_from_their_groups,
    an_sso_only_tenant_refuses_passwords_and_the_token_form,
    an_sso_sign_in_takes_the_second_factor_when_one_is_enrolled
);

pub(crate) const SETTINGS: &str = "/api/v1/settings/sso";
pub(crate) const PASSWORD: &str = "velvet-otter-quarry-51";

/// The settings of the test provider, as an admin would send them.
pub fn settings_for(idp: &Idp) -> Value {
    json!({
        "issuer_url": idp.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "allowed_domains": ["acme.example"],
        "scopes": ["groups"],
        "role_claim": "groups",
        "role_mapping": {"weir-admins": "admin", "weir-operators": "operator"},
    })
}

/// A server with tenant `acme`, its admin token and a provider set up for it.
pub(crate) async fn set_up(backend: Backend) -> Option<(TestApp, Idp, String)> {
    let app = TestApp::spawn(backend).await?;
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let idp = Idp::start(&app.url("/api/v1/sso/acme/callback")).await;
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(settings_for(&idp))).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    Some((app, idp, admin))
}

/// Cookies of one site, by name.
#[derive(Default)]
pub(crate) struct Jar(Vec<(String, String)>);

impl Jar {
    fn keep(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub(crate) fn header(&self) -> String {
        self.0.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One browser: its cookies at Weir and at the provider.
pub(crate) struct Flow {
    pub(crate) http: reqwest::Client,
    pub(crate) weir: Jar,
    idp: Jar,
}

fn location(res: &reqwest::Response, base: &str) -> String {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a redirect was expected");
    let to = res.headers()["location"].to_str().unwrap();
    if to.starts_with('/') { format!("{base}{to}") } else { to.to_owned() }
}

impl Flow {
    pub(crate) fn new() -> Flow {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Flow { http, weir: Jar::default(), idp: Jar::default() }
    }

    /// Starts at Weir, signs in at the provider as `login`; answers the URL
    /// the provider sends the browser back to (Weir's callback).
    pub(crate) async fn through_provider(&mut self, app: &TestApp, idp: &Idp, login: &str) -> String {
        let res = self.http.get(app.url("/api/v1/sso/acme/start")).send().await.unwrap();
        self.weir.keep(&res);
        assert!(self.weir.get("weir_sso").is_some(), "the start binds the browser");
        let authorize = location(&res, &app.base);
        assert!(authorize.starts_with(&idp.issuer), "{authorize}");
        for param in ["code_challenge_method=S256", "state=", "nonce=", "scope=openid"] {
            assert!(authorize.contains(param), "{param} in {authorize}");
        }
        let res = self.http.get(&authorize).header("cookie", self.idp.header()).send().await.unwrap();
        self.idp.keep(&res);
        let form = location(&res, &idp.issuer);
        let res = self
            .http
            .post(&form)
            .header("cookie", self.idp.header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("login={login}&password={}", password_of(login)))
            .send()
            .await
            .unwrap();
        self.idp.keep(&res);
        let resume = location(&res, &idp.issuer);
        let res = self.http.get(&resume).header("cookie", self.idp.header()).send().await.unwrap();
        self.idp.keep(&res);
        let back = location(&res, &idp.issuer);
        assert!(back.starts_with(&app.url("/api/v1/sso/acme/callback?")), "{back}");
        back
    }

    pub(crate) async fn callback(&mut self, url: &str) -> reqwest::Response {
        let res = self.http.get(url).header("cookie", self.weir.header()).send().await.unwrap();
        self.weir.keep(&res);
        res
    }

    /// The whole sign-in as `login`; answers the callback's status and body.
    pub(crate) async fn sign_in(&mut self, app: &TestApp, idp: &Idp, login: &str) -> (StatusCode, Value) {
        let back = self.through_provider(app, idp, login).await;
        let res = self.callback(&back).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

pub(crate) async fn audit_actions(app: &TestApp, admin: &str) -> Vec<Value> {
    let (s, out) = app.call(Method::GET, "/api/v1/integration/audit-logs?per_page=100", Some(admin), None).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    out["data"].as_array().unwrap().clone()
}

pub(crate) async fn users(app: &TestApp, admin: &str) -> Vec<Value> {
    let (s, out) = app.call(Method::GET, "/api/v1/users", Some(admin), None).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    out["data"].as_array().unwrap().clone()
}

async fn sso_settings_are_checked_and_the_secret_never_shown(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (_, operator) = app.token(&tenant, "operator").await;
    let idp = Idp::start(&app.url("/api/v1/sso/acme/callback")).await;
    let good = settings_for(&idp);

    assert_eq!(app.call(Method::GET, SETTINGS, Some(&admin), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::PUT, SETTINGS, Some(&operator), Some(good.clone())).await.0, StatusCode::FORBIDDEN);
    let bad = json!({"issuer_url": "ftp://idp", "client_id": "", "allowed_domains": [],
        "role_mapping": {"weir-admins": "root"}, "client_secret": CLIENT_SECRET});
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    for field in ["issuer_url", "client_id", "allowed_domains", "role_mapping"] {
        assert!(out["errors"][field].is_array(), "{field}: {out}");
    }
    let mut no_secret = good.clone();
    no_secret.as_object_mut().unwrap().remove("client_secret");
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(no_secret.clone())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    assert!(out["errors"]["client_secret"].is_array(), "{out}");
    // Weir itself is no OpenID provider: discovery fails, and says so.
    let mut not_a_provider = good.clone();
    not_a_provider["issuer_url"] = json!(app.base);
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(not_a_provider)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    assert!(out["errors"]["issuer_url"][0].as_str().unwrap().contains("discovery"), "{out}");

    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(good)).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["data"]["client_secret_set"], true);
    assert_eq!(out["data"]["redirect_uri"], app.url("/api/v1/sso/acme/callback"));
    assert_eq!(out["data"]["role_mapping"]["weir-admins"], "admin");
    assert_eq!(out["data"]["sign_in_url"], "/#/signin?tenant=acme");
    // Omitting the secret later keeps the stored one.
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(no_secret)).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let (s, shown) = app.call(Method::GET, SETTINGS, Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    let audit = audit_actions(&app, &admin).await;
    let configured = audit.iter().filter(|e| e["action"] == "sso.configured").count();
    assert_eq!(configured, 2, "{audit:?}");
    for text in [shown.to_string(), out.to_string(), Value::Array(audit).to_string()] {
        assert!(!text.contains(CLIENT_SECRET), "the client secret leaked: {text}");
    }
    // A second sign-in works: the kept secret is the right one.
    let mut flow = Flow::new();
    assert_eq!(flow.sign_in(&app, &idp, "ann").await.0, StatusCode::CREATED);

    let (s, found) = app.call(Method::GET, "/api/v1/sso/acme", None, None).await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(found["data"]["start_url"], "/api/v1/sso/acme/start");
    assert_eq!(found["data"]["sso_only"], false);
    assert_eq!(app.call(Method::GET, "/api/v1/sso/nowhere", None, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::DELETE, SETTINGS, Some(&admin), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::GET, "/api/v1/sso/acme", None, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::DELETE, SETTINGS, Some(&admin), None).await.0, StatusCode::NOT_FOUND);
}

async fn people_sign_in_through_the_provider_with_the_role_from_their_groups(backend: Backend) {
    let Some((app, idp, admin)) = set_up(backend).await else { return };
    // Olga was invited as a viewer; her group makes her an operator.
    let body = json!({"email": "Olga@acme.example", "name": "Olga", "role": "viewer"});
    let (s, invited) = app.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{invited}");

    let mut ann = Flow::new();
    let (s, session) = ann.sign_in(&app, &idp, "ann").await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    assert_eq!(session["data"]["role"], "admin");
    assert_eq!(session["data"]["user"]["name"], "Ann Lee");
    assert_eq!(session["data"]["user"]["email"], "ann@acme.example");
    assert!(ann.weir.get("weir_session").is_some());
    assert!(ann.weir.get("weir_sso").is_none(), "the binding cookie is cleared");
    // The session acts with her role: the admin-only users page.
    let res = app.req(Method::GET, "/api/v1/users", None).header("cookie", ann.weir.header()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let mut olga = Flow::new();
    let (s, session) = olga.sign_in(&app, &idp, "olga").await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    assert_eq!(session["data"]["role"], "operator");
    assert_eq!(session["data"]["user"]["id"], invited["data"]["id"], "the invited account is linked, not duplicated");
    let res = app.req(Method::GET, "/api/v1/users", None).header("cookie", olga.weir.header()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "an operator is not an admin");

    let people = users(&app, &admin).await;
    assert_eq!(people.len(), 2, "{people:?}");
    for p in &people {
        assert_eq!(p["status"], "active", "{p}");
        assert!(p["last_sign_in_at"].is_string(), "{p}");
    }
    let role_of = |email: &str| people.iter().find(|p| p["email"] == email).map(|p| p["role"].clone());
    assert_eq!(role_of("ann@acme.example"), Some(json!("admin")));
    assert_eq!(role_of("olga@acme.example"), Some(json!("operator")));

    // Signing in again reuses the account; a browser is sent on to the console.
    let mut again = Flow::new();
    let back = again.through_provider(&app, &idp, "ann").await;
    let res = again.http.get(&back).header("cookie", again.weir.header()).header("accept", "text/html").send().await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/#/overview");
    again.weir.keep(&res);
    assert!(again.weir.get("weir_session").is_some());
    assert_eq!(users(&app, &admin).await.len(), 2);

    // A mapping that would demote the tenant's last admin keeps her admin.
    let mut demote = settings_for(&idp);
    demote.as_object_mut().unwrap().remove("client_secret");
    demote["role_mapping"]["weir-admins"] = json!("viewer");
    assert_eq!(app.call(Method::PUT, SETTINGS, Some(&admin), Some(demote)).await.0, StatusCode::OK);
    let (s, session) = Flow::new().sign_in(&app, &idp, "ann").await;
    assert_eq!((s, session["data"]["role"].clone()), (StatusCode::CREATED, json!("admin")), "{session}");

    let audit = audit_actions(&app, &admin).await;
    let has = |action: &str, pred: &dyn Fn(&Value) -> bool| audit.iter().any(|e| e["action"] == action && pred(e));
    assert!(has("user.updated", &|e| e["details"]["role_kept"].is_string()), "{audit:?}");
    assert!(has("user.provisioned", &|e| e["details"]["email"] == "ann@acme.example"), "{audit:?}");
    assert!(has("user.updated", &|e| e["details"]["changed"]["role"]["to"] == "operator"), "{audit:?}");
    assert!(has("session.created", &|e| e["details"]["method"] == "sso"), "{audit:?}");
}

async fn an_sso_only_tenant_refuses_passwords_and_the_token_form(backend: Backend) {
    let Some((app, idp, admin)) = set_up(backend).await else { return };
    let invite = |email: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let body = json!({"email": email, "name": "Someone", "role": "viewer"});
            let (s, out) = app.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{out}");
            out["data"]["invite_url"].as_str().unwrap().trim_start_matches("/#/invite/").to_owned()
        }
    };
    let accept = |token: String| {
        let app = &app;
        async move {
            let path = format!("/api/v1/invites/{token}/accept");
            send(app.req(Method::POST, &path, None).json(&json!({"password": PASSWORD}))).await.0
        }
    };
    let password_sign_in = || {
        app.req(Method::POST, "/api/v1/session", None).json(&json!({"email": "pia@acme.example", "password": PASSWORD}))
    };
    assert_eq!(accept(invite("pia@acme.example").await).await, StatusCode::OK);
    assert_eq!(send(password_sign_in()).await.0, StatusCode::CREATED);

    let mut only = settings_for(&idp);
    only["sso_only"] = json!(true);
    let (s, out) = app.call(Method::PUT, SETTINGS, Some(&admin), Some(only)).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let (_, found) = app.call(Method::GET, "/api/v1/sso/acme", None, None).await;
    assert_eq!(found["data"]["sso_only"], true);
    let (s, out) = send(password_sign_in()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{out}");
    let token_form = app.req(Method::POST, "/api/v1/session", None).json(&json!({"token": admin}));
    let (s, out) = send(token_form).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{out}");
    assert!(out["detail"].as_str().unwrap().contains("SSO"), "{out}");
    assert_eq!(accept(invite("quinn@acme.example").await).await, StatusCode::CONFLICT);
    // API tokens still work (the way back for an admin), and SSO does.
    assert_eq!(users(&app, &admin).await.len(), 2);
    assert_eq!(Flow::new().sign_in(&app, &idp, "ann").await.0, StatusCode::CREATED);

    let mut open = settings_for(&idp);
    open.as_object_mut().unwrap().remove("client_secret");
    assert_eq!(app.call(Method::PUT, SETTINGS, Some(&admin), Some(open)).await.0, StatusCode::OK);
    assert_eq!(send(password_sign_in()).await.0, StatusCode::CREATED);
}

fn totp_at(secret_base32: &str, unix: i64) -> String {
    use totp_rs::{Algorithm, Secret, TOTP};
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).unwrap().generate(u64::try_from(unix).unwrap())
}

async fn an_sso_sign_in_takes_the_second_factor_when_one_is_enrolled(backend: Backend) {
    let Some((app, idp, admin)) = set_up(backend).await else { return };
    let mut olga = Flow::new();
    let (s, session) = olga.sign_in(&app, &idp, "olga").await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let csrf = session["data"]["csrf_token"].as_str().unwrap().to_owned();
    let as_olga = |method: Method, path: &str| {
        app.req(method, path, None).header("cookie", olga.weir.header()).header("x-csrf-token", &csrf)
    };
    let (s, enrol) = send(as_olga(Method::POST, "/api/v1/me/mfa")).await;
    assert_eq!(s, StatusCode::CREATED, "{enrol}");
    let secret = enrol["data"]["secret"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let (s, out) =
        send(as_olga(Method::POST, "/api/v1/me/mfa/confirm").json(&json!({"code": totp_at(&secret, now)}))).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    // Her group now maps lower; the provider's word waits for her code.
    let mut lower = settings_for(&idp);
    lower.as_object_mut().unwrap().remove("client_secret");
    lower["role_mapping"]["weir-operators"] = json!("viewer");
    assert_eq!(app.call(Method::PUT, SETTINGS, Some(&admin), Some(lower)).await.0, StatusCode::OK);

    let (s, step) = Flow::new().sign_in(&app, &idp, "olga").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{step}");
    assert_eq!(step["data"]["mfa_required"], true);
    assert!(step["data"].get("csrf_token").is_none(), "no session yet");
    let role_now =
        |people: Vec<Value>| people.iter().find(|p| p["email"] == "olga@acme.example").unwrap()["role"].clone();
    assert_eq!(role_now(users(&app, &admin).await), "operator", "nothing written before the second factor");
    let token = step["data"]["mfa_token"].as_str().unwrap();
    let body = json!({"mfa_token": token, "code": totp_at(&secret, now + 30)});
    let (s, signed) = send(app.req(Method::POST, "/api/v1/session/mfa", None).json(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{signed}");
    assert_eq!(signed["data"]["user"]["name"], "Olga Berg");
    assert_eq!(signed["data"]["role"], "viewer");
    assert_eq!(role_now(users(&app, &admin).await), "viewer");
    // A browser is sent to the console's second step.
    let mut browser = Flow::new();
    let back = browser.through_provider(&app, &idp, "olga").await;
    let res = browser.http.get(&back).header("cookie", browser.weir.header()).header("accept", "text/html");
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/#/signin/mfa/"));

    let audit = audit_actions(&app, &admin).await;
    let methods: Vec<&str> = audit
        .iter()
        .filter(|e| e["action"] == "session.created")
        .filter_map(|e| e["details"]["method"].as_str())
        .collect();
    assert!(methods.contains(&"sso") && methods.contains(&"sso+totp"), "{methods:?}");
}
