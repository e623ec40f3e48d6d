//! Configuration, layered: built-in defaults, then an optional TOML file
//! (`--config` / `WEIR_CONFIG`), then `WEIR_*` environment variables, then
//! command-line flags. Every value is validated once, with a message that
//! names the option; secrets and database passwords are redacted in `Debug`
//! and logs.
//!
//! Every option is declared once, in `options.rs`: its meaning, type,
//! default, variable, range and parser. The `settings!` macro (`declare.rs`)
//! makes the flags, `--help`, the parsing and the README's configuration
//! table from it; a test checks the README against [`markdown_table`].

#[macro_use]
mod declare;
mod options;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;
use weir_core::MasterKey;
use weir_engine::{ProcessorOptions, RetryPolicy, SyncOptions};
use weir_store::{DatabaseUrl, DbOptions};

use options::Values;
pub use options::{KNOWN_ENV, OPTIONS, Settings, markdown_table};
use parse::{Check, SqliteSync};

/// A value that could not be used, naming the option.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// One option's value is unusable.
    #[error("invalid {option} ({env} / --{flag}): {reason}")]
    Invalid {
        /// Option key (file key).
        option: &'static str,
        /// Its environment variable.
        env: &'static str,
        /// Its flag (without `--`).
        flag: String,
        /// What is wrong with the value, for the message.
        reason: String,
    },
    /// The config file could not be read or parsed.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// The read or parse error.
        reason: String,
    },
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Settings(<may hold secrets; see Config>)")
    }
}

/// What an instance does; several instances with different roles on one
/// PostgreSQL database behave as one system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceRole {
    /// The HTTP API and webhook intake; no background work.
    Api,
    /// Event-processing workers and sync runners; HTTP only for `/healthz`,
    /// `/readyz` and `/metrics`.
    Worker,
    /// The sync scheduler; HTTP only for `/healthz`, `/readyz` and `/metrics`.
    Scheduler,
    /// Everything (one instance, or identical instances).
    All,
}

impl InstanceRole {
    /// Serves the API.
    pub fn serves_api(self) -> bool {
        matches!(self, Self::Api | Self::All)
    }

    /// Processes events and runs syncs.
    pub fn works(self) -> bool {
        matches!(self, Self::Worker | Self::All)
    }

    /// Queues scheduled syncs.
    pub fn schedules(self) -> bool {
        matches!(self, Self::Scheduler | Self::All)
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A URL whose password is replaced by `REDACTED` in `Debug`.
pub struct RedactedUrl {
    url: SecretString,
    redacted: String,
}

impl RedactedUrl {
    /// The full URL, for the client library only.
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// What this instance does.
    pub role: InstanceRole,
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (redacted in `Debug`).
    pub database_url: DatabaseUrl,
    /// Supplied system token, if any.
    pub system_token: Option<SecretString>,
    /// Master key, if supplied; otherwise the key file in the data
    /// directory is used (created on first start).
    pub master_key: Option<MasterKey>,
    /// Redis, if configured (shared limits and live events when scaling out).
    pub redis_url: Option<RedactedUrl>,
    /// Refuse non-public outbound targets.
    pub outbound_block_private: bool,
    /// The proxy outbound requests go through, if any (never the environment's).
    pub outbound_proxy: Option<url::Url>,
    /// Cap on a partner's response body.
    pub max_response_bytes: usize,
    /// Default per-connector webhook rate; 0 = unlimited.
    pub rate_limit_per_minute: u32,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Time allowed for a request's head to arrive.
    pub header_read_timeout: Duration,
    /// Grace period for in-flight requests at shutdown.
    pub shutdown_timeout: Duration,
    /// Pool settings.
    pub db: DbOptions,
    /// The group-commit ingest writer.
    pub ingest: weir_engine::IngestOptions,
    /// Worker pool and retry settings.
    pub processing: ProcessorOptions,
    /// Sync runs: pool limits, scheduler, page retries.
    pub sync: SyncOptions,
    /// Dashboard sessions.
    pub sessions: weir_api::SessionSettings,
    /// Retention of events and sync errors.
    pub retention: weir_engine::retention::RetentionOptions,
    /// Signed audit heads written out (`None`: never).
    pub audit_heads: Option<weir_engine::audit_heads::AuditHeadOptions>,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
}

impl Settings {
    /// Reads the config file (if one is named) under these settings and
    /// validates the result.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let merged = match self.config.clone() {
            Some(path) => {
                let file = read_file(&path)?;
                self.or(file)
            }
            None => self,
        };
        Values::parse(&merged)?.into_config()
    }
}

impl Values {
    /// Groups the values the way the engine takes them. A role switches off
    /// what it does not do, whatever the pool settings say.
    fn into_config(self) -> Result<Config, ConfigError> {
        let role = self.instance_role;
        let database_url = match self.database_url {
            Some(url) => url,
            None => DatabaseUrl::parse(&format!("sqlite://{}/weir.db", self.data_dir.display()))
                .map_err(|e| Check::of("database_url").fail(e))?,
        };
        let processing = ProcessorOptions {
            workers: if role.works() { self.workers } else { 0 },
            batch_size: self.worker_batch,
            lease: Duration::from_secs(self.lease_secs),
            poll_interval: Duration::from_millis(self.worker_poll_ms),
            coalesce: Duration::from_millis(self.worker_coalesce_ms),
            retry: RetryPolicy {
                backoff: self.retry_backoff,
                max_attempts: self.max_attempts,
                ..RetryPolicy::default()
            },
            ..ProcessorOptions::default()
        };
        let sync_defaults = SyncOptions::default();
        let sync = SyncOptions {
            concurrency: if role.works() { self.sync_concurrency } else { 0 },
            per_connector: self.sync_per_connector,
            schedule_interval: match role.schedules() {
                true => Duration::from_millis(self.scheduler_interval_ms),
                false => Duration::ZERO,
            },
            page_retry: RetryPolicy { backoff: self.sync_retry_backoff, ..sync_defaults.page_retry.clone() },
            ..sync_defaults
        };
        let days = |d: u64| (d > 0).then(|| Duration::from_secs(d * 86_400));
        Ok(Config {
            role,
            listen: self.listen,
            data_dir: self.data_dir,
            database_url,
            system_token: self.system_token,
            master_key: self.master_key,
            redis_url: self.redis_url,
            outbound_block_private: self.outbound_block_private,
            outbound_proxy: self.outbound_proxy,
            max_response_bytes: self.max_response_bytes,
            rate_limit_per_minute: self.rate_limit_per_minute,
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            db: DbOptions {
                max_connections: self.db_max_connections,
                acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs),
                sqlite_sync_full: self.sqlite_synchronous == SqliteSync::Full,
                ..DbOptions::default()
            },
            ingest: weir_engine::IngestOptions { writers: self.ingest_writers, ..Default::default() },
            processing,
            sync,
            sessions: weir_api::SessionSettings {
                ttl: Duration::from_secs(self.session_ttl_secs),
                secure_cookie: self.session_cookie_secure,
                stream_recheck: Duration::from_secs(self.stream_recheck_secs),
                invite_ttl: Duration::from_secs(self.invite_ttl_hours * 3600),
                public_url: self.public_url,
            },
            retention: weir_engine::retention::RetentionOptions {
                events: days(self.event_retention_days),
                sync_errors: days(self.sync_error_retention_days),
                interval: Duration::from_secs(self.retention_interval_secs),
                batch: 1000,
            },
            audit_heads: (self.audit_head_interval_secs > 0).then(|| weir_engine::audit_heads::AuditHeadOptions {
                interval: Duration::from_secs(self.audit_head_interval_secs),
                file: self.audit_head_file,
            }),
            log: self.log,
            log_format: self.log_format,
        })
    }
}

fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::File { path: path.to_owned(), reason: e.to_string() })?;
    toml::from_str(&text).map_err(|e| ConfigError::File { path: path.to_owned(), reason: e.message().to_owned() })
}

/// `WEIR_*` variables that Weir does not read (typos, stale settings).
/// Variables of the test suite (`WEIR_TEST_*`) are not reported.
pub fn unknown_env_vars() -> Vec<String> {
    let known: BTreeMap<&str, ()> = KNOWN_ENV.iter().map(|k| (*k, ())).collect();
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("WEIR_") && !k.starts_with("WEIR_TEST_") && !known.contains_key(k.as_str()))
        .collect()
}
