//! Start-up and serving: open the database the URL names, migrate, make sure
//! a system token exists, then serve until `shutdown` resolves — finishing
//! in-flight requests within the configured grace period.

use std::future::Future;
use std::time::Instant;

use secrecy::ExposeSecret;
use thiserror::Error;
use tokio::net::TcpListener;
use weir_api::HttpLimits;
use weir_core::PlainToken;
use weir_store::{Store, StoreError};

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
    Ok(store)
}

/// Ensures a system token exists; prints a newly generated one once.
async fn bootstrap_system_token(store: &Store, config: &Config) -> Result<(), StartupError> {
    let supplied = config.system_token.as_ref().map(|s| PlainToken::from_supplied(s.expose_secret()));
    if let Some(generated) = store.ensure_system_token(supplied.as_ref()).await? {
        tracing::warn!("generated a system token; it is printed once on stdout and stored only as a hash");
        println!(
            "\n  Weir generated the system token. It is shown only this once:\n\n    {}\n\n  \
             Create a tenant with it:\n    curl -X POST http://{}/api/v1/system/tenants \\\n      \
             -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json' \\\n      \
             -d '{{\"slug\": \"acme\", \"name\": \"Acme\"}}'\n",
            generated.expose(),
            config.listen
        );
    }
    Ok(())
}

/// Runs Weir on `listener` until `shutdown` resolves. Tests bind
/// `127.0.0.1:0` and pass their own shutdown future.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let started = Instant::now();
    let store = open_store(&config).await?;
    bootstrap_system_token(&store, &config).await?;
    let limits = HttpLimits { max_body_bytes: config.max_body_bytes, request_timeout: config.request_timeout };
    let app = weir_api::router(store.clone(), &limits);
    let addr = listener.local_addr().map_err(StartupError::Serve)?;
    tracing::info!(
        %addr,
        database = %config.database_url.redacted(),
        startup_ms = started.elapsed().as_millis() as u64,
        "weir is listening"
    );

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stopping_tx.send(());
    });
    let grace = config.shutdown_timeout;
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result.map_err(StartupError::Serve)?,
        () = deadline => tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing remaining connections"),
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
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
