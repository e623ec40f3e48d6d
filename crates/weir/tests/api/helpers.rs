//! The test harness: a real Weir per test, on 127.0.0.1:0, over SQLite (a
//! temporary file) or PostgreSQL (a fresh database, dropped afterwards).
//!
//! PostgreSQL tests read `WEIR_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it is
//! unreachable, unless `WEIR_TEST_SKIP_POSTGRES=1`, in which case they say
//! loudly that they skipped.

use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weir::Settings;

/// The backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The system token every test server is started with.
pub const SYSTEM_TOKEN: &str = "weir_test_system_token_0123456789abcdef";

fn admin_url() -> String {
    std::env::var("WEIR_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Drops the per-test PostgreSQL database when the test ends (even by panic).
pub struct PgGuard {
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a fresh one on a thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let db = Database::connect(admin_url()).await.ok()?;
                db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()?;
                db.close().await.ok()
            })
        })
        .join();
    }
}

/// A fresh, empty PostgreSQL database and the guard that drops it.
pub async fn create_pg_database() -> (String, PgGuard) {
    let admin = admin_url();
    let db = Database::connect(admin.clone()).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is unreachable at {admin}: {e}\n\
             Start it, point WEIR_TEST_POSTGRES_URL at one, or set WEIR_TEST_SKIP_POSTGRES=1 to skip."
        )
    });
    let name = format!("weir_test_{}", uuid::Uuid::new_v4().simple());
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    db.close().await.ok();
    let mut url = url::Url::parse(&admin).expect("WEIR_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    (url.to_string(), PgGuard { name })
}

/// A fresh database of `backend` for a test that starts the binary itself:
/// an SQLite file in `dir`, or a PostgreSQL database dropped with the
/// guard; `None` when PostgreSQL tests are skipped.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> Option<(String, Option<PgGuard>)> {
    Some(match backend {
        Backend::Sqlite => (format!("sqlite://{}/weir.db?mode=rwc", dir.display()), None),
        Backend::Postgres => {
            if skip_postgres() {
                return None;
            }
            let (url, guard) = create_pg_database().await;
            (url, Some(guard))
        }
    })
}

/// True (after saying so loudly) when PostgreSQL tests are to be skipped.
pub fn skip_postgres() -> bool {
    let skip = std::env::var("WEIR_TEST_SKIP_POSTGRES").as_deref() == Ok("1");
    if skip {
        eprintln!("!!! SKIPPED on PostgreSQL (WEIR_TEST_SKIP_POSTGRES=1): this test did not run there !!!");
    }
    skip
}

/// The master key in a key file the server wrote (base64 of 32 bytes).
fn read_key_file(path: &std::path::Path) -> Option<weir_core::MasterKey> {
    use base64::Engine;
    let text = std::fs::read_to_string(path).ok()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()?;
    Some(weir_core::MasterKey::from_bytes(bytes.try_into().ok()?))
}

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    /// The database the server uses, for tests that inspect or arrange rows.
    pub db_url: String,
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), weir::StartupError>>>,
    _pg: Option<PgGuard>,
    /// The server's master key: configured, or the key file it created.
    master_key: Option<weir_core::MasterKey>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts a server on `backend`; `None` only when PostgreSQL tests are
    /// explicitly skipped.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, Settings::default()).await
    }

    /// A second instance on this one's database (PostgreSQL: several
    /// instances share one). Give both the same `master_key`.
    pub async fn spawn_sharing(&self, settings: Settings) -> TestApp {
        Self::start(self.db_url.clone(), None, settings).await
    }

    /// Like [`spawn`], with extra settings (database and token are set here).
    pub async fn spawn_with(backend: Backend, mut settings: Settings) -> Option<TestApp> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Ok(filter) = std::env::var("WEIR_TEST_LOG") {
            weir::telemetry::init(&filter, weir::config::LogFormat::Text);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/weir.db", dir.path().display()), None),
            Backend::Postgres => {
                if skip_postgres() {
                    return None;
                }
                let (url, guard) = create_pg_database().await;
                (url, Some(guard))
            }
        };
        settings.data_dir = Some(dir.path().display().to_string());
        Some(Self::start_in(url, pg, settings, dir).await)
    }

    async fn start(url: String, pg: Option<PgGuard>, settings: Settings) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = settings;
        settings.data_dir = Some(dir.path().display().to_string());
        Self::start_in(url, pg, settings, dir).await
    }

    async fn start_in(url: String, pg: Option<PgGuard>, mut settings: Settings, dir: tempfile::TempDir) -> TestApp {
        settings.database_url = Some(url.clone());
        settings.system_token = Some(SYSTEM_TOKEN.to_owned());
        settings.db_max_connections.get_or_insert_with(|| "4".to_owned());
        let config = settings.resolve().expect("test config");
        let configured_key = config.master_key.clone();
        let key_file = config.data_dir.join("master.key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(weir::run(config, listener, async move {
            let _ = rx.await;
        }));
        let client = Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let mut app = TestApp {
            base,
            db_url: url,
            client,
            shutdown: Some(tx),
            handle: Some(handle),
            _pg: pg,
            master_key: None,
            _dir: dir,
        };
        app.wait_ready().await;
        app.master_key = configured_key.or_else(|| read_key_file(&key_file));
        app
    }

    /// Polls `/readyz` until it answers 200 (bounded: 30 s).
    async fn wait_ready(&mut self) {
        for _ in 0..600 {
            if let Some(h) = &self.handle
                && h.is_finished()
            {
                let h = self.handle.take().expect("handle");
                panic!("server exited during start-up: {:?}", h.await);
            }
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server never became ready");
    }

    /// PostgreSQL only: drops the test database under the running server
    /// (terminating its connections), as an outage the server cannot heal.
    pub async fn drop_database_now(&self) {
        let name = &self._pg.as_ref().expect("PostgreSQL test").name;
        let db = Database::connect(admin_url()).await.expect("admin connection");
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.expect("drop");
        db.close().await.ok();
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// Stops the server but keeps its database, for tests that look at
    /// what a shutdown left behind.
    pub async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server result");
        }
    }

    /// The server's audit key (from its master key), for tests that
    /// arrange history the way the server itself would have written it.
    pub fn audit_key(&self) -> weir_core::audit::AuditKey {
        weir_core::audit::AuditKey::derive(self.master_key.as_ref().expect("the server's master key"))
    }

    /// A second connection to the server's database (same migrations),
    /// with the server's audit key.
    pub async fn store(&self) -> weir_store::Store {
        let url = weir_store::DatabaseUrl::parse(&self.db_url).expect("db url");
        let store = weir_store::Store::connect(&url, &weir_store::DbOptions::default()).await.expect("connect");
        match &self.master_key {
            Some(k) => store.with_audit_key(weir_core::audit::AuditKey::derive(k)),
            None => store,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with an optional bearer token.
    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends and returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.req(method, path, token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        send(r).await
    }

    /// Creates a tenant through the API; returns its id.
    pub async fn tenant(&self, slug: &str) -> String {
        let (status, body) = self
            .call(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN), Some(json!({"slug": slug, "name": slug})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_str().expect("tenant id").to_owned()
    }

    /// Issues a token with `role` for a tenant through the system API.
    pub async fn token(&self, tenant_id: &str, role: &str) -> (String, String) {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/v1/system/tenants/{tenant_id}/tokens"),
                Some(SYSTEM_TOKEN),
                Some(json!({"name": format!("{role} token"), "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["data"]["id"].as_str().expect("token id").to_owned(),
            body["data"]["token"].as_str().expect("token").to_owned(),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends a request and decodes the body as JSON (Null when empty).
pub async fn send(r: RequestBuilder) -> (StatusCode, Value) {
    let res = r.send().await.expect("request");
    let status = res.status();
    let bytes = res.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, body)
}

/// Asserts a problem+json answer with `status`; returns the body.
pub async fn assert_problem(r: RequestBuilder, status: StatusCode) -> Value {
    let res = r.send().await.expect("request");
    assert_eq!(res.status(), status, "unexpected status");
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(ct.starts_with("application/problem+json"), "content-type {ct:?}");
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["type"].as_str().is_some_and(|t| t.starts_with("urn:weir:problem:")), "{body}");
    assert!(body["title"].is_string(), "{body}");
    body
}

/// Generates `mod sqlite` and `mod postgres`, each running every listed
/// test function (`async fn name(backend: Backend)`) on that backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
