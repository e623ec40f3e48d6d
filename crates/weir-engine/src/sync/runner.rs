//! What every run shares: loading its configuration and remote end, the
//! remote calls with page retries and `Retry-After`, progress checkpoints,
//! and cancellation. The directions themselves are in `pull.rs` (inbound)
//! and `push.rs` (outbound).

use std::time::Duration;

use serde_json::Value;
use weir_core::live::SyncProgress;
use weir_core::mapping::{Mapping, Rule};
use weir_core::{ConnectorConfig, Credentials, LiveEvent, MasterKey, RunStatus, SyncErrorType};
use weir_store::{ClaimedRun, RunCounts, RunEnd, Store, StoreError, SyncConfiguration};

use super::SyncOptions;
use crate::Outbound;
use crate::connectors::{Connector, ConnectorError, build_connector};

/// Why a run stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Failed: why, and the message.
    Failed(SyncErrorType, String),
    /// Cancellation was asked for.
    Cancelled,
    /// This instance is shutting down: the run goes back to the queue.
    ShuttingDown,
    /// Another runner took the run over (this one's lease lapsed).
    Lost,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::StateConflict(_) => Stop::Lost,
            e => Stop::Failed(SyncErrorType::Database, e.to_string()),
        }
    }
}

/// Everything a run needs, loaded once.
pub(crate) struct RunContext<'a> {
    pub store: &'a Store,
    pub options: &'a SyncOptions,
    pub run: &'a ClaimedRun,
    pub owner: &'a str,
    pub stopping: &'a tokio_util::sync::CancellationToken,
    pub counts: RunCounts,
    pub last_checkpoint: std::time::Instant,
}

/// How often a running run saves its progress (and notices a cancel).
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// A record's JSON cut to what a sync error keeps of it.
pub(super) fn excerpt(v: &Value) -> Option<String> {
    let s = v.to_string();
    Some(s.chars().take(weir_store::repos::sync_runs::MAX_EXCERPT_CHARS).collect())
}

/// A mapped record key as the external id: a non-empty string of at most
/// 255 bytes, or a number; anything else is no key.
pub(super) fn key_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() && s.len() <= 255 => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A run's configuration with its remote end and mapping (with the record
/// key's target field) ready to use.
pub(crate) struct Loaded {
    pub config: SyncConfiguration,
    pub remote: Box<dyn Connector>,
    pub mapping: Option<(Mapping, String)>,
}

/// Loads the configuration, its connector (credentials opened) and mapping.
pub(crate) async fn load(
    store: &Store,
    master_key: &MasterKey,
    outbound: &Outbound,
    run: &ClaimedRun,
) -> Result<Loaded, Stop> {
    let cfg = |m: String| Stop::Failed(SyncErrorType::Configuration, m);
    let config = match store.get_sync_configuration(&run.scope, &run.history.sync_configuration_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(cfg("the sync configuration was deleted".to_owned())),
        Err(e) => return Err(e.into()),
    };
    let connector = match store.get_connector(&run.scope, &config.connector_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(cfg("the connector was deleted".to_owned())),
        Err(e) => return Err(e.into()),
    };
    if !connector.is_active {
        return Err(cfg("the connector is inactive".to_owned()));
    }
    let parsed = ConnectorConfig::parse(connector.connector_type, Some(&connector.config))
        .map_err(|e| cfg(format!("the connector's stored configuration is invalid: {e:?}")))?;
    let sealed = store.connector_credentials(&run.scope, &connector.id).await?;
    let credentials = match sealed {
        None => Credentials::None,
        Some(s) => {
            let bytes = master_key
                .open(&s.0)
                .map_err(|_| cfg("the credentials cannot be opened with this master key".into()))?;
            Credentials::from_bytes(&bytes).ok_or_else(|| cfg("the stored credentials are malformed".into()))?
        }
    };
    let remote = build_connector(&parsed, credentials, outbound);
    let mapping = match &config.field_mapping_id {
        None => None,
        Some(id) => {
            let m =
                store.get_field_mapping(&run.scope, id).await.map_err(|_| cfg("the field mapping is gone".into()))?;
            let rules: Vec<Rule> =
                serde_json::from_value(m.rules).map_err(|e| cfg(format!("the stored mapping is invalid: {e}")))?;
            let mapping =
                Mapping::parse(rules).map_err(|e| cfg(format!("the stored mapping is invalid: {:?}", e.as_map())))?;
            Some((mapping, m.key))
        }
    };
    Ok(Loaded { config, remote, mapping })
}

impl<'a> RunContext<'a> {
    /// Saves progress; stops on cancellation or shutdown.
    /// At most every [`PROGRESS_EVERY`] (or when `force`d): saves the
    /// counts, renews the lease, refreshes planner statistics of tables this
    /// run makes grow, and stops on cancellation. Shutdown is checked always.
    pub(super) async fn checkpoint(&mut self, force: bool) -> Result<(), Stop> {
        if self.stopping.is_cancelled() {
            return Err(Stop::ShuttingDown);
        }
        if !force && self.last_checkpoint.elapsed() < PROGRESS_EVERY {
            return Ok(());
        }
        self.last_checkpoint = std::time::Instant::now();
        let cancel = self.store.sync_run_progress(self.run, self.owner, self.counts, self.options.lease).await?;
        let progress = SyncProgress {
            connector_id: self.run.history.connector_id.clone(),
            pages: self.counts.pages,
            records_created: self.counts.created,
            records_failed: self.counts.failed,
            records_read: self.counts.read,
            records_updated: self.counts.updated,
            sync_history_id: self.run.history.id.clone(),
        };
        self.options.live.publish(self.run.scope.tenant_id(), LiveEvent::SyncProgress(progress));
        if cancel {
            return Err(Stop::Cancelled);
        }
        if let Err(e) = self.store.analyze_if_stale().await {
            tracing::debug!(error = %e, "refreshing planner statistics failed");
        }
        Ok(())
    }

    /// [`call`] with this run's options and interruptions.
    pub(super) async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectorError>>,
    {
        call(self.options, self.interrupt(), what, f).await
    }

    pub(super) fn interrupt(&self) -> Interrupt<'a> {
        Interrupt { store: self.store, run: self.run, stopping: self.stopping }
    }
}

/// What a call waiting between retries watches, so that a cancel or a
/// shutdown does not wait for every retry of a page to run out.
#[derive(Clone, Copy)]
pub(super) struct Interrupt<'a> {
    store: &'a Store,
    run: &'a ClaimedRun,
    stopping: &'a tokio_util::sync::CancellationToken,
}

impl Interrupt<'_> {
    /// Sleeps `d`, checking for shutdown and cancellation at least every
    /// [`PROGRESS_EVERY`].
    async fn wait(&self, d: Duration) -> Result<(), Stop> {
        let end = tokio::time::Instant::now() + d;
        loop {
            if self.stopping.is_cancelled() {
                return Err(Stop::ShuttingDown);
            }
            if self.store.sync_run_cancel_requested(self.run).await? {
                return Err(Stop::Cancelled);
            }
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(left.min(PROGRESS_EVERY)).await;
        }
    }
}

/// Calls the remote with the retry rules: 5xx, timeouts and connection
/// failures retry with backoff; 429 waits `Retry-After` (bounded). The
/// waits end early on cancellation or shutdown.
pub(super) async fn call<T, F, Fut>(
    options: &SyncOptions,
    interrupt: Interrupt<'_>,
    what: &str,
    mut f: F,
) -> Result<T, Stop>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    let mut attempt = 0i32;
    let mut waits = 0u32;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(ConnectorError::Status { status: 429, retry_after_secs }) => {
                waits += 1;
                if waits > options.max_rate_limit_waits {
                    return Err(Stop::Failed(
                        SyncErrorType::RateLimited,
                        format!("{what}: still rate limited (429) after {} waits", waits - 1),
                    ));
                }
                let wait = retry_after_secs.map(Duration::from_secs).unwrap_or(Duration::from_secs(1));
                interrupt.wait(wait.min(options.max_retry_after)).await?;
            }
            Err(e) => {
                attempt += 1;
                let (kind, transient) = match &e {
                    ConnectorError::Status { status, .. } if *status >= 500 || *status == 408 => {
                        (SyncErrorType::Http, true)
                    }
                    ConnectorError::Status { .. } => (SyncErrorType::Refused, false),
                    ConnectorError::Timeout(_) => (SyncErrorType::Timeout, true),
                    ConnectorError::Connection(_) => (SyncErrorType::Connection, true),
                    ConnectorError::InvalidBody(_) | ConnectorError::TooLarge { .. } => {
                        (SyncErrorType::InvalidResponse, false)
                    }
                    ConnectorError::Misconfigured(_) | ConnectorError::Unsupported(_) => {
                        (SyncErrorType::Configuration, false)
                    }
                };
                if !transient || !options.page_retry.may_retry(attempt) {
                    let tries = if transient { format!(" after {attempt} attempts") } else { String::new() };
                    return Err(Stop::Failed(kind, format!("{what}: {e}{tries}")));
                }
                interrupt.wait(options.page_retry.delay(attempt)).await?;
            }
        }
    }
}

/// The end of a run that went through.
pub(crate) fn completed(counts: RunCounts) -> RunEnd {
    RunEnd { status: if counts.failed > 0 { RunStatus::Partial } else { RunStatus::Succeeded }, counts, error: None }
}
