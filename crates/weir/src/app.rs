//! Start-up and serving: open the database the URL names, migrate, make sure
//! a system token exists, start the engine ([`Engine::start`]), then serve
//! until `shutdown` resolves — finishing in-flight requests within the
//! configured grace period before the engine stops.

use std::future::Future;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use base64::Engine as _;

use secrecy::ExposeSecret;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_api::{HttpLimits, Services};
use weir_core::{MasterKey, PlainToken};
use weir_engine::{Engine, EngineOptions, OutboundPolicy};
use weir_store::{MasterKeyCheck, Store, StoreError};

use crate::config::Config;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("cannot open the database at {url}: {source}")]
    Database {
        /// The redacted URL.
        url: String,
        /// The cause.
        #[source]
        source: StoreError,
    },
    /// The store refused an operation during start-up.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The master key is missing, unreadable or not the one that sealed
    /// the existing data.
    #[error("master key: {0}")]
    MasterKey(String),
    /// The outbound HTTP client could not be built.
    #[error(transparent)]
    Outbound(#[from] weir_engine::outbound::OutboundError),
    /// Serving failed (the listener broke).
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

/// Connects to the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<Store, StartupError> {
    let url = config.database_url.redacted().to_owned();
    let store = Store::connect(&config.database_url, &config.db)
        .await
        .map_err(|source| StartupError::Database { url: url.clone(), source })?;
    store.migrate().await.map_err(|source| StartupError::Database { url, source })?;
    // The start (or command) that keys the audit chain re-keys the old one
    // now, whichever command it is: later ones never will.
    if store.audit_keying_pending() {
        let key = resolve_master_key(&store, config).await?;
        keyed_store(store.clone(), &key).await?;
    }
    Ok(store)
}

/// `store` with its audit chain keyed by `master_key`; a chain written by
/// a build before the chain was keyed is re-keyed once here.
pub async fn keyed_store(store: Store, master_key: &MasterKey) -> Result<Store, StartupError> {
    let store = store.with_audit_key(weir_core::audit::AuditKey::derive(master_key));
    let rekeyed = store.upgrade_audit_chain(false).await?;
    if rekeyed > 0 {
        tracing::info!(tenants = rekeyed, "audit chains re-keyed under the master key");
    }
    Ok(store)
}

/// The key file used when `WEIR_MASTER_KEY` is not set.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Resolves the master key: `WEIR_MASTER_KEY`, else `<data_dir>/master.key`
/// (created with mode 0600 on first start), then checks it against the key
/// that sealed the existing data.
pub async fn resolve_master_key(store: &Store, config: &Config) -> Result<MasterKey, StartupError> {
    let path = config.data_dir.join(MASTER_KEY_FILE);
    let key = match &config.master_key {
        Some(k) => k.clone(),
        None if path.exists() => read_key_file(&path)?,
        None => {
            if store.has_sealed_data().await? {
                return Err(StartupError::MasterKey(format!(
                    "data sealed under a master key exists but no key is configured: set WEIR_MASTER_KEY or restore {}",
                    path.display()
                )));
            }
            write_key_file(&path)?
        }
    };
    match store.check_master_key(&key).await? {
        MasterKeyCheck::Matches | MasterKeyCheck::FirstUse => Ok(key),
        MasterKeyCheck::Mismatch => Err(StartupError::MasterKey(
            "the configured master key is not the one that sealed the existing data (check WEIR_MASTER_KEY or the key file)"
                .to_owned(),
        )),
    }
}

/// Reads a master key file (base64 of 32 bytes).
pub(crate) fn read_key_file(path: &Path) -> Result<MasterKey, StartupError> {
    let fail = |why: String| StartupError::MasterKey(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| fail("not base64".into()))?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| fail("does not hold 32 bytes".into()))?;
    Ok(MasterKey::from_bytes(key))
}

/// Creates a master key file with a new key (mode 0600; never overwrites).
pub(crate) fn write_key_file(path: &Path) -> Result<MasterKey, StartupError> {
    let fail = |e: std::io::Error| StartupError::MasterKey(format!("cannot create {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let key = MasterKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(base64::engine::general_purpose::STANDARD.encode(key.to_bytes()).as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    tracing::warn!(path = %path.display(), "created a new master key file; back it up: sealed secrets cannot be opened without it");
    Ok(key)
}

/// Ensures a system token exists; prints a newly generated one once.
async fn bootstrap_system_token(
    store: &Store,
    config: &Config,
    addr: std::net::SocketAddr,
) -> Result<(), StartupError> {
    let supplied = config.system_token.as_ref().map(|s| PlainToken::from_supplied(s.expose_secret()));
    if let Some(generated) = store.ensure_system_token(supplied.as_ref()).await? {
        tracing::warn!("generated a system token; it is printed once on stdout and stored only as a hash");
        println!(
            "\n  Weir generated the system token. It is shown only this once:\n\n    {}\n\n  \
             Create a tenant with it:\n    curl -X POST http://{}/api/v1/system/tenants \\\n      \
             -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json' \\\n      \
             -d '{{\"slug\": \"acme\", \"name\": \"Acme\"}}'\n",
            generated.expose(),
            addr
        );
    }
    Ok(())
}

/// Runs Weir on `listener` until `shutdown` resolves. Tests bind
/// `127.0.0.1:0` and pass their own shutdown future.
///
/// Shutdown: the server stops accepting, live streams end and in-flight
/// requests finish (within the grace period); then [`Engine::shutdown`]
/// drains the ingest writer and stops the background tasks.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let started = Instant::now();
    let store = open_store(&config).await?;
    let addr = listener.local_addr().map_err(StartupError::Serve)?;
    bootstrap_system_token(&store, &config, addr).await?;
    let master_key = resolve_master_key(&store, &config).await?;
    let store = keyed_store(store, &master_key).await?;
    let engine = Engine::start(store, engine_options(&config, master_key))?;
    let stopping = engine.serving_token();
    let services = services(&config, &engine, stopping.clone());
    let limits = HttpLimits { max_body_bytes: config.max_body_bytes, request_timeout: config.request_timeout };
    let app = if config.role.serves_api() {
        weir_api::router(services, &limits)
    } else {
        weir_api::ops_router(services, &limits)
    };
    tracing::info!(
        %addr,
        role = ?config.role,
        database = %config.database_url.redacted(),
        startup_ms = started.elapsed().as_millis() as u64,
        "weir is listening"
    );
    let server =
        crate::http_server::serve(listener, app, config.header_read_timeout, stopping.clone().cancelled_owned());
    let grace = config.shutdown_timeout;
    let deadline = async move {
        shutdown.await;
        stopping.cancel();
        tracing::info!("shutting down: finishing in-flight requests");
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {}
        () = deadline => tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing remaining connections"),
    }
    // The router (and with it every other ingest handle) is gone.
    engine.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// What the engine starts, as the configuration (and its role) says.
fn engine_options(config: &Config, master_key: MasterKey) -> EngineOptions {
    EngineOptions {
        master_key,
        outbound: OutboundPolicy {
            block_private: config.outbound_block_private,
            proxy: config.outbound_proxy.clone(),
            max_response_bytes: config.max_response_bytes,
        },
        // One writer unless configured: two on PostgreSQL measured slower for
        // one tenant (its audit appends take turns on its row lock anyway).
        ingest: config.ingest,
        // A role without workers or syncs has them at zero already.
        processing: config.processing.clone(),
        sync: config.sync.clone(),
        // Retention runs where the scheduler does.
        retention: config.role.schedules().then(|| config.retention.clone()),
        audit_heads: config.audit_heads.clone().filter(|_| config.role.schedules()),
        grace: config.shutdown_timeout,
    }
}

/// The handlers' services, from the running engine.
fn services(config: &Config, engine: &Engine, stopping: CancellationToken) -> Services {
    let mut intake = weir_engine::Intake::new(engine.ingest(), config.rate_limit_per_minute, config.max_body_bytes);
    if let Some(url) = &config.redis_url {
        match weir_engine::intake::SharedLimits::new(url.expose()) {
            Ok(shared) => {
                tracing::info!(redis = ?url, "webhook rate limits are shared through Redis");
                intake = intake.with_shared_limits(shared);
            }
            Err(e) => tracing::warn!(error = %e, "WEIR_REDIS_URL is unusable; rate limits stay per instance"),
        }
    }
    // Ends (after writing what it counted) once serving stops, before the
    // engine drains the ingest writer.
    drop(intake.spawn_repeats_writer(stopping.clone()));
    Services {
        store: engine.store().clone(),
        master_key: engine.master_key().clone(),
        outbound: engine.outbound().clone(),
        intake,
        wake: engine.wake().clone(),
        sync: engine.sync().clone(),
        live: engine.live().clone(),
        stopping,
        sessions: config.sessions.clone(),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
