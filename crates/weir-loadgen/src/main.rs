//! `weir-loadgen`: benchmarks against a running Weir server. Every run is
//! bounded in count and time, and only loopback targets are accepted.
//!
//! ```text
//! weir-loadgen connectors-list --base http://127.0.0.1:8080 --system-token weir_… --connectors 1000
//! weir-loadgen webhooks --base http://127.0.0.1:8080 --system-token weir_… --method standard_webhooks \
//!     --concurrency 64 --duration-secs 20 --schema
//! weir-loadgen noop --listen 127.0.0.1:18099 --lifetime-secs 60      # baseline server
//! weir-loadgen blast --url http://127.0.0.1:18099/x --concurrency 64 --duration-secs 20
//! weir-loadgen insert-rate --database-url postgres://… --rows 200000
//! weir-loadgen soak --base http://127.0.0.1:8080 --system-token weir_… --minutes 10 --server-pid 1234
//! ```

mod baselines;
mod common;
mod connectors;
mod dashboard;
mod soak;
mod syncs;
mod webhooks;

use std::time::Duration;

use clap::{Parser, Subcommand};

pub(crate) use common::{Report, check_loopback, percentile, post};

#[derive(Parser)]
#[command(name = "weir-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a tenant with N connectors, then time repeated list calls.
    ConnectorsList {
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// Connectors to create (at most 10000).
        #[arg(long, default_value_t = 1000)]
        connectors: u32,
        /// Timed list calls per variant (at most 10000).
        #[arg(long, default_value_t = 200)]
        calls: u32,
    },
    /// Send signed webhooks at a fixed concurrency; check stored == accepted.
    Webhooks {
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// bearer, hmac_sha256 or standard_webhooks.
        #[arg(long, default_value = "standard_webhooks")]
        method: String,
        /// Concurrent senders.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Run time (at most 600).
        #[arg(long, default_value_t = 20)]
        duration_secs: u64,
        /// Stop after this many requests (0 = time only).
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Validate against a small JSON Schema.
        #[arg(long)]
        schema: bool,
        /// Approximate body size in bytes.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
        /// Route events through a 10-rule mapping into records; report
        /// end-to-end throughput and queue lag.
        #[arg(long)]
        process: bool,
        /// Target requests/s across all senders (0 = as fast as possible).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
    /// Sync benchmarks against a partner API served here: one large inbound
    /// run, then many configurations at once.
    Sync {
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// Records in the large run (0 = skip it; at most 2,000,000).
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Records per page.
        #[arg(long, default_value_t = 100)]
        page_size: u64,
        /// Configurations run at once afterwards (0 = skip; at most 1000).
        #[arg(long, default_value_t = 200)]
        configurations: u32,
        /// Loopback address for the partner API.
        #[arg(long, default_value = "127.0.0.1:18098")]
        partner: String,
        /// The server's PID, to report its peak RSS.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Records of a run whose every record fails, then exported (0 = skip).
        #[arg(long, default_value_t = 0)]
        export_errors: u64,
    },
    /// Dashboard benchmark: `seed` a large history (API + rows generated in
    /// the database), then (after `weir rollups rebuild`) `time` the dashboard.
    Dashboard {
        /// `seed` or `time`.
        step: String,
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// The server's database (loopback), for `seed`.
        #[arg(long, default_value = "")]
        database_url: String,
        /// Events to generate (at most 20,000,000).
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Runs to generate (at most 2,000,000).
        #[arg(long, default_value_t = 200_000)]
        runs: u64,
        /// Connectors to create (at most 10,000).
        #[arg(long, default_value_t = 1000)]
        connectors: u32,
        /// Timed calls per range (at most 10,000).
        #[arg(long, default_value_t = 200)]
        calls: u32,
        /// For `time`: the admin token `seed` printed.
        #[arg(long)]
        admin_token: Option<String>,
    },
    /// Mixed load at fixed rates for minutes (webhooks, syncs, dashboard and
    /// event reads): RSS, queue depth and probe lag sampled; fails on
    /// unexpected answers, RSS growth or lag over the limits.
    Soak(soak::Plan),
    /// A no-op HTTP server (202 to any POST) for the baseline; ends by itself.
    Noop {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:18099")]
        listen: String,
        /// Seconds before it exits (at most 3600).
        #[arg(long, default_value_t = 120)]
        lifetime_secs: u64,
    },
    /// POST unsigned 1 KB JSON bodies to a URL (the no-op baseline).
    Blast {
        /// Target URL (loopback only).
        #[arg(long)]
        url: String,
        /// Concurrent senders.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Run time (at most 600).
        #[arg(long, default_value_t = 20)]
        duration_secs: u64,
    },
    /// Raw batched insert rate of 1 KB JSON rows into a scratch table.
    InsertRate {
        /// sqlite://… or postgres://… (loopback only for PostgreSQL).
        #[arg(long)]
        database_url: String,
        /// Rows to insert (at most 2,000,000).
        #[arg(long, default_value_t = 200_000)]
        rows: u64,
        /// Rows per INSERT.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Concurrent writers.
        #[arg(long, default_value_t = 4)]
        writers: usize,
    },
}

/// The same allocator as the server, so the generator spends less of the
/// shared CPU on itself.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::ConnectorsList { base, system_token, connectors, calls } => {
            connectors::connectors_list(base.trim_end_matches('/'), &system_token, connectors, calls).await
        }
        Command::Webhooks {
            base,
            system_token,
            method,
            concurrency,
            duration_secs,
            count,
            schema,
            body_bytes,
            process,
            rate,
        } => {
            webhooks::run(webhooks::Plan {
                base: base.trim_end_matches('/').to_owned(),
                system_token,
                method,
                concurrency,
                duration: Duration::from_secs(duration_secs),
                count,
                schema,
                body_bytes,
                process,
                rate,
            })
            .await
        }
        Command::Sync {
            base,
            system_token,
            records,
            page_size,
            configurations,
            partner,
            server_pid,
            export_errors,
        } => {
            syncs::run(syncs::Plan {
                base: base.trim_end_matches('/').to_owned(),
                system_token,
                records,
                page_size,
                configurations,
                partner,
                server_pid,
                export_errors,
            })
            .await
        }
        Command::Dashboard { step, base, system_token, database_url, events, runs, connectors, calls, admin_token } => {
            let plan = dashboard::Plan {
                base: base.trim_end_matches('/').to_owned(),
                system_token,
                database_url,
                events,
                runs,
                connectors,
                calls,
                admin_token,
            };
            dashboard::run(&step, &plan).await
        }
        Command::Soak(plan) => soak::run(plan).await,
        Command::Noop { listen, lifetime_secs } => baselines::noop(&listen, lifetime_secs).await,
        Command::Blast { url, concurrency, duration_secs } => baselines::blast(&url, concurrency, duration_secs).await,
        Command::InsertRate { database_url, rows, batch, writers } => {
            baselines::insert_rate(&database_url, rows, batch, writers).await
        }
    }
}
