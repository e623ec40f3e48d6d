//! Configuration, layered: built-in defaults, then an optional TOML file
//! (`--config` / `WEIR_CONFIG`), then `WEIR_*` environment variables, then
//! command-line flags. Every value is validated once, here, with a message
//! that names the option; secrets and database passwords are redacted in
//! `Debug` and logs.
//!
//! Every option is declared once, in [`settings!`]: its flag, its variable,
//! its help. The README's configuration table mirrors that list.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use thiserror::Error;
use weir_core::MasterKey;
use weir_engine::{ProcessorOptions, RetryPolicy, SyncOptions};
use weir_store::{DatabaseUrl, DbOptions};

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
        /// Why.
        reason: String,
    },
    /// The config file could not be read or parsed.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Accepts a TOML string, integer, float or boolean as text, so the file
/// can say `max_body_bytes = 1048576` or `"1048576"` alike.
fn stringish<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<toml::Value>::deserialize(d)?;
    Ok(v.map(|v| match v {
        toml::Value::String(s) => s,
        other => other.to_string(),
    }))
}

macro_rules! settings {
    ($( $(#[doc = $doc:literal])* $field:ident : $env:literal ),* $(,)?) => {
        /// Every option as given (flag or environment, then file); `None`
        /// when unset.
        #[derive(Clone, Default, clap::Args, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Settings {
            /// A TOML file with any of the options below (keys in snake_case).
            #[arg(long, env = "WEIR_CONFIG", value_name = "PATH")]
            #[serde(skip)]
            pub config: Option<PathBuf>,
            $(
                $(#[doc = $doc])*
                #[arg(long, env = $env, hide_env_values = true)]
                #[serde(default, deserialize_with = "stringish")]
                pub $field: Option<String>,
            )*
        }

        impl Settings {
            /// Fills options unset here from `lower` (flags/env beat the file).
            fn or(self, lower: Settings) -> Settings {
                Settings { config: self.config, $( $field: self.$field.or(lower.$field), )* }
            }
        }

        /// Every `WEIR_*` variable Weir reads.
        pub const KNOWN_ENV: &[&str] = &["WEIR_CONFIG", $( $env, )*];

        /// (option, variable, help) for documentation.
        pub const OPTIONS: &[(&str, &str, &str)] = &[$( (stringify!($field), $env, concat!($($doc),*)), )*];
    };
}

settings! {
    /// Address to listen on [default: 127.0.0.1:8080].
    listen: "WEIR_LISTEN",
    /// Data directory for the embedded database [default: ./weir-data].
    data_dir: "WEIR_DATA_DIR",
    /// What this instance does: api (HTTP API and intake), worker (event processing and sync runs), scheduler (queues scheduled syncs), or all [default: all].
    instance_role: "WEIR_ROLE",
    /// sqlite://… or postgres://… [default: sqlite://<data-dir>/weir.db].
    database_url: "WEIR_DATABASE_URL",
    /// The system token (manages tenants). Unset: generated on first start and printed once.
    system_token: "WEIR_SYSTEM_TOKEN",
    /// Base64 of 32 bytes: the key that seals connector credentials and receiver secrets.
    master_key: "WEIR_MASTER_KEY",
    /// redis://… for limits shared across instances (optional).
    redis_url: "WEIR_REDIS_URL",
    /// true: refuse outbound requests to loopback/private/link-local addresses (SSRF guard for multi-tenant use) [default: false].
    outbound_block_private: "WEIR_OUTBOUND_BLOCK_PRIVATE",
    /// Webhook requests per minute per connector; 0 = unlimited [default: 100].
    rate_limit_per_minute: "WEIR_RATE_LIMIT_PER_MINUTE",
    /// Largest request body in bytes [default: 1048576].
    max_body_bytes: "WEIR_MAX_BODY_BYTES",
    /// Seconds a request may take before it is answered 408 [default: 30].
    request_timeout_secs: "WEIR_REQUEST_TIMEOUT_SECS",
    /// Seconds a client has to send a request's headers (slow-loris guard); also how long an idle keep-alive connection stays open [default: 30].
    header_read_timeout_secs: "WEIR_HEADER_READ_TIMEOUT_SECS",
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT [default: 30].
    shutdown_timeout_secs: "WEIR_SHUTDOWN_TIMEOUT_SECS",
    /// Database pool size [default: 10].
    db_max_connections: "WEIR_DB_MAX_CONNECTIONS",
    /// Seconds to wait for a pooled connection before answering 503 [default: 5].
    db_acquire_timeout_secs: "WEIR_DB_ACQUIRE_TIMEOUT_SECS",
    /// SQLite durability: full (fsync every commit) or normal (WAL; survives a crash of Weir, not of the OS) [default: full].
    sqlite_synchronous: "WEIR_SQLITE_SYNCHRONOUS",
    /// Event-processing workers in this instance; 0 = process nothing here [default: 2].
    workers: "WEIR_WORKERS",
    /// Most events a worker claims at once [default: 64].
    worker_batch: "WEIR_WORKER_BATCH",
    /// Seconds a worker's claim holds before another worker may take the event over [default: 60].
    lease_secs: "WEIR_LEASE_SECS",
    /// Delays before the 2nd, 3rd, … attempt of a failed event, e.g. 10s,60s,300s or 50ms,100ms (±20% jitter) [default: 10s,60s,300s].
    retry_backoff: "WEIR_RETRY_BACKOFF",
    /// Attempts before an event is marked failed [default: 3].
    max_attempts: "WEIR_MAX_ATTEMPTS",
    /// Milliseconds between an idle worker's looks for due retries (new events wake it at once) [default: 500].
    worker_poll_ms: "WEIR_WORKER_POLL_MS",
    /// Sync runs at once in this instance; 0 = run no syncs here [default: 16].
    sync_concurrency: "WEIR_SYNC_CONCURRENCY",
    /// Sync runs at once per connector [default: 2].
    sync_per_connector: "WEIR_SYNC_PER_CONNECTOR",
    /// Milliseconds between the scheduler's looks for due configurations; 0 = no scheduler here [default: 5000].
    scheduler_interval_ms: "WEIR_SCHEDULER_INTERVAL_MS",
    /// Delays before retrying a sync page or push that failed with 5xx/timeout, e.g. 1s,5s (3 attempts in all) [default: 1s,5s,15s].
    sync_retry_backoff: "WEIR_SYNC_RETRY_BACKOFF",
    /// Seconds a dashboard sign-in lasts (never longer than its token) [default: 43200].
    session_ttl_secs: "WEIR_SESSION_TTL_SECS",
    /// true: mark the dashboard's session cookie Secure (serve the dashboard over HTTPS) [default: false].
    session_cookie_secure: "WEIR_SESSION_COOKIE_SECURE",
    /// Days finished webhook events (and their payloads) are kept; 0 = forever [default: 30].
    event_retention_days: "WEIR_EVENT_RETENTION_DAYS",
    /// Days the per-record errors of finished sync runs are kept; 0 = forever [default: 30].
    sync_error_retention_days: "WEIR_SYNC_ERROR_RETENTION_DAYS",
    /// Seconds between retention passes (on scheduler-role instances) [default: 3600].
    retention_interval_secs: "WEIR_RETENTION_INTERVAL_SECS",
    /// Log filter, e.g. info or weir=debug,tower_http=info [default: info].
    log: "WEIR_LOG",
    /// Log format: text or json [default: text].
    log_format: "WEIR_LOG_FORMAT",
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
    /// Worker pool and retry settings.
    pub processing: ProcessorOptions,
    /// Sync runs: pool limits, scheduler, page retries.
    pub sync: SyncOptions,
    /// Dashboard sessions.
    pub sessions: weir_api::SessionSettings,
    /// Retention of events and sync errors.
    pub retention: weir_engine::retention::RetentionOptions,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
}

struct Check<'a> {
    option: &'static str,
    env: &'static str,
    value: Option<&'a str>,
}

impl Check<'_> {
    fn fail(&self, reason: impl fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            option: self.option,
            env: self.env,
            flag: self.option.replace('_', "-"),
            reason: reason.to_string(),
        }
    }

    /// A true/false option (also 1/0, yes/no); unset is false.
    fn flag(&self) -> Result<bool, ConfigError> {
        match self.value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("false") | Some("0") | Some("no") => Ok(false),
            Some("true") | Some("1") | Some("yes") => Ok(true),
            Some(other) => Err(self.fail(format!("{other:?}: use true or false"))),
        }
    }

    fn parse<T>(&self, default: T, range: Option<(T, T)>) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let Some(v) = self.value else { return Ok(default) };
        let parsed: T = v.trim().parse().map_err(|e: T::Err| self.fail(format!("{v:?}: {e}")))?;
        if let Some((lo, hi)) = range
            && !(lo <= parsed && parsed <= hi)
        {
            return Err(self.fail(format!("{parsed} is outside {lo}..={hi}")));
        }
        Ok(parsed)
    }
}

macro_rules! check {
    ($s:expr, $field:ident) => {
        Check {
            option: stringify!($field),
            env: env_of(stringify!($field)),
            value: $s.$field.as_deref().filter(|v| !v.is_empty()),
        }
    };
}

/// A comma-separated list of delays (`10s,60s` or `50ms,100ms`), each above
/// zero and at most 7 days.
fn durations(c: &Check<'_>, default: Vec<Duration>) -> Result<Vec<Duration>, ConfigError> {
    let Some(v) = c.value else { return Ok(default) };
    let list = v
        .split(',')
        .map(|d| humantime::parse_duration(d.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| c.fail(format!("{v:?}: {e} (use e.g. 10s,60s,300s)")))?;
    if list.is_empty() || list.iter().any(|d| d.is_zero() || *d > Duration::from_secs(7 * 24 * 3600)) {
        return Err(c.fail("every delay must be above 0 and at most 7 days"));
    }
    Ok(list)
}

fn env_of(option: &str) -> &'static str {
    OPTIONS.iter().find(|(o, _, _)| *o == option).map(|(_, e, _)| *e).unwrap_or("WEIR_?")
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
        merged.validate()
    }

    fn validate(&self) -> Result<Config, ConfigError> {
        let listen = check!(self, listen);
        let listen = match listen.value {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => {
                v.trim().parse().map_err(|_| listen.fail(format!("{v:?} is not host:port, e.g. 127.0.0.1:8080")))?
            }
        };
        let data_dir = PathBuf::from(check!(self, data_dir).value.unwrap_or("./weir-data"));
        let db = check!(self, database_url);
        let database_url = match db.value {
            Some(v) => DatabaseUrl::parse(v).map_err(|e| db.fail(e))?,
            None => DatabaseUrl::parse(&format!("sqlite://{}/weir.db", data_dir.display())).map_err(|e| db.fail(e))?,
        };
        let st = check!(self, system_token);
        let system_token = match st.value {
            Some(v) if v.trim().len() < 24 => return Err(st.fail("must be at least 24 characters")),
            Some(v) if v.trim().len() > 512 => return Err(st.fail("must be at most 512 characters")),
            Some(v) => Some(SecretString::from(v.trim().to_owned())),
            None => None,
        };
        let mk = check!(self, master_key);
        let master_key = match mk.value {
            None => None,
            Some(v) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .map_err(|_| mk.fail("must be base64 (e.g. `openssl rand -base64 32`)"))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|b: Vec<u8>| mk.fail(format!("must decode to 32 bytes, got {}", b.len())))?;
                Some(MasterKey::from_bytes(key))
            }
        };
        let rd = check!(self, redis_url);
        let redis_url = match rd.value {
            None => None,
            Some(v) => {
                let mut u = url::Url::parse(v.trim()).map_err(|_| rd.fail("is not a URL"))?;
                if !matches!(u.scheme(), "redis" | "rediss") {
                    return Err(rd.fail("must start with redis:// or rediss://"));
                }
                if u.password().is_some() {
                    let _ = u.set_password(Some("REDACTED"));
                }
                Some(RedactedUrl { url: SecretString::from(v.trim().to_owned()), redacted: u.to_string() })
            }
        };
        let ss = check!(self, sqlite_synchronous);
        let sqlite_sync_full = match ss.value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("full") => true,
            Some("normal") => false,
            Some(other) => return Err(ss.fail(format!("{other:?}: use full or normal"))),
        };
        let outbound_block_private = check!(self, outbound_block_private).flag()?;
        let sessions = weir_api::SessionSettings {
            ttl: Duration::from_secs(check!(self, session_ttl_secs).parse(43_200u64, Some((60, 30 * 24 * 3600)))?),
            secure_cookie: check!(self, session_cookie_secure).flag()?,
        };
        let backoff = durations(&check!(self, retry_backoff), RetryPolicy::default().backoff)?;
        let processing = ProcessorOptions {
            workers: check!(self, workers).parse(2usize, Some((0, 64)))?,
            batch_size: check!(self, worker_batch).parse(64u64, Some((1, 1000)))?,
            lease: Duration::from_secs(check!(self, lease_secs).parse(60u64, Some((1, 3600)))?),
            poll_interval: Duration::from_millis(check!(self, worker_poll_ms).parse(500u64, Some((1, 60_000)))?),
            retry: RetryPolicy {
                backoff,
                max_attempts: check!(self, max_attempts).parse(3u32, Some((1, 100)))?,
                ..RetryPolicy::default()
            },
            ..ProcessorOptions::default()
        };
        let sync_defaults = SyncOptions::default();
        let sync = SyncOptions {
            concurrency: check!(self, sync_concurrency).parse(16usize, Some((0, 1024)))?,
            per_connector: check!(self, sync_per_connector).parse(2usize, Some((1, 64)))?,
            schedule_interval: Duration::from_millis(
                check!(self, scheduler_interval_ms).parse(5000u64, Some((0, 3_600_000)))?,
            ),
            page_retry: RetryPolicy {
                backoff: durations(&check!(self, sync_retry_backoff), sync_defaults.page_retry.backoff.clone())?,
                ..sync_defaults.page_retry.clone()
            },
            ..sync_defaults
        };
        let role = match check!(self, instance_role).value.map(str::trim) {
            None | Some("all") => InstanceRole::All,
            Some("api") => InstanceRole::Api,
            Some("worker") => InstanceRole::Worker,
            Some("scheduler") => InstanceRole::Scheduler,
            Some(other) => {
                return Err(check!(self, instance_role).fail(format!("{other:?}: use api, worker, scheduler or all")));
            }
        };
        // A role switches off what it does not do, whatever the pool settings say.
        let processing = ProcessorOptions { workers: if role.works() { processing.workers } else { 0 }, ..processing };
        let sync = SyncOptions {
            concurrency: if role.works() { sync.concurrency } else { 0 },
            schedule_interval: if role.schedules() { sync.schedule_interval } else { Duration::ZERO },
            ..sync
        };
        let days = |d: u64| (d > 0).then(|| Duration::from_secs(d * 86_400));
        let retention = weir_engine::retention::RetentionOptions {
            events: days(check!(self, event_retention_days).parse(30u64, Some((0, 36_500)))?),
            sync_errors: days(check!(self, sync_error_retention_days).parse(30u64, Some((0, 36_500)))?),
            interval: Duration::from_secs(check!(self, retention_interval_secs).parse(3600u64, Some((1, 7 * 86_400)))?),
            batch: 1000,
        };
        let log_format = match check!(self, log_format).value.map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(check!(self, log_format).fail(format!("{other:?}: use text or json"))),
        };
        Ok(Config {
            role,
            listen,
            data_dir,
            database_url,
            system_token,
            master_key,
            redis_url,
            outbound_block_private,
            rate_limit_per_minute: check!(self, rate_limit_per_minute).parse(100u32, Some((0, 1_000_000)))?,
            max_body_bytes: check!(self, max_body_bytes).parse(1024 * 1024usize, Some((1024, 64 * 1024 * 1024)))?,
            request_timeout: Duration::from_secs(check!(self, request_timeout_secs).parse(30u64, Some((1, 3600)))?),
            header_read_timeout: Duration::from_secs(
                check!(self, header_read_timeout_secs).parse(30u64, Some((1, 300)))?,
            ),
            shutdown_timeout: Duration::from_secs(check!(self, shutdown_timeout_secs).parse(30u64, Some((0, 3600)))?),
            db: DbOptions {
                max_connections: check!(self, db_max_connections).parse(10u32, Some((1, 1000)))?,
                acquire_timeout: Duration::from_secs(
                    check!(self, db_acquire_timeout_secs).parse(5u64, Some((1, 300)))?,
                ),
                sqlite_sync_full,
                ..DbOptions::default()
            },
            log: check!(self, log).value.unwrap_or("info").to_owned(),
            log_format,
            processing,
            sync,
            sessions,
            retention,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s() -> Settings {
        Settings::default()
    }

    #[test]
    fn a_role_switches_off_what_it_does_not_do() {
        let c = Settings::default().resolve().unwrap();
        assert_eq!(c.role, InstanceRole::All);
        assert!(c.processing.workers > 0 && c.sync.concurrency > 0 && !c.sync.schedule_interval.is_zero());
        let role =
            |r: &str| Settings { instance_role: Some(r.into()), workers: Some("4".into()), ..s() }.resolve().unwrap();
        let api = role("api");
        assert_eq!((api.processing.workers, api.sync.concurrency, api.sync.schedule_interval), (0, 0, Duration::ZERO));
        let worker = role("worker");
        assert_eq!((worker.processing.workers, worker.sync.schedule_interval), (4, Duration::ZERO));
        assert!(worker.sync.concurrency > 0);
        let scheduler = role("scheduler");
        assert_eq!((scheduler.processing.workers, scheduler.sync.concurrency), (0, 0));
        assert!(!scheduler.sync.schedule_interval.is_zero());
        let e = Settings { instance_role: Some("boss".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("WEIR_ROLE") && e.contains("api, worker, scheduler or all"), "{e}");
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = s().resolve().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), "sqlite://./weir-data/weir.db");
        assert_eq!(c.rate_limit_per_minute, 100);
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert!(c.system_token.is_none() && c.master_key.is_none() && c.redis_url.is_none());
    }

    #[test]
    fn bad_values_name_their_option() {
        let e = Settings { listen: Some("nowhere".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("WEIR_LISTEN") && e.contains("--listen"), "{e}");
        let e = Settings { max_body_bytes: Some("-1".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("WEIR_MAX_BODY_BYTES"), "{e}");
        let e = Settings { database_url: Some("mysql://x".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("sqlite:// or postgres://"), "{e}");
        let e = Settings { master_key: Some("c2hvcnQ=".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("32 bytes"), "{e}");
        let e = Settings { system_token: Some("short".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("WEIR_SYSTEM_TOKEN") && !e.contains("short\""), "{e}");
        let e = Settings { log_format: Some("xml".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("WEIR_LOG_FORMAT"), "{e}");
        let e = Settings { sqlite_synchronous: Some("off".into()), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("WEIR_SQLITE_SYNCHRONOUS"), "{e}");
        assert!(!Settings { sqlite_synchronous: Some("normal".into()), ..s() }.resolve().unwrap().db.sqlite_sync_full);
        assert!(s().resolve().unwrap().db.sqlite_sync_full, "durable by default");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = Settings {
            database_url: Some("postgres://u:pgpass@localhost/db".into()),
            system_token: Some("weir_supersecretsystemtoken123".into()),
            master_key: Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32])),
            redis_url: Some("redis://:redispass@localhost:6379".into()),
            ..s()
        }
        .resolve()
        .unwrap();
        let dbg = format!("{c:?}");
        for secret in ["pgpass", "supersecret", "redispass", "BwcH"] {
            assert!(!dbg.contains(secret), "{secret} leaked: {dbg}");
        }
    }

    #[test]
    fn file_layer_sits_below_flags_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9999\"\nmax_body_bytes = 2048\nrate_limit_per_minute = 5\n")
            .unwrap();
        let c =
            Settings { config: Some(path.clone()), rate_limit_per_minute: Some("7".into()), ..s() }.resolve().unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.max_body_bytes, 2048);
        assert_eq!(c.rate_limit_per_minute, 7, "flag/env beats the file");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let e = Settings { config: Some(path), ..s() }.resolve().unwrap_err().to_string();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn readme_documents_every_option() {
        let readme = include_str!("../../../README.md");
        for (option, env, _) in OPTIONS {
            assert!(readme.contains(&format!("`{env}`")), "README lacks {env}");
            assert!(readme.contains(&format!("`--{}`", option.replace('_', "-"))), "README lacks --{option}");
        }
    }
}
