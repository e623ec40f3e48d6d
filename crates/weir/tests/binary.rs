//! The `weir` binary itself: first start in an empty directory, the
//! one-time system token, SIGTERM with a request in flight, the CLI's
//! tenant/token commands, and clear errors on bad configuration.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_weir");

fn weir(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("WEIR_") {
            c.env_remove(k);
        }
    }
    // Any free port unless a test says otherwise: tests run side by side.
    c.env("WEIR_LOG", "warn").env("WEIR_LISTEN", "127.0.0.1:0");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

async fn wait_ready(base: &str, child: &mut Child) {
    let c = client();
    for _ in 0..400 {
        assert!(child.try_wait().unwrap().is_none(), "weir exited during start-up");
        if let Ok(r) = c.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("weir never became ready");
}

async fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("exits within 15 s").unwrap()
}

#[tokio::test]
async fn first_start_in_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = weir(dir.path())
        .args(["serve"])
        .env("WEIR_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let token = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.trim().starts_with("weir_") {
                return line.trim().to_owned();
            }
        }
        panic!("no system token printed");
    })
    .await
    .expect("token printed within 30 s");
    wait_ready(&base, &mut child).await;
    assert!(dir.path().join("weir-data/weir.db").exists(), "embedded database created in ./weir-data");

    let c = client();
    let r = c
        .post(format!("{base}/api/v1/system/tenants"))
        .bearer_auth(&token)
        .json(&json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the printed token is the system token");

    let status = sigterm_and_wait(&mut child).await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
    }
    assert!(!rest.contains(&token), "printed once");

    // Second start: the stored hash is kept; nothing new is printed.
    let mut child = weir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(&base, &mut child).await;
    let r = c.get(format!("{base}/api/v1/system/tenants")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["meta"]["total"], 1, "data survived the restart");
    assert!(sigterm_and_wait(&mut child).await.success());
    let mut out = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        out.push_str(&line);
    }
    assert!(!out.contains("weir_"), "no new token on the second start: {out}");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let system = "weir_binary_test_system_token_abcdefgh";
    let mut child = weir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("WEIR_SYSTEM_TOKEN", system)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(&base, &mut child).await;

    // A request whose body arrives slowly: half now, half after SIGTERM.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let request = tokio::spawn(
        client()
            .post(format!("{base}/api/v1/system/tenants"))
            .bearer_auth(system)
            .header("content-type", "application/json")
            .body(body)
            .send(),
    );
    tx.send(Ok(br#"{"slug": "inflight", "#.to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(child.try_wait().unwrap().is_none(), "still running while a request is in flight");
    tx.send(Ok(br#""name": "In flight"}"#.to_vec())).await.unwrap();
    drop(tx);
    let res = request.await.unwrap().expect("in-flight request answered");
    assert_eq!(res.status(), 201);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "{status:?}");
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn cli_creates_tenants_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let out = weir(dir.path()).args(["tenant", "create", "--slug", "acme", "--name", "Acme"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tenant: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tenant["slug"], "acme");

    let dup = weir(dir.path()).args(["tenant", "create", "--slug", "acme", "--name", "Again"]).output().await.unwrap();
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let out = weir(dir.path())
        .args(["token", "create", "--tenant", "acme", "--name", "ops", "--role", "operator"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((token["role"].as_str(), token["tenant_id"].as_str()), (Some("operator"), tenant["id"].as_str()));
    let secret = token["token"].as_str().unwrap().to_owned();

    let bad = weir(dir.path()).args(["token", "create", "--tenant", "nobody", "--name", "x"]).output().await.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no tenant"));

    // `weir user create` invites the first admin and prints the link.
    let out = weir(dir.path())
        .args(["user", "create", "--tenant", "acme", "--email", "Ann@Acme.Example", "--role", "admin"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((user["status"].as_str(), user["name"].as_str()), (Some("invited"), Some("Ann")));
    let invite = user["invite_url"].as_str().unwrap().strip_prefix("/#/invite/").unwrap().to_owned();
    let again = weir(dir.path())
        .args(["user", "create", "--tenant", "acme", "--email", "ann@acme.example"])
        .output()
        .await
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // `weir migrate` is idempotent, then the server accepts the CLI's token.
    for _ in 0..2 {
        assert!(weir(dir.path()).arg("migrate").status().await.unwrap().success());
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = weir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(&base, &mut child).await;
    let r = client().get(format!("{base}/api/v1/tokens")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), 403, "recognised as an operator (tokens need admin)");
    // The invited admin sets a password and signs in.
    let accepted = client()
        .post(format!("{base}/api/v1/invites/{invite}/accept"))
        .json(&serde_json::json!({"password": "velvet-otter-quarry-51"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let signed_in = client()
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"email": "ann@acme.example", "password": "velvet-otter-quarry-51"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 201);
    assert!(sigterm_and_wait(&mut child).await.success());
}

#[tokio::test]
async fn bad_configuration_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 4] = [
        ("WEIR_LISTEN", "not-an-address", "WEIR_LISTEN"),
        ("WEIR_DATABASE_URL", "mysql://localhost/x", "sqlite:// or postgres://"),
        ("WEIR_MASTER_KEY", "dG9vIHNob3J0", "32 bytes"),
        ("WEIR_MAX_BODY_BYTES", "lots", "WEIR_MAX_BODY_BYTES"),
    ];
    for (var, value, expected) in cases {
        let out = weir(dir.path()).arg("serve").env(var, value).output().await.unwrap();
        assert!(!out.status.success(), "{var}={value} must be refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{var}: {err}");
    }
    let out = weir(dir.path())
        .arg("serve")
        .env("WEIR_DATABASE_URL", "postgres://weir:hunter2@127.0.0.1:1/none")
        .env("WEIR_DB_ACQUIRE_TIMEOUT_SECS", "1")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open the database") && !err.contains("hunter2"), "{err}");
    assert!(
        !dir.path().join("weir-data").exists() || dir.path().join("weir-data").read_dir().unwrap().next().is_none()
    );
}

#[tokio::test]
async fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = weir(dir.path()).arg("--version").output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = weir(dir.path()).args(["serve", "--help"]).output().await.unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--listen", "--database-url", "--system-token", "--master-key", "--redis-url", "WEIR_LISTEN"] {
        assert!(help.contains(flag), "{flag} missing from serve --help");
    }
}

/// Creates tenant `acme` with the system token; returns an admin token.
async fn tenant_admin(c: &reqwest::Client, base: &str, system: &str) -> String {
    let post = |path: String, body: Value| c.post(format!("{base}{path}")).bearer_auth(system).json(&body).send();
    let t: Value = post("/api/v1/system/tenants".into(), json!({"slug": "acme", "name": "Acme"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tid = t["data"]["id"].as_str().unwrap();
    let tok: Value = post(format!("/api/v1/system/tenants/{tid}/tokens"), json!({"name": "a", "role": "admin"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tok["data"]["token"].as_str().unwrap().to_owned()
}

/// Starts `weir serve` with `extra` environment; returns the child and base URL.
async fn serve(dir: &Path, extra: &[(&str, String)]) -> (Child, String) {
    let port = free_port();
    let mut cmd = weir(dir);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]).stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &mut child).await;
    (child, base)
}

/// One captured answer: what it was, its headers and body, and whether it
/// is one of the answers that reveal a secret once by design (a token or
/// receiver secret just issued, a session just opened).
struct Captured {
    what: String,
    text: String,
    reveals: bool,
}

async fn capture(log: &mut Vec<Captured>, what: &str, reveals: bool, r: reqwest::RequestBuilder) -> (u16, Value) {
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = format!("{:?}", res.headers());
    let bytes = res.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    log.push(Captured { what: what.to_owned(), text: format!("{headers}\n{text}"), reveals });
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Secrets hygiene (issue 9): a run with distinctive secret values — the
/// system and API tokens, the master key, the database password
/// (PostgreSQL), connector credentials, receiver secrets (set, used,
/// rotated), a destination signing secret, a dashboard session's cookie
/// and CSRF token — then every trace-level log line and every answer
/// captured (except the ones that reveal a secret once by design) is
/// searched for each of them.
async fn secrets_stay_out_of_logs_and_responses(backend: helpers::Backend) {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = match backend {
        helpers::Backend::Sqlite => (format!("sqlite://{}/weir.db", dir.path().display()), None),
        helpers::Backend::Postgres => {
            if helpers::skip_postgres() {
                return;
            }
            let (url, guard) = helpers::create_pg_database().await;
            // Trust authentication accepts (and ignores) a password: a distinctive one to look for.
            let mut url = url::Url::parse(&url).unwrap();
            url.set_password(Some("TOPSECRET-dbpass-4410")).unwrap();
            (url.to_string(), Some(guard))
        }
    };
    let b64 = |raw: &[u8]| base64::engine::general_purpose::STANDARD.encode(raw);
    let system = "weir_log_test_system_token_0123456789";
    let master_key = b64(b"TOPSECRET-master-key-0123456789A");
    let destination_secret = format!("whsec_{}", b64(b"TOPSECRET-destination-key-000001"));
    let secret = "TOPSECRET-walrus-9182";
    let log_path = dir.path().join("weir.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = weir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("WEIR_LOG", "trace")
        .env("WEIR_DATABASE_URL", &db_url)
        .env("WEIR_SYSTEM_TOKEN", system)
        .env("WEIR_MASTER_KEY", &master_key)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    wait_ready(&base, &mut child).await;
    let c = client();
    let call = |m: reqwest::Method, p: &str, token: &str, body: Option<Value>| {
        let mut r = c.request(m, format!("{base}{p}")).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r
    };
    let mut seen = Vec::new();
    let api = "/api/v1/integration";
    let admin = tenant_admin(&c, &base, system).await;
    let remote = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&remote)
        .await;

    // Connector credentials: bearer, then replaced; basic auth on another.
    let body = json!({"code": "pay", "name": "Pay", "type": "http",
        "config": {"base_url": remote.uri(), "auth": {"type": "bearer"}}, "credentials": {"token": secret}});
    let (_, created) = capture(
        &mut seen,
        "create connector",
        false,
        call(reqwest::Method::POST, &format!("{api}/connectors"), &admin, Some(body)),
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = capture(
        &mut seen,
        "test connection",
        false,
        call(reqwest::Method::POST, &format!("{api}/connectors/{id}/test-connection"), &admin, None),
    )
    .await;
    assert_eq!(status, 200);
    let sent = remote.received_requests().await.unwrap();
    assert_eq!(sent[0].headers["authorization"], format!("Bearer {secret}").as_str(), "the remote did get the secret");
    let (status, _) = capture(
        &mut seen,
        "replace credentials",
        false,
        call(
            reqwest::Method::PATCH,
            &format!("{api}/connectors/{id}"),
            &admin,
            Some(json!({"credentials": {"token": format!("{secret}-next")}})),
        ),
    )
    .await;
    assert_eq!(status, 202);
    let basic = json!({"code": "crm", "name": "CRM", "type": "http",
        "config": {"base_url": remote.uri(), "auth": {"type": "basic"}},
        "credentials": {"username": "svc", "password": "TOPSECRET-basic-3307"}});
    capture(
        &mut seen,
        "create basic connector",
        false,
        call(reqwest::Method::POST, &format!("{api}/connectors"), &admin, Some(basic)),
    )
    .await;

    // Receiver secrets: created (revealed once), used by a delivery, rotated (revealed once).
    let (_, r) = capture(
        &mut seen,
        "create receiver",
        true,
        call(
            reqwest::Method::POST,
            &format!("{api}/connectors/{id}/webhook-receivers"),
            &admin,
            Some(json!({"event_type": "x", "auth": {"method": "bearer"}, "secret": "TOPSECRET-receiver-5521"})),
        ),
    )
    .await;
    let url = r["data"]["receiver_url"].as_str().unwrap().to_owned();
    let (status, _) = capture(
        &mut seen,
        "delivery",
        false,
        c.post(format!("{base}{url}"))
            .bearer_auth("TOPSECRET-receiver-5521")
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(status, 202);
    let (status, _) = capture(
        &mut seen,
        "delivery with a wrong secret",
        false,
        c.post(format!("{base}{url}"))
            .bearer_auth("TOPSECRET-wrong-8890")
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(status, 401);
    let rid = r["data"]["id"].as_str().unwrap();
    let (_, rotated) = capture(
        &mut seen,
        "rotate",
        true,
        call(
            reqwest::Method::POST,
            &format!("{api}/webhook-receivers/{rid}/rotate-secret"),
            &admin,
            Some(json!({"secret": "TOPSECRET-rotated-7731"})),
        ),
    )
    .await;
    assert_eq!(rotated["data"]["secret"], "TOPSECRET-rotated-7731");

    // A destination signing secret (revealed in the answer that set it).
    let (_, m) = capture(
        &mut seen,
        "mapping",
        false,
        call(
            reqwest::Method::POST,
            &format!("{api}/field-mappings"),
            &admin,
            Some(json!({"name": "m", "entity_type": "thing", "key": "external_id",
                "rules": [{"source": "id", "target": "external_id", "required": true}]})),
        ),
    )
    .await;
    let (status, sc) = capture(
        &mut seen,
        "sync configuration with a destination secret",
        true,
        call(
            reqwest::Method::POST,
            &format!("{api}/sync-configurations"),
            &admin,
            Some(json!({"connector_id": id, "name": "out", "direction": "inbound", "entity_type": "thing",
                "field_mapping_id": m["data"]["id"], "trigger": "webhook", "event_types": ["x"],
                "destination": {"url": format!("{}/erp", remote.uri()), "secret": destination_secret}})),
        ),
    )
    .await;
    assert_eq!(status, 201, "{sc}");
    let sc_id = sc["data"]["id"].as_str().unwrap().to_owned();

    // A dashboard session: the cookie and CSRF token are revealed to the browser that signed in, nowhere else.
    let (status, session) =
        capture(&mut seen, "sign in", true, c.post(format!("{base}/api/v1/session")).json(&json!({"token": admin})))
            .await;
    assert_eq!(status, 201);
    let cookie_header =
        seen.last().unwrap().text.split("weir_session=").nth(1).unwrap().split(';').next().unwrap().to_owned();
    let csrf = session["data"]["csrf_token"].as_str().unwrap().to_owned();
    let cookie = format!("weir_session={cookie_header}");
    capture(&mut seen, "session read", true, c.get(format!("{base}/api/v1/session")).header("cookie", &cookie)).await;

    // Everything that reads these objects back, with the token and with the cookie.
    for path in [
        format!("{api}/connectors"),
        format!("{api}/connectors/{id}"),
        format!("{api}/webhook-receivers"),
        format!("{api}/webhook-receivers/{rid}"),
        format!("{api}/sync-configurations/{sc_id}"),
        format!("{api}/webhook-events"),
        format!("{api}/change-requests"),
        format!("{api}/audit-logs?per_page=100"),
        format!("{api}/audit-logs/export?format=json"),
        format!("{api}/audit-logs/export?format=csv"),
        format!("{api}/dashboard"),
        "/api/v1/tokens".to_owned(),
        "/metrics".to_owned(),
        "/api/v1/openapi.json".to_owned(),
    ] {
        capture(&mut seen, &path, false, call(reqwest::Method::GET, &path, &admin, None)).await;
        capture(
            &mut seen,
            &format!("{path} (cookie)"),
            false,
            c.get(format!("{base}{path}")).header("cookie", &cookie),
        )
        .await;
    }
    let (status, _) = capture(
        &mut seen,
        "sign out",
        false,
        c.delete(format!("{base}/api/v1/session")).header("cookie", &cookie).header("x-csrf-token", &csrf),
    )
    .await;
    assert_eq!(status, 204);
    assert!(sigterm_and_wait(&mut child).await.success());

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("connector created") && logs.contains("TRACE"),
        "trace logs were captured ({} bytes)",
        logs.len()
    );
    let secrets: Vec<(&str, String)> = vec![
        ("connector credential", secret.to_owned()),
        ("basic-auth password", "TOPSECRET-basic-3307".to_owned()),
        ("receiver secret", "TOPSECRET-receiver-5521".to_owned()),
        ("a wrong receiver secret", "TOPSECRET-wrong-8890".to_owned()),
        ("rotated receiver secret", "TOPSECRET-rotated-7731".to_owned()),
        ("destination secret", destination_secret.clone()),
        ("master key", master_key.clone()),
        ("database password", "TOPSECRET-dbpass-4410".to_owned()),
        ("system token", system.to_owned()),
        ("admin token", admin.clone()),
        ("session cookie", cookie_header.clone()),
        ("CSRF token", csrf.clone()),
    ];
    for (name, value) in &secrets {
        assert!(!logs.contains(value.as_str()), "the {name} reached the logs");
        for answer in seen.iter().filter(|a| !a.reveals) {
            assert!(!answer.text.contains(value.as_str()), "the {name} is in the answer to {}", answer.what);
        }
    }
    // And the catch-all: nothing marked TOPSECRET anywhere but where it is revealed by design.
    assert!(!logs.contains("TOPSECRET"));
    println!(
        "secrets hygiene ({backend:?}): {} secrets × {} log bytes and {} answers ({} revealing by design, excluded): none found",
        secrets.len(),
        logs.len(),
        seen.len(),
        seen.iter().filter(|a| a.reveals).count()
    );
}

#[tokio::test]
async fn secrets_stay_out_of_logs_and_responses_sqlite() {
    secrets_stay_out_of_logs_and_responses(helpers::Backend::Sqlite).await;
}

#[tokio::test]
async fn secrets_stay_out_of_logs_and_responses_postgres() {
    secrets_stay_out_of_logs_and_responses(helpers::Backend::Postgres).await;
}

#[tokio::test]
async fn master_key_file_and_mismatch() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let system = ("WEIR_SYSTEM_TOKEN", "weir_key_test_system_token_0123456789".to_owned());
    let (mut child, base) = serve(dir.path(), std::slice::from_ref(&system)).await;
    let key_file = dir.path().join("weir-data/master.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file readable by its owner only");
    // Seal something under the generated key.
    let c = client();
    let admin = tenant_admin(&c, &base, &system.1).await;
    let r = c.post(format!("{base}/api/v1/integration/connectors")).bearer_auth(&admin)
        .json(&json!({"code": "xx", "name": "x", "type": "http", "config": {"base_url": "http://127.0.0.1:9", "auth": {"type": "bearer"}},
                      "credentials": {"token": "abc"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(sigterm_and_wait(&mut child).await.success());

    // A different key is refused at start, clearly.
    let wrong = weir(dir.path())
        .arg("serve")
        .env(system.0, &system.1)
        .env("WEIR_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .output()
        .await
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("not the one that sealed"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    // So is a missing key file.
    let kept = std::fs::read_to_string(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let missing = weir(dir.path()).arg("serve").env(system.0, &system.1).output().await.unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no key is configured"));
    // The right key, given as WEIR_MASTER_KEY instead of the file, works.
    let (mut child, _) = serve(dir.path(), &[system.clone(), ("WEIR_MASTER_KEY", kept.trim().to_owned())]).await;
    assert!(sigterm_and_wait(&mut child).await.success());
}

/// Runs `test-connection` on a new `http` connector to `base_url`; answers
/// the test result.
async fn test_connection(c: &reqwest::Client, base: &str, admin: &str, code: &str, base_url: &str) -> Value {
    let body = json!({"code": code, "name": code, "type": "http", "environment": "development",
        "config": {"base_url": base_url, "auth": {"type": "bearer"}}, "credentials": {"token": "tenant-secret"}});
    let r =
        c.post(format!("{base}/api/v1/integration/connectors")).bearer_auth(admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    let r = c
        .post(format!("{base}/api/v1/integration/connectors/{id}/test-connection"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["data"].clone()
}

/// Issue 17, item 6: the environment's proxy variables are ignored (they
/// once carried a tenant's credentials to a loopback "proxy"); a proxy is
/// used only when `WEIR_OUTBOUND_PROXY` names it, and the private-address
/// guard refuses the target before any proxy sees it.
#[tokio::test]
async fn environment_proxies_are_ignored_and_the_guard_comes_first() {
    let proxy = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&proxy)
        .await;
    let target = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&target)
        .await;
    let system = ("WEIR_SYSTEM_TOKEN", "weir_proxy_test_system_token_0123456789".to_owned());
    let c = client();

    // HTTP_PROXY and friends in the environment: requests still go direct.
    let dir = tempfile::tempdir().unwrap();
    let env = [system.clone(), ("HTTP_PROXY", proxy.uri()), ("http_proxy", proxy.uri()), ("ALL_PROXY", proxy.uri())];
    let (mut child, base) = serve(dir.path(), &env).await;
    let admin = tenant_admin(&c, &base, &system.1).await;
    let t = test_connection(&c, &base, &admin, "direct", &target.uri()).await;
    assert_eq!(t["success"], true, "{t}");
    assert_eq!(target.received_requests().await.unwrap().len(), 1, "the target was reached directly");
    assert!(proxy.received_requests().await.unwrap().is_empty(), "nothing went to the environment's proxy");
    assert!(sigterm_and_wait(&mut child).await.success());

    // WEIR_OUTBOUND_PROXY with the guard on: loopback targets are refused
    // before the proxy, by literal address and by name.
    let dir = tempfile::tempdir().unwrap();
    let env =
        [system.clone(), ("WEIR_OUTBOUND_PROXY", proxy.uri()), ("WEIR_OUTBOUND_BLOCK_PRIVATE", "true".to_owned())];
    let (mut child, base) = serve(dir.path(), &env).await;
    let admin = tenant_admin(&c, &base, &system.1).await;
    let port = target.address().port();
    for (code, url) in [
        ("literal", format!("http://127.0.0.1:{port}")),
        ("named", format!("http://localhost:{port}")),
        ("nat64", format!("http://[64:ff9b::7f00:1]:{port}")),
        ("compat", format!("http://[::127.0.0.1]:{port}")),
    ] {
        let t = test_connection(&c, &base, &admin, code, &url).await;
        assert_eq!(t["success"], false, "{code}: {t}");
        assert!(t["error"].as_str().unwrap().contains("not public"), "{code}: {t}");
    }
    assert!(proxy.received_requests().await.unwrap().is_empty(), "the proxy never saw a refused target");
    assert!(sigterm_and_wait(&mut child).await.success());

    // WEIR_OUTBOUND_PROXY without the guard: requests go through the proxy.
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve(dir.path(), &[system.clone(), ("WEIR_OUTBOUND_PROXY", proxy.uri())]).await;
    let admin = tenant_admin(&c, &base, &system.1).await;
    let t = test_connection(&c, &base, &admin, "proxied", &target.uri()).await;
    assert_eq!(t["success"], true, "{t}");
    assert_eq!(proxy.received_requests().await.unwrap().len(), 1, "sent through the named proxy");
    assert_eq!(target.received_requests().await.unwrap().len(), 1, "not directly");
    assert!(sigterm_and_wait(&mut child).await.success());
}

/// A partner that answers every request with a chunked JSON array of about
/// `megabytes` MB, produced as it is sent (so the test holds none of it).
async fn huge_page_server(megabytes: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 8192];
                let _ = sock.read(&mut head).await;
                let start = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if sock.write_all(start.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = "1,".repeat(512 * 1024); // 1 MiB
                let frame = |data: &str| format!("{:x}\r\n{data}\r\n", data.len());
                for i in 0..megabytes {
                    let data = if i == 0 { format!("[{chunk}") } else { chunk.clone() };
                    if sock.write_all(frame(&data).as_bytes()).await.is_err() {
                        return; // the client stopped reading: as it should
                    }
                }
                let _ = sock.write_all(frame("1]").as_bytes()).await;
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    format!("http://{addr}")
}

/// The server's peak resident memory (VmHWM), in MB.
fn peak_rss_mb(child: &Child) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id().unwrap())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

/// Issue 17, item 3: a 100 MB partner page is refused as `invalid_response`
/// once it passes `WEIR_MAX_RESPONSE_BYTES` (16 MiB by default), and the
/// server's peak memory stays far below the page's size.
#[tokio::test]
async fn a_huge_partner_page_is_refused_within_the_cap() {
    let partner = huge_page_server(100).await;
    let dir = tempfile::tempdir().unwrap();
    let system = ("WEIR_SYSTEM_TOKEN", "weir_page_test_system_token_0123456789".to_owned());
    let (mut child, base) = serve(dir.path(), std::slice::from_ref(&system)).await;
    let c = client();
    let admin = tenant_admin(&c, &base, &system.1).await;
    let post = |path: &str, body: Value| {
        c.post(format!("{base}/api/v1/integration/{path}")).bearer_auth(&admin).json(&body).send()
    };
    let data = |r: reqwest::Response| async move {
        assert!(r.status().is_success(), "{}", r.status());
        r.json::<Value>().await.unwrap()["data"].clone()
    };
    let connector = data(
        post(
            "connectors",
            json!({"code": "big", "name": "Big", "type": "http",
        "environment": "development", "config": {"base_url": partner, "auth": {"type": "none"}}}),
        )
        .await
        .unwrap(),
    )
    .await;
    let mapping = data(
        post(
            "field-mappings",
            json!({"name": "m", "entity_type": "item", "key": "id",
        "rules": [{"source": "id", "target": "id"}]}),
        )
        .await
        .unwrap(),
    )
    .await;
    let config = data(
        post(
            "sync-configurations",
            json!({"connector_id": connector["id"], "name": "pull",
        "direction": "inbound", "entity_type": "item", "field_mapping_id": mapping["id"], "trigger": "manual",
        "source": {"path": "/items"}}),
        )
        .await
        .unwrap(),
    )
    .await;
    eprintln!("peak RSS {:.1} MB before the run", peak_rss_mb(&child));
    let run = data(
        post(&format!("sync-configurations/{}/execute", config["id"].as_str().unwrap()), Value::Null).await.unwrap(),
    )
    .await;
    let run_url = format!("{base}/api/v1/integration/sync-histories/{}", run["sync_history_id"].as_str().unwrap());
    let mut finished = Value::Null;
    for _ in 0..600 {
        let h: Value = c.get(&run_url).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        if !matches!(h["data"]["status"].as_str(), Some("queued" | "running")) {
            finished = h["data"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finished["status"], "failed", "{finished}");
    assert_eq!(finished["error_type"], "invalid_response", "{finished}");
    let message = finished["error_message"].as_str().unwrap();
    assert!(message.contains("larger than 16777216 bytes (WEIR_MAX_RESPONSE_BYTES)"), "{finished}");
    let peak = peak_rss_mb(&child);
    eprintln!("peak RSS {peak:.1} MB after refusing a 100 MB page");
    assert!(peak < 150.0, "peak RSS {peak:.0} MB while refusing a 100 MB page");
    assert!(sigterm_and_wait(&mut child).await.success());
}

/// Issue 17, item 19: a graceful shutdown on PostgreSQL — with a live
/// stream open and events relayed — logs no warning that the live listener
/// lost its connection: the listener stops before the pool closes.
#[tokio::test]
async fn graceful_shutdown_on_postgres_logs_no_listener_warning() {
    if helpers::skip_postgres() {
        return;
    }
    let (url, _guard) = helpers::create_pg_database().await;
    let dir = tempfile::tempdir().unwrap();
    let system = "weir_shutdown_test_system_token_0123456789".to_owned();
    let log = dir.path().join("weir.log");
    let port = free_port();
    let mut child = weir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("WEIR_DATABASE_URL", &url)
        .env("WEIR_SYSTEM_TOKEN", &system)
        .env("WEIR_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &mut child).await;
    let c = client();
    let admin = tenant_admin(&c, &base, &system).await;
    let mut stream = c.get(format!("{base}/api/v1/integration/stream")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    // Something to relay: a connector test publishes nothing, a webhook does.
    let body = json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"});
    let shop: Value = c
        .post(format!("{base}/api/v1/integration/connectors"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r: Value = c
        .post(format!(
            "{base}/api/v1/integration/connectors/{}/webhook-receivers",
            shop["data"]["id"].as_str().unwrap()
        ))
        .bearer_auth(&admin)
        .json(&json!({"event_type": "*", "auth": {"method": "bearer"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let receive = format!("{base}{}", r["data"]["receiver_url"].as_str().unwrap());
    let sent = c
        .post(&receive)
        .bearer_auth(r["data"]["secret"].as_str().unwrap())
        .json(&json!({"id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let first = tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await.expect("a live event").unwrap();
    assert!(first.is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sigterm_and_wait(&mut child).await.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let bad: Vec<&str> = text.lines().filter(|l| l.contains("live-event") || l.contains("live events")).collect();
    assert!(bad.is_empty(), "shutdown logged: {bad:?}");
}
