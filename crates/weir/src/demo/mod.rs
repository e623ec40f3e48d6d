//! `weir demo`: the real server on a database of its own, a fake partner
//! system on loopback, a seeded `demo` tenant and a steady trickle of
//! traffic, so a newcomer sees a living dashboard with one command.
//!
//! - `mod.rs` (this file): the demo's settings ([`demo_settings`]), start-up
//!   ([`start`]) and the [`DemoHandle`] that prints the banner and stops it.
//! - `partner.rs`: the fake partner (a shop API, a failing legacy CRM, an
//!   ERP that accepts delivered records) on `127.0.0.1:0`.
//! - `seed.rs`: the tenant and tokens (through the store, as `weir tenant
//!   create` does), then connectors, mappings, receivers and sync
//!   configurations through Weir's own HTTP API; safe to repeat.
//! - `trickle.rs`: signed webhooks every ~1 s, sync executions every ~25 s
//!   and a periodic one-line summary, until stopped.
//!
//! Nothing leaves the machine: Weir, the partner and the traffic all use
//! loopback addresses.

mod fakes;
mod mappings;
mod partner;
mod seed;
mod tokens;
mod trickle;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::StartupError;
use crate::config::{Config, Settings};

pub use trickle::TrickleOptions;

/// The demo database's file name (in the current directory by default).
pub const DEMO_DATABASE_FILE: &str = "weir-demo.db";
/// The demo database's master key file, next to it.
pub const DEMO_KEY_FILE: &str = "weir-demo.key";

/// Settings prepared for the demo by [`demo_settings`].
pub struct DemoSettings {
    /// The settings to resolve.
    pub settings: Settings,
    /// True when the database is the demo's own file (not one the caller
    /// named); only then may the demo keep a generated system token to itself.
    pub own_database: bool,
}

/// Fills in the demo's defaults. Unless `--database-url` /
/// `WEIR_DATABASE_URL` is given, the database is `<dir>/weir-demo.db`, and
/// unless `WEIR_MASTER_KEY` is given its key is kept in `<dir>/weir-demo.key`
/// (created with mode 0600 next to a new database). A named database is used
/// exactly as `weir serve` would use it.
pub fn demo_settings(mut settings: Settings, dir: &Path) -> anyhow::Result<DemoSettings> {
    if settings.database_url.as_deref().is_some_and(|v| !v.trim().is_empty()) {
        return Ok(DemoSettings { settings, own_database: false });
    }
    let db = dir.join(DEMO_DATABASE_FILE);
    settings.database_url = Some(format!("sqlite://{}", db.display()));
    if settings.master_key.as_deref().is_none_or(|v| v.trim().is_empty()) {
        settings.master_key = Some(demo_key(&db, &dir.join(DEMO_KEY_FILE))?);
    }
    Ok(DemoSettings { settings, own_database: true })
}

/// The demo database's key (base64): read from `key_file`, or created there
/// when the database is new.
fn demo_key(db: &Path, key_file: &Path) -> anyhow::Result<String> {
    let key = if key_file.exists() {
        crate::app::read_key_file(key_file)?
    } else if db.exists() {
        bail!(
            "{} exists but its key file {} does not: delete the demo database (and its -wal/-shm files) to start afresh, \
             or set WEIR_MASTER_KEY",
            db.display(),
            key_file.display()
        );
    } else {
        crate::app::write_key_file(key_file)?
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(key.to_bytes()))
}

/// Tunables of a demo run (the defaults suit a person watching; tests go faster).
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// The database is the demo's own (see [`DemoSettings::own_database`]).
    pub own_database: bool,
    /// Pace of the generated traffic.
    pub trickle: TrickleOptions,
}

/// A running demo: Weir, the fake partner and the traffic.
pub struct DemoHandle {
    /// Weir's address, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The fake partner's address.
    pub partner_url: String,
    /// The `demo` tenant's admin token issued for this run (for the API, or
    /// the sign-in page's token form).
    pub admin_token: String,
    /// The demo admin's email and this run's password (sign in with them).
    pub sign_in: Option<(String, String)>,
    database: String,
    stop_traffic: watch::Sender<bool>,
    stop_server: watch::Sender<bool>,
    trickle: JoinHandle<()>,
    server: JoinHandle<Result<(), StartupError>>,
    partner: partner::Partner,
}

impl DemoHandle {
    /// The text printed once at start: where to look and how to sign in.
    pub fn banner(&self) -> String {
        let person = match &self.sign_in {
            Some((email, password)) => format!("    Sign in as:  {email}\n    Password:    {password}\n"),
            None => String::new(),
        };
        format!(
            "\n  Weir demo is running (database {db}).\n\n    \
             Dashboard:   {base}/\n{person}    \
             Admin token: {token}\n\n  \
             Sign in with the email and password (the password is new each run), or paste the token under\n  \
             \"Sign in with an API token\" (or use it as `Authorization: Bearer …` on {base}/api/v1/…).\n  \
             A fake partner at {partner} sends webhooks and serves syncs; one connector (Legacy CRM) always fails.\n  \
             Ctrl-C to stop.\n",
            db = self.database,
            base = self.base_url,
            token = self.admin_token,
            partner = self.partner_url,
        )
    }

    /// Stops the traffic, then the server (its normal graceful shutdown:
    /// in-flight requests, workers, sync runs), then the partner.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop_traffic.send(true);
        if let Err(e) = self.trickle.await {
            tracing::warn!(error = %e, "the demo traffic task ended abnormally");
        }
        let _ = self.stop_server.send(true);
        let served = self.server.await.context("the server task panicked")?;
        self.partner.stop().await;
        served.context("the server stopped with an error")?;
        tracing::info!("demo stopped");
        Ok(())
    }
}

/// How long start-up may take before the demo gives up (first start
/// migrates the database).
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Starts the demo: the server (exactly as `weir serve` runs it, on
/// `config.listen`, which must be a loopback address), the partner, the
/// seed and the trickle. Call [`DemoHandle::shutdown`] to stop it.
pub async fn start(mut config: Config, options: DemoOptions) -> anyhow::Result<DemoHandle> {
    if !config.listen.ip().is_loopback() {
        bail!("weir demo listens on loopback only (it prints an admin token); use e.g. --listen 127.0.0.1:8080");
    }
    if config.outbound_block_private {
        tracing::warn!("WEIR_OUTBOUND_BLOCK_PRIVATE is ignored by the demo: its partner runs on 127.0.0.1");
        config.outbound_block_private = false;
    }
    // reqwest is built without a default TLS provider (as in `main`).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = config.database_url.redacted().to_owned();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is another Weir running? try --listen)", config.listen))?;
    let mut tokens = tokens::issue_tokens(&config, options.own_database).await?;
    let user = tokens.user.take();
    let base_url = format!("http://{}", listener.local_addr().context("listener address")?);
    let partner = partner::Partner::start().await?;

    // The server stops after the traffic (see `DemoHandle::shutdown`).
    let (stop_server, mut server_stopped) = watch::channel(false);
    let server = tokio::spawn(crate::app::run(config, listener, async move {
        let _ = server_stopped.wait_for(|s| *s).await;
    }));
    let seeded = async {
        server_ready(&base_url, &server).await?;
        seed::seed(&base_url, &partner.url, tokens).await
    }
    .await;
    let seeded = match seeded {
        Ok(s) => s,
        Err(e) => {
            let _ = stop_server.send(true);
            let served = server.await;
            partner.stop().await;
            // The server's own failure (bad key, database) explains more.
            if let Ok(Err(startup)) = served {
                return Err(anyhow::Error::new(startup).context("the server could not start"));
            }
            return Err(e);
        }
    };
    let admin_token = seeded.admin_token.clone();
    let (stop_traffic, traffic_stopped) = watch::channel(false);
    let trickle =
        tokio::spawn(trickle::run(seeded, base_url.clone(), partner.stats.clone(), options.trickle, traffic_stopped));
    Ok(DemoHandle {
        base_url,
        partner_url: partner.url.clone(),
        admin_token,
        sign_in: user.map(|u| (u.email, u.password)),
        database,
        stop_traffic,
        stop_server,
        trickle,
        server,
        partner,
    })
}

/// Resolves once `GET /readyz` answers 200, failing if the server task ends
/// first or [`READY_WITHIN`] passes.
async fn server_ready(base_url: &str, server: &JoinHandle<Result<(), StartupError>>) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    loop {
        if server.is_finished() {
            bail!("the server stopped during start-up");
        }
        if let Ok(r) = client.get(format!("{base_url}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("the server was not ready within {}s", READY_WITHIN.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
