//! Every option, once: meaning (the doc comment, Markdown: it is the
//! README's "meaning" column and, without the Markdown, `--help`), type,
//! default, variable, range and parser. See `declare.rs` for the form.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use weir_core::MasterKey;
use weir_engine::{ProcessorOptions, RetryPolicy, SyncOptions};
use weir_store::{DatabaseUrl, DbOptions};

use super::parse::*;
use super::{ConfigError, InstanceRole, LogFormat, RedactedUrl};

/// A duration in whole milliseconds, for `_ms` options.
const fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

settings! {
    /// what this instance does: `api` (the HTTP API and intake, no background work), `worker` (event processing and
    /// sync runs; serves only `/healthz`, `/readyz`, `/metrics`), `scheduler` (queues scheduled syncs; the same three
    /// routes), or `all` (`weir serve --role` sets it too). Any mix of instances on one PostgreSQL database behaves
    /// as one system
    instance_role: InstanceRole = InstanceRole::All, "WEIR_ROLE", parse(role);
    /// address to listen on
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)), "WEIR_LISTEN", parse(socket_addr);
    /// where the embedded database lives
    data_dir: PathBuf = PathBuf::from("./weir-data"), "WEIR_DATA_DIR", parse(path);
    /// `sqlite://…` or `postgres://…`; the backend is chosen from the scheme
    database_url: Option<DatabaseUrl> = None, "WEIR_DATABASE_URL", parse(database_url), shown("`sqlite://<data_dir>/weir.db`");
    /// the token that manages tenants (≥ 24 characters); setting it revokes any other system token
    system_token: Option<SecretString> = None, "WEIR_SYSTEM_TOKEN", parse(system_token), shown("generated on first start, printed once");
    /// base64 of 32 bytes (`openssl rand -base64 32`); seals connector credentials and receiver secrets with
    /// AES-256-GCM. Set it on every instance that shares a PostgreSQL database
    master_key: Option<MasterKey> = None, "WEIR_MASTER_KEY", parse(master_key), shown("`<data_dir>/master.key`, created (mode 0600) on first start");
    /// `redis://…`: per-connector webhook rate limits shared by every instance (GCRA in Redis); if Redis does not
    /// answer within 100 ms an instance falls back to its own limiter, logs it and counts
    /// `weir_rate_limit_fallback_total` — see [docs/deployment.md](docs/deployment.md)
    redis_url: Option<RedactedUrl> = None, "WEIR_REDIS_URL", parse(redis_url), shown("—");
    /// `true` refuses connector requests to loopback, private, link-local and other non-public addresses (SSRF guard
    /// for multi-tenant deployments)
    outbound_block_private: bool = false, "WEIR_OUTBOUND_BLOCK_PRIVATE", parse(flag);
    /// `http://…` or `https://…`: send connector and destination requests through this proxy. Without it they go
    /// direct and `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` are ignored; the private-address guard checks the target
    /// before any proxy
    outbound_proxy: Option<url::Url> = None, "WEIR_OUTBOUND_PROXY", parse(proxy_url), shown("— (direct)");
    /// largest partner response body read (a sync page, a push reply); a longer one fails as `invalid_response`
    max_response_bytes: usize = weir_engine::outbound::DEFAULT_MAX_RESPONSE_BYTES, "WEIR_MAX_RESPONSE_BYTES", range(64 * 1024, 1024 * 1024 * 1024);
    /// webhook requests per minute per connector, `0` = unlimited (used by webhook intake)
    rate_limit_per_minute: u32 = 100, "WEIR_RATE_LIMIT_PER_MINUTE", range(0, 1_000_000);
    /// largest request body (413 beyond)
    max_body_bytes: usize = 1024 * 1024, "WEIR_MAX_BODY_BYTES", range(1024, 64 * 1024 * 1024);
    /// a request taking longer is answered 408
    request_timeout_secs: u64 = 30, "WEIR_REQUEST_TIMEOUT_SECS", range(1, 3600);
    /// a client must send a request's headers within this time, or its connection is closed (slow-loris guard); it is
    /// also how long an idle keep-alive connection stays open, so a proxy in front should close its idle upstream
    /// connections sooner (nginx: `keepalive_timeout 20s;` in the `upstream` block). Heads are limited to 64 KiB and
    /// 100 headers (431 beyond)
    header_read_timeout_secs: u64 = 30, "WEIR_HEADER_READ_TIMEOUT_SECS", range(1, 300);
    /// grace period for in-flight requests on SIGTERM
    shutdown_timeout_secs: u64 = 30, "WEIR_SHUTDOWN_TIMEOUT_SECS", range(0, 3600);
    /// database pool size
    db_max_connections: u32 = DbOptions::DEFAULT_MAX_CONNECTIONS, "WEIR_DB_MAX_CONNECTIONS", range(1, 1000);
    /// wait for a pooled connection before answering 503
    db_acquire_timeout_secs: u64 = DbOptions::DEFAULT_ACQUIRE_TIMEOUT.as_secs(), "WEIR_DB_ACQUIRE_TIMEOUT_SECS", range(1, 300);
    /// `full`: every commit is fsynced (an acknowledged event survives power loss); `normal`: WAL syncs at
    /// checkpoints only — survives a crash of Weir, may lose the last commits if the machine loses power; faster
    /// ingest (see BENCHMARKS.md)
    sqlite_synchronous: SqliteSync = SqliteSync::Full, "WEIR_SQLITE_SYNCHRONOUS", parse(sqlite_sync);
    /// ingest writer tasks, each committing its own batches (PostgreSQL; SQLite has one writer at a time anyway); on
    /// 2 cores more than one measured no faster, as ingest and processing already use both — see BENCHMARKS.md
    ingest_writers: usize = 1, "WEIR_INGEST_WRITERS", range(1, 8);
    /// event-processing workers in this instance; `0` = process nothing here — see
    /// [docs/processing.md](docs/processing.md)
    workers: usize = ProcessorOptions::DEFAULT_WORKERS, "WEIR_WORKERS", range(0, 64);
    /// most events a worker claims at once
    worker_batch: u64 = ProcessorOptions::DEFAULT_BATCH_SIZE, "WEIR_WORKER_BATCH", range(1, 1000);
    /// seconds a claim holds before another worker may take the event over
    lease_secs: u64 = ProcessorOptions::DEFAULT_LEASE.as_secs(), "WEIR_LEASE_SECS", range(1, 3600);
    /// delays before the 2nd, 3rd, … attempt of a failed event (±20 % jitter; `ms`/`s`/`m` units)
    retry_backoff: Vec<Duration> = RetryPolicy::DEFAULT_BACKOFF.to_vec(), "WEIR_RETRY_BACKOFF", parse(durations);
    /// attempts before an event is `failed`
    max_attempts: u32 = RetryPolicy::DEFAULT_MAX_ATTEMPTS, "WEIR_MAX_ATTEMPTS", range(1, 100);
    /// idle workers look for due retries this often (new events wake them at once)
    worker_poll_ms: u64 = millis(ProcessorOptions::DEFAULT_POLL_INTERVAL), "WEIR_WORKER_POLL_MS", range(1, 60_000);
    /// after claiming less than a full batch, a worker waits this long for more events before claiming again
    /// (fewer, larger processing transactions under load; adds at most this much lag); `0` = claim at once
    worker_coalesce_ms: u64 = millis(ProcessorOptions::DEFAULT_COALESCE), "WEIR_WORKER_COALESCE_MS", range(0, 10_000);
    /// sync runs at once in this instance; `0` = run no syncs here — see [docs/syncs.md](docs/syncs.md)
    sync_concurrency: usize = SyncOptions::DEFAULT_CONCURRENCY, "WEIR_SYNC_CONCURRENCY", range(0, 1024);
    /// sync runs at once per connector
    sync_per_connector: usize = SyncOptions::DEFAULT_PER_CONNECTOR, "WEIR_SYNC_PER_CONNECTOR", range(1, 64);
    /// how often the scheduler queues due scheduled configurations; `0` = no scheduler here
    scheduler_interval_ms: u64 = millis(SyncOptions::DEFAULT_SCHEDULE_INTERVAL), "WEIR_SCHEDULER_INTERVAL_MS", range(0, 3_600_000);
    /// delays before retrying a page or push that failed with 5xx, timeout or connection error (3 attempts in all)
    sync_retry_backoff: Vec<Duration> = SyncOptions::DEFAULT_PAGE_BACKOFF.to_vec(), "WEIR_SYNC_RETRY_BACKOFF", parse(durations);
    /// how long a dashboard sign-in lasts (never longer than its token)
    session_ttl_secs: u64 = 12 * 3600, "WEIR_SESSION_TTL_SECS", range(60, 30 * 24 * 3600);
    /// mark the session cookie `Secure`; turn on when the dashboard is served over HTTPS
    session_cookie_secure: bool = false, "WEIR_SESSION_COOKIE_SECURE", parse(flag);
    /// how often a live stream (`/api/v1/integration/stream`) re-checks its token or session; a revoked token, an
    /// ended session or a role too low for the stream ends it within this time
    stream_recheck_secs: u64 = 15, "WEIR_STREAM_RECHECK_SECS", range(1, 15);
    /// the address people reach Weir at, e.g. `https://weir.example.com` (behind a proxy): the base of the SSO redirect
    /// URI to register at the identity provider (`<public url>/api/v1/sso/<tenant>/callback`). Unset, it is taken from each
    /// request's `Host`
    public_url: Option<url::Url> = None, "WEIR_PUBLIC_URL", parse(proxy_url), shown("— (from `Host`)");
    /// how long a user's invitation link (`POST /api/v1/users`) works; it works once
    invite_ttl_hours: u64 = 72, "WEIR_INVITE_TTL_HOURS", range(1, 30 * 24);
    /// finished webhook events (with their payloads) received on a UTC day are deleted once that day is this many
    /// days past — on PostgreSQL by dropping the day's partition, otherwise in batches of 1,000
    /// ([docs/retention.md](docs/retention.md)); audit entries (SHA-256 and size of each payload), rollups and
    /// records stay; `0` keeps them forever
    event_retention_days: u64 = 30, "WEIR_EVENT_RETENTION_DAYS", range(0, 36_500);
    /// per-record errors of runs finished longer ago are deleted (the runs and their counts stay); `0` keeps them
    /// forever
    sync_error_retention_days: u64 = 30, "WEIR_SYNC_ERROR_RETENTION_DAYS", range(0, 36_500);
    /// how often retention runs, on instances with the scheduler role
    retention_interval_secs: u64 = 3600, "WEIR_RETENTION_INTERVAL_SECS", range(1, 7 * 86_400);
    /// how often every tenant's signed audit head is written to the log (target `weir::audit_head`) and to
    /// `WEIR_AUDIT_HEAD_FILE`, on instances with the scheduler role; `0` never ([docs/audit.md](docs/audit.md))
    audit_head_interval_secs: u64 = 3600, "WEIR_AUDIT_HEAD_INTERVAL_SECS", range(0, 7 * 86_400);
    /// a file each signed audit head is appended to as a JSON line (keep it where the database's holder cannot
    /// write)
    audit_head_file: Option<PathBuf> = None, "WEIR_AUDIT_HEAD_FILE", parse(optional_path), shown("none");
    /// log filter (`tracing` syntax, e.g. `weir=debug,tower_http=info`)
    log: String = "info".to_owned(), "WEIR_LOG", parse(text);
    /// `text` or `json` (logs go to stderr)
    log_format: LogFormat = LogFormat::Text, "WEIR_LOG_FORMAT", parse(log_format);
}
