//! The `weir` binary itself: first start in an empty directory, the
//! one-time system token, SIGTERM with a request in flight, the CLI's
//! tenant/token commands, and clear errors on bad configuration.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_weir");

fn weir(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).env("WEIR_LOG", "warn").kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("WEIR_") {
            c.env_remove(k);
        }
    }
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
