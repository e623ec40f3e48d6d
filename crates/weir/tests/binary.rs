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

async fn secrets_stay_out_of_trace_logs(backend: helpers::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = match backend {
        helpers::Backend::Sqlite => (format!("sqlite://{}/weir.db", dir.path().display()), None),
        helpers::Backend::Postgres => {
            if helpers::skip_postgres() {
                return;
            }
            let (url, guard) = helpers::create_pg_database().await;
            (url, Some(guard))
        }
    };
    let system = "weir_log_test_system_token_0123456789";
    let secret = "TOPSECRET-walrus-9182";
    let log_path = dir.path().join("weir.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = weir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("WEIR_LOG", "trace")
        .env("WEIR_DATABASE_URL", &db_url)
        .env("WEIR_SYSTEM_TOKEN", system)
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
    let admin = tenant_admin(&c, &base, system).await;
    let remote = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&remote)
        .await;
    let body = json!({"code": "pay", "name": "Pay", "type": "http",
        "config": {"base_url": remote.uri(), "auth": {"type": "bearer"}}, "credentials": {"token": secret}});
    let created: Value = call(reqwest::Method::POST, "/api/v1/integration/connectors", &admin, Some(body))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    let r = call(reqwest::Method::POST, &format!("/api/v1/integration/connectors/{id}/test-connection"), &admin, None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = remote.received_requests().await.unwrap();
    assert_eq!(sent[0].headers["authorization"], format!("Bearer {secret}").as_str(), "the remote did get the secret");
    let r = call(
        reqwest::Method::PATCH,
        &format!("/api/v1/integration/connectors/{id}"),
        &admin,
        Some(json!({"credentials": {"token": format!("{secret}-next")}})),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    // Receiver secrets: created, used by a delivery, rotated.
    let r: Value = call(
        reqwest::Method::POST,
        &format!("/api/v1/integration/connectors/{id}/webhook-receivers"),
        &admin,
        Some(json!({"event_type": "x", "auth": {"method": "bearer"}, "secret": "TOPSECRET-receiver-5521"})),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let url = r["data"]["receiver_url"].as_str().unwrap();
    let res = c
        .post(format!("{base}{url}"))
        .bearer_auth("TOPSECRET-receiver-5521")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let rid = r["data"]["id"].as_str().unwrap();
    let rotated: Value = call(
        reqwest::Method::POST,
        &format!("/api/v1/integration/webhook-receivers/{rid}/rotate-secret"),
        &admin,
        Some(json!({"secret": "TOPSECRET-rotated-7731"})),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(rotated["data"]["secret"], "TOPSECRET-rotated-7731");
    assert!(sigterm_and_wait(&mut child).await.success());
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("connector created"), "logs were captured ({} bytes)", logs.len());
    assert!(!logs.contains("TOPSECRET"), "a credential reached the logs");
    assert!(!logs.contains(&admin[5..]) && !logs.contains(system), "a token reached the logs");
}

#[tokio::test]
async fn secrets_stay_out_of_trace_logs_sqlite() {
    secrets_stay_out_of_trace_logs(helpers::Backend::Sqlite).await;
}

#[tokio::test]
async fn secrets_stay_out_of_trace_logs_postgres() {
    secrets_stay_out_of_trace_logs(helpers::Backend::Postgres).await;
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
