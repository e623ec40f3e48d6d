//! Faults against the real `weir` binary under signed load (issue 9):
//!
//! * **crash consistency** — `kill -9` at random moments, restart, and every
//!   acknowledged delivery is stored once and processed once;
//! * **graceful shutdown under load** — SIGTERM: the process exits within
//!   its grace period, nothing acknowledged is lost, no claim is left held;
//! * **database outage** (PostgreSQL, through a TCP proxy the test cuts and
//!   restores) — intake answers 503 with `Retry-After`, never 2xx, `/readyz`
//!   says not ready, and everything recovers without a restart.
//!
//! The load behaves like a provider: each delivery has a unique message id
//! and is retried with the same id until it is acknowledged (2xx). So the
//! set of acknowledged ids is every id sent, and "exactly once" is checked
//! in the database: one event per id, all completed, one record per id at
//! version 1, one `record.created` audit entry per record and no
//! `record.updated`, and an intact audit chain. Every loop is bounded in
//! count and time; only loopback addresses are used. The figures each test
//! prints (`--nocapture`) are the ones in RELIABILITY.md.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};

use helpers::Backend;

const BIN: &str = env!("CARGO_BIN_EXE_weir");
const SYSTEM: &str = "weir_faults_system_token_0123456789abcdef";
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// [`MASTER_KEY`] decoded: the bytes 0 to 31.
fn master_key() -> weir_core::MasterKey {
    weir_core::MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
}
/// Concurrent senders.
const SENDERS: usize = 16;
/// Most deliveries one test sends.
const MAX_DELIVERIES: u64 = 50_000;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The database a test runs on, and its guard.
async fn database(backend: Backend, dir: &Path) -> Option<(String, Option<helpers::PgGuard>)> {
    match backend {
        Backend::Sqlite => Some((format!("sqlite://{}/weir.db", dir.display()), None)),
        Backend::Postgres => {
            if helpers::skip_postgres() {
                return None;
            }
            let (url, guard) = helpers::create_pg_database().await;
            Some((url, Some(guard)))
        }
    }
}

/// One `weir serve` process on a fixed port, restartable.
struct Server {
    dir: PathBuf,
    port: u16,
    db_url: String,
    extra: Vec<(&'static str, String)>,
    child: Option<Child>,
}

impl Server {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(&self.dir).kill_on_drop(true).stdout(Stdio::null()).stderr(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("WEIR_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .env("WEIR_LOG", "warn")
            .env("WEIR_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("WEIR_DATA_DIR", &self.dir)
            .env("WEIR_DATABASE_URL", &self.db_url)
            .env("WEIR_SYSTEM_TOKEN", SYSTEM)
            .env("WEIR_MASTER_KEY", MASTER_KEY)
            .env("WEIR_RATE_LIMIT_PER_MINUTE", "0")
            .env("WEIR_LEASE_SECS", "2")
            .env("WEIR_WORKER_POLL_MS", "50")
            .env("WEIR_RETRY_BACKOFF", "100ms")
            .env("WEIR_SHUTDOWN_TIMEOUT_SECS", "5")
            .env("WEIR_SCHEDULER_INTERVAL_MS", "0");
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn weir");
        let c = client();
        let base = self.base();
        for _ in 0..600 {
            assert!(child.try_wait().unwrap().is_none(), "weir exited during start-up");
            if let Ok(r) = c.get(format!("{base}/readyz")).send().await
                && r.status() == 200
            {
                self.child = Some(child);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("weir never became ready");
    }

    /// SIGKILL: no chance to finish anything.
    async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill -9");
        }
    }

    /// SIGTERM; answers how long the process took to exit.
    async fn sigterm(&mut self) -> Duration {
        let mut child = self.child.take().expect("running");
        let pid = child.id().expect("pid").to_string();
        let started = Instant::now();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status =
            tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exits within 20 s").unwrap();
        assert!(status.success(), "clean exit after SIGTERM: {status}");
        started.elapsed()
    }
}

/// A tenant whose receiver's deliveries become `customer` records.
struct Target {
    receive_url: String,
    auth: ReceiverAuth,
    secret: String,
}

async fn set_up(base: &str) -> Target {
    let c = client();
    let post = |path: String, token: String, body: Value| {
        let c = c.clone();
        let url = format!("{base}{path}");
        async move {
            let r = c.post(&url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert!(status.is_success(), "{url}: {status} {v}");
            v["data"].clone()
        }
    };
    let t = post("/api/v1/system/tenants".into(), SYSTEM.into(), json!({"slug": "acme", "name": "Acme"})).await;
    let tid = t["id"].as_str().unwrap();
    let tok =
        post(format!("/api/v1/system/tenants/{tid}/tokens"), SYSTEM.into(), json!({"name": "a", "role": "admin"}))
            .await;
    let admin = tok["token"].as_str().unwrap().to_owned();
    let api = "/api/v1/integration";
    let conn = post(
        format!("{api}/connectors"),
        admin.clone(),
        json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"}),
    )
    .await;
    let cid = conn["id"].as_str().unwrap();
    let r = post(
        format!("{api}/connectors/{cid}/webhook-receivers"),
        admin.clone(),
        json!({"event_type": "*", "auth": {"method": "standard_webhooks"}}),
    )
    .await;
    let m = post(
        format!("{api}/field-mappings"),
        admin.clone(),
        json!({"name": "customers", "entity_type": "customer", "key": "external_id", "rules": [
            {"source": "data.id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
            {"source": "data.email", "target": "email"}
        ]}),
    )
    .await;
    post(
        format!("{api}/sync-configurations"),
        admin.clone(),
        json!({"connector_id": cid, "name": "customers in", "direction": "inbound", "entity_type": "customer",
               "field_mapping_id": m["id"], "trigger": "webhook", "event_types": ["customer.created"]}),
    )
    .await;
    Target {
        receive_url: r["receiver_url"].as_str().unwrap().to_owned(),
        auth: ReceiverAuth::parse(&r["auth"]).unwrap(),
        secret: r["secret"].as_str().unwrap().to_owned(),
    }
}

/// What the load saw.
#[derive(Default)]
struct Tally {
    /// Ids acknowledged with a 2xx.
    acked: HashSet<u64>,
    /// Requests sent in all (retries included).
    requests: u64,
    /// Answers that were not a 2xx: (status, had Retry-After).
    refusals: Vec<(u16, bool)>,
    /// Requests that got no answer (connection refused or cut).
    no_answer: u64,
}

/// Signed load: `SENDERS` tasks, each delivering fresh ids and retrying an
/// unacknowledged one (same id) until it is acknowledged or the load stops.
struct Load {
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// When set, a 2xx is recorded as acknowledged during a known outage.
    outage: Arc<AtomicBool>,
    acked_in_outage: Arc<AtomicU64>,
}

impl Load {
    fn start(base: String, target: Arc<Target>) -> Load {
        Self::start_at(base, target, 1)
    }

    /// Like [`Load::start`], numbering deliveries from `first` (two loads
    /// at once use separate ranges).
    fn start_at(base: String, target: Arc<Target>, first: u64) -> Load {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(first));
        let outage = Arc::new(AtomicBool::new(false));
        let acked_in_outage = Arc::new(AtomicU64::new(0));
        let tasks = (0..SENDERS)
            .map(|_| {
                let (tally, stop, next, target, base) =
                    (tally.clone(), stop.clone(), next.clone(), target.clone(), base.clone());
                let (outage, acked_in_outage) = (outage.clone(), acked_in_outage.clone());
                tokio::spawn(async move {
                    let c = client();
                    let key = key_material(target.auth.method(), &target.secret).unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        let id = next.fetch_add(1, Ordering::Relaxed);
                        if id >= first + MAX_DELIVERIES {
                            return;
                        }
                        let body = serde_json::to_vec(
                            &json!({"type": "customer.created", "data": {"id": id, "email": format!("c{id}@x.com")}}),
                        )
                        .unwrap();
                        // Until acknowledged; a stopped load still finishes the id it holds
                        // (bounded: 60 s), as a provider's retries would.
                        let deadline = Instant::now() + Duration::from_secs(60);
                        loop {
                            assert!(Instant::now() < deadline, "delivery {id} never acknowledged");
                            let mut req = c
                                .post(format!("{base}{}", target.receive_url))
                                .header("content-type", "application/json");
                            let msg_id = format!("msg-{id}");
                            for (k, v) in
                                sign_headers(&target.auth, &key, &msg_id, chrono::Utc::now().timestamp(), &body)
                            {
                                req = req.header(k, v);
                            }
                            let in_outage = outage.load(Ordering::SeqCst);
                            let answer = req.body(body.clone()).send().await;
                            let mut t = tally.lock().await;
                            t.requests += 1;
                            match answer {
                                Ok(r) if r.status().is_success() => {
                                    if in_outage && outage.load(Ordering::SeqCst) {
                                        acked_in_outage.fetch_add(1, Ordering::Relaxed);
                                    }
                                    t.acked.insert(id);
                                    break;
                                }
                                Ok(r) => {
                                    t.refusals.push((r.status().as_u16(), r.headers().contains_key("retry-after")))
                                }
                                Err(_) => t.no_answer += 1,
                            }
                            drop(t);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                })
            })
            .collect();
        Load { tally, stop, tasks, outage, acked_in_outage }
    }

    async fn acked(&self) -> usize {
        self.tally.lock().await.acked.len()
    }

    /// Stops sending new ids; waits for the ids in hand to be acknowledged.
    async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.expect("sender");
        }
        Arc::try_unwrap(self.tally).ok().expect("senders done").into_inner()
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Waits (bounded: 90 s) until no event is pending or being processed.
async fn drained(db: &DatabaseConnection) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let open =
            count(db, "SELECT COUNT(*) FROM webhook_events WHERE processing_status IN ('pending', 'processing')").await;
        if open == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{open} events still open after 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The exactly-once checks: every acknowledged id is one event, completed,
/// one record at version 1 created once; nothing else was processed; the
/// audit chain verifies.
async fn assert_exactly_once(db_url: &str, acked: &HashSet<u64>) {
    let db = Database::connect(db_url).await.unwrap();
    drained(&db).await;
    let store =
        weir_store::Store::connect(&weir_store::DatabaseUrl::parse(db_url).unwrap(), &weir_store::DbOptions::default())
            .await
            .unwrap()
            .with_audit_key(weir_core::audit::AuditKey::derive(&master_key()));
    // As every audit read does: chain what the last batches committed
    // (PostgreSQL seals after commit), then count the trail itself.
    store.seal_audit(None).await.unwrap();
    let n = acked.len() as i64;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT provider_event_id, COUNT(*) FROM webhook_events GROUP BY provider_event_id".to_owned(),
        ))
        .await
        .unwrap();
    let mut stored = HashSet::new();
    for r in rows {
        let pid: String = r.try_get_by_index(0).unwrap();
        let c: i64 = r.try_get_by_index(1).unwrap();
        assert_eq!(c, 1, "{pid} stored {c} times");
        stored.insert(pid);
    }
    for id in acked {
        assert!(stored.contains(&format!("msg-{id}")), "acknowledged msg-{id} is not stored");
    }
    assert_eq!(stored.len() as i64, n, "only acknowledged deliveries are stored (each was retried until acknowledged)");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM webhook_events WHERE processing_status = 'completed'").await, n);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM records").await, n, "one record per delivery");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM records WHERE version <> 1").await, 0, "no record written twice");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit_logs WHERE action = 'record.created'").await, n);
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT resource_id) FROM audit_logs WHERE action = 'record.created'").await,
        n,
        "no record created twice"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit_logs WHERE action = 'record.updated'").await, 0);
    db.close().await.ok();
    let tenant = store.authenticate_system(SYSTEM).await.unwrap().expect("system token");
    let scope = store.get_tenant_by_slug(&tenant, "acme").await.unwrap();
    let scope = store.tenant_scope(&tenant, &scope.id).await.unwrap();
    assert!(
        store.verify_audit_chain(&scope, None).await.unwrap().outcome().is_ok(),
        "the audit chain verifies after the faults"
    );
    store.close().await;
}

async fn crash_consistency(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((db_url, _guard)) = database(backend, dir.path()).await else { return };
    let mut server =
        Server { dir: dir.path().to_owned(), port: free_port(), db_url: db_url.clone(), extra: vec![], child: None };
    server.start().await;
    let target = Arc::new(set_up(&server.base()).await);
    let started = Instant::now();
    let load = Load::start(server.base(), target);
    let mut kills = Vec::new();
    for _ in 0..4 {
        let wait: u64 = rand::random_range(300..1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        kills.push((load.acked().await, wait));
        server.kill9().await;
        server.start().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.finish().await;
    assert!(
        tally.refusals.iter().all(|(s, _)| *s == 503),
        "only 503 while starting: {:?}",
        &tally.refusals[..tally.refusals.len().min(10)]
    );
    assert_exactly_once(&db_url, &tally.acked).await;
    println!(
        "crash consistency ({backend:?}): {} kill -9 at {:?} (acked so far, ms after the previous start); {} deliveries acknowledged, \
         {} requests, {} unanswered, {} refused; all stored once, completed once, one record each; {:.1} s",
        kills.len(),
        kills,
        tally.acked.len(),
        tally.requests,
        tally.no_answer,
        tally.refusals.len(),
        started.elapsed().as_secs_f64()
    );
    server.sigterm().await;
}

async fn graceful_shutdown_under_load(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((db_url, _guard)) = database(backend, dir.path()).await else { return };
    let mut server =
        Server { dir: dir.path().to_owned(), port: free_port(), db_url: db_url.clone(), extra: vec![], child: None };
    server.start().await;
    let target = Arc::new(set_up(&server.base()).await);
    let load = Load::start(server.base(), target);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = load.acked().await;
    let took = server.sigterm().await;
    assert!(took < Duration::from_secs(7), "exit within the 5 s grace period (+ margin): {took:?}");
    // Nothing is left claimed: finished, or released for the next instance.
    let db = Database::connect(&db_url).await.unwrap();
    let held = count(&db, "SELECT COUNT(*) FROM webhook_events WHERE processing_status = 'processing'").await;
    assert_eq!(held, 0, "claims left held after a graceful shutdown");
    db.close().await.ok();
    // The next start finishes the queue; the senders' retries land there.
    server.start().await;
    let tally = load.finish().await;
    assert_exactly_once(&db_url, &tally.acked).await;
    println!(
        "graceful shutdown ({backend:?}): SIGTERM after {before} acknowledged deliveries, exit in {} ms, 0 claims held; \
         {} acknowledged in all, {} requests, {} unanswered; all stored once, completed once",
        took.as_millis(),
        tally.acked.len(),
        tally.requests,
        tally.no_answer
    );
    server.sigterm().await;
}

/// A TCP proxy to PostgreSQL that the test can cut (every connection
/// closed, new ones refused) and restore.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let (up, generation, upstream) = (up2.clone(), gen2.clone(), upstream.clone());
                tokio::spawn(async move {
                    let mine = generation.load(Ordering::SeqCst);
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else { return };
                    let cut = async {
                        while up.load(Ordering::SeqCst) && generation.load(Ordering::SeqCst) == mine {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut => {}
                    }
                });
            }
        });
        Proxy { port, up, generation }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn database_outage_postgres() {
    if helpers::skip_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = helpers::create_pg_database().await;
    let url = url::Url::parse(&db_url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream).await;
    let mut proxied = url.clone();
    proxied.set_port(Some(proxy.port)).unwrap();
    let mut server = Server {
        dir: dir.path().to_owned(),
        port: free_port(),
        db_url: proxied.to_string(),
        extra: vec![("WEIR_DB_ACQUIRE_TIMEOUT_SECS", "1".into())],
        child: None,
    };
    server.start().await;
    let target = Arc::new(set_up(&server.base()).await);
    let load = Load::start(server.base(), target);
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Cut: intake refuses with 503 + Retry-After; not ready.
    load.outage.store(true, Ordering::SeqCst);
    proxy.cut();
    let cut_at = Instant::now();
    let c = client();
    let mut not_ready = false;
    for _ in 0..60 {
        if c.get(format!("{}/readyz", server.base())).send().await.map(|r| r.status() == 503).unwrap_or(false) {
            not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(not_ready, "/readyz must say not ready while the database is unreachable");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let refusals_in_outage = load.tally.lock().await.refusals.len();
    assert!(refusals_in_outage > 0, "intake refused during the outage");
    proxy.restore();
    load.outage.store(false, Ordering::SeqCst);
    let outage = cut_at.elapsed();

    // Recovery without a restart.
    let restored = Instant::now();
    let mut ready = false;
    for _ in 0..150 {
        if c.get(format!("{}/readyz", server.base())).send().await.map(|r| r.status() == 200).unwrap_or(false) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again after the database is back");
    let ready_after = restored.elapsed();
    let acked_before = load.acked().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.acked().await < acked_before + 100 {
        assert!(Instant::now() < deadline, "intake did not resume after the outage");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acked_in_outage = load.acked_in_outage.load(Ordering::Relaxed);
    let tally = load.finish().await;
    assert!(
        tally.refusals.iter().all(|(s, retry_after)| *s == 503 && *retry_after),
        "every refusal is 503 with Retry-After: {:?}",
        tally.refusals.iter().filter(|(s, r)| *s != 503 || !r).take(10).collect::<Vec<_>>()
    );
    assert!(server.child.as_mut().unwrap().try_wait().unwrap().is_none(), "the server kept running");
    assert_exactly_once(&db_url, &tally.acked).await;
    println!(
        "database outage (Postgres): cut for {:.1} s; {} refusals (all 503 + Retry-After), {} unanswered, {} acknowledged \
         while cut (requests already committed when the cut began), ready again {} ms after restore; {} acknowledged in all, \
         {} requests; all stored once, completed once",
        outage.as_secs_f64(),
        tally.refusals.len(),
        tally.no_answer,
        acked_in_outage,
        ready_after.as_millis(),
        tally.acked.len(),
        tally.requests
    );
    server.sigterm().await;
}

/// Issue 10: an `api`, a `worker` and an `all` instance on one PostgreSQL
/// database. Load goes through the two that serve the API; the worker-role
/// instance is killed (`-9`) while processing and started again; every
/// acknowledged delivery is completed exactly once.
async fn three_roles_on_one_postgres() {
    if helpers::skip_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = helpers::create_pg_database().await;
    let instance = |role: &str| Server {
        dir: dir.path().to_owned(),
        port: free_port(),
        db_url: db_url.clone(),
        extra: vec![("WEIR_ROLE", role.to_owned())],
        child: None,
    };
    let (mut api, mut worker, mut all) = (instance("api"), instance("worker"), instance("all"));
    api.start().await;
    worker.start().await;
    all.start().await;
    let c = client();
    // The worker serves operations only.
    let r = c.get(format!("{}/api/v1/integration/connectors", worker.base())).send().await.unwrap();
    assert_eq!(r.status(), 404, "a worker-role instance does not serve the API");
    let r = c.get(format!("{}/metrics", worker.base())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let target = Arc::new(set_up(&api.base()).await);
    let through_api = Load::start_at(api.base(), target.clone(), 1);
    let through_all = Load::start_at(all.base(), target, 1_000_001);
    let mut kills = 0;
    for _ in 0..2 {
        let wait: u64 = rand::random_range(500..1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        worker.kill9().await;
        kills += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
        worker.start().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (a, b) = (through_api.finish().await, through_all.finish().await);
    assert!(a.refusals.is_empty() && b.refusals.is_empty(), "the API instances never refused");
    let mut acked = a.acked.clone();
    acked.extend(&b.acked);
    assert_exactly_once(&db_url, &acked).await;
    println!(
        "three roles (Postgres): api + worker + all; {kills} kill -9 of the worker; {} deliveries through api, {} through all; \
         all stored once, completed once",
        a.acked.len(),
        b.acked.len()
    );
    // Only the instances with workers processed anything.
    let attempts = |base: String| {
        let c = c.clone();
        async move {
            let text = c.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
            text.lines().filter(|l| l.starts_with("weir_event_attempts_total")).count()
        }
    };
    assert_eq!(attempts(api.base()).await, 0, "the api-role instance processed events");
    assert!(attempts(all.base()).await > 0, "the all-role instance processed events");
    for s in [&mut api, &mut worker, &mut all] {
        s.sigterm().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_roles_one_killed_postgres() {
    three_roles_on_one_postgres().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_consistency_sqlite() {
    crash_consistency(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_consistency_postgres() {
    crash_consistency(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_under_load_sqlite() {
    graceful_shutdown_under_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_under_load_postgres() {
    graceful_shutdown_under_load(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_is_refused_then_recovered_postgres() {
    database_outage_postgres().await;
}
