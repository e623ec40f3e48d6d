//! Opening the database. The backend is chosen here, once, from the URL
//! scheme; nothing above this module asks which database it is on.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;

use crate::error::StoreError;
use crate::migration::Migrator;
use crate::turns::{PromptIntent, Turn, WriteTurns, WriteTxn};

mod database_url;

use database_url::split_password;
pub use database_url::{DatabaseUrl, InvalidDatabaseUrl};

/// The two supported engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL): the zero-configuration default.
    Sqlite,
    /// PostgreSQL: production and scale-out.
    Postgres,
}

/// Pool and engine settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long a request waits for a connection before it is told the
    /// database is unavailable (503).
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for the lock before failing.
    pub sqlite_busy_timeout: Duration,
    /// SQLite: fsync on every commit (`FULL`, survives power loss) or only at
    /// checkpoints (`NORMAL` in WAL mode: survives a crash of Weir, may lose
    /// the last commits on power loss or an OS crash).
    pub sqlite_sync_full: bool,
}

impl DbOptions {
    /// Pool size unless configured (`WEIR_DB_MAX_CONNECTIONS`).
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    /// Acquire timeout unless configured (`WEIR_DB_ACQUIRE_TIMEOUT_SECS`).
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_sync_full: true,
        }
    }
}

/// The opened database: the root from which repositories are reached.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    backend: Backend,
    /// Told, after each commit, of connectors whose recent-activity health
    /// changed (the live stream's `connector.health_changed`).
    pub(crate) on_health: Option<HealthListener>,
    /// Keys the audit chain and signs its heads; never stored. Without it
    /// nothing can be audited, so no write that audits succeeds.
    pub(crate) audit_key: Option<std::sync::Arc<weir_core::audit::AuditKey>>,
    /// Set when this process applied the migration that keyed the audit
    /// chain: only then may `upgrade_audit_chain` re-key an unkeyed trail.
    pub(crate) keying_migrated: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// SQLite: this process's queue for the database's one write lock
    /// ([`crate::turns`]); `None` on PostgreSQL.
    write_turns: Option<std::sync::Arc<WriteTurns>>,
    /// PostgreSQL: wakes the sealer when entries wait in `audit_pending`
    /// (`repos::audit_append`); `None` on SQLite, which chains at once.
    pub(crate) seal_signal: Option<std::sync::Arc<crate::repos::audit_append::SealSignal>>,
}

/// What [`Store::with_health_listener`] installs.
type HealthListener = std::sync::Arc<dyn Fn(&crate::repos::connector_health::HealthChange) + Send + Sync>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// A fixed key for PostgreSQL's advisory lock that serialises migrations
/// when several instances start at once ("weirmigr" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x7765_6972_6d69_6772;

impl Store {
    /// Connects (creating the SQLite file and its directory if missing).
    /// Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &DatabaseUrl, opts: &DbOptions) -> Result<Self, StoreError> {
        if let Some(path) = url.sqlite_path()
            && let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(StoreError::Io)?;
        }
        // The password goes to the driver's options, not in the URL:
        // sea-orm's connect span records its options (URL included) at trace
        // level, which would put the password in the logs.
        let (url_without_password, password) = split_password(url.expose());
        let mut co = ConnectOptions::new(url_without_password);
        co.max_connections(opts.max_connections)
            .min_connections(0)
            .acquire_timeout(opts.acquire_timeout)
            .connect_timeout(opts.acquire_timeout)
            .sqlx_logging(false);
        let busy = opts.sqlite_busy_timeout;
        let sync = if opts.sqlite_sync_full { SqliteSynchronous::Full } else { SqliteSynchronous::Normal };
        co.map_sqlx_sqlite_opts(move |o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sync)
                .foreign_keys(true)
                .busy_timeout(busy)
        });
        // PostgreSQL's plan cache is left at its default: a prepared
        // statement gets a generic plan once that costs no more than the
        // custom ones. Forcing a custom plan for every statement (as Weir
        // once did) re-planned even the foreign-key checks of every
        // inserted row — 5.5 s of 24 s of database time in a 15 s ingest
        // run (issue 18, BENCHMARKS.md). What generic plans need is kept:
        // the statuses a partial index is defined by are written as
        // literals in the queries that use them (a parameter cannot prove
        // an index predicate), and `analyze_if_stale` keeps statistics
        // fresh; an ANALYZE invalidates the cached plans of its table, so
        // a plan made while a table was tiny does not outlive its growth.
        co.map_sqlx_postgres_opts(move |o| match &password {
            Some(p) => o.password(p),
            None => o,
        });
        let db = Database::connect(co).await.map_err(StoreError::from)?;
        let write_turns = (url.backend() == Backend::Sqlite).then(Default::default);
        Ok(Self {
            db,
            backend: url.backend(),
            on_health: None,
            audit_key: None,
            keying_migrated: Default::default(),
            write_turns,
            seal_signal: (url.backend() == Backend::Postgres).then(Default::default),
        })
    }

    /// Applies every pending migration. On PostgreSQL an advisory lock makes
    /// concurrent starts of several instances take turns.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => self.migrate_noting_keying().await?,
            Backend::Postgres => {
                use sea_orm::TransactionTrait;
                let lock = self.db.begin().await?;
                lock.execute_raw(Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"),
                ))
                .await?;
                let result = self.migrate_noting_keying().await;
                lock.commit().await?;
                result?;
            }
        }
        Ok(())
    }

    /// Applies pending migrations; notes whether the audit keying one was
    /// among them (the instance holding the migration lock decides).
    async fn migrate_noting_keying(&self) -> Result<(), StoreError> {
        let pending = Migrator::get_pending_migrations(&self.db).await?;
        let keying = pending.iter().any(|m| m.name() == crate::migration::AUDIT_KEYING_MIGRATION);
        Migrator::up(&self.db, None).await?;
        if keying {
            self.keying_migrated.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    /// This store, keying the audit chain with `key` (derive it from the
    /// master key: [`weir_core::audit::AuditKey::derive`]).
    pub fn with_audit_key(mut self, key: weir_core::audit::AuditKey) -> Self {
        self.audit_key = Some(std::sync::Arc::new(key));
        self
    }

    /// Whether this process applied the migration that keyed the audit
    /// chain and has not re-keyed the old chain yet
    /// ([`Store::upgrade_audit_chain`]).
    pub fn audit_keying_pending(&self) -> bool {
        self.keying_migrated.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The audit key, or [`StoreError::AuditKeyMissing`].
    pub(crate) fn audit_key(&self) -> Result<&weir_core::audit::AuditKey, StoreError> {
        self.audit_key.as_deref().ok_or(StoreError::AuditKeyMissing)
    }

    /// This store, telling `listener` of every connector health change
    /// after the transaction that caused it commits.
    pub fn with_health_listener(
        mut self,
        listener: impl Fn(&crate::repos::connector_health::HealthChange) + Send + Sync + 'static,
    ) -> Self {
        self.on_health = Some(std::sync::Arc::new(listener));
        self
    }

    pub(crate) fn announce_health(&self, changes: &[crate::repos::connector_health::HealthChange]) {
        if let Some(listener) = &self.on_health {
            for c in changes {
                listener(c);
            }
        }
    }

    /// PostgreSQL: refreshes the planner statistics of Weir's fast-growing
    /// tables once they changed by more than 500 rows + 10 % since their last
    /// analysis — autovacuum's own rule, applied here too because without
    /// statistics (autovacuum off, or a large first load between its
    /// rounds) key lookups are planned as scans of the whole table.
    /// Answers the tables analysed; a no-op on SQLite.
    pub async fn analyze_if_stale(&self) -> Result<Vec<String>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT relname FROM pg_stat_user_tables \
                 WHERE (relname IN ('records', 'audit_logs', 'sync_histories', 'sync_errors', 'webhook_event_keys') \
                 OR relname ~ '^webhook_events_(p[0-9]{8}|default)$') \
                 AND n_mod_since_analyze > 500 + 0.1 * n_live_tup"
                    .to_owned(),
            ))
            .await?;
        let mut analysed = Vec::new();
        for row in rows {
            let table: String = row.try_get("", "relname")?;
            // The name is from the fixed list above or a day partition's.
            self.db
                .execute_raw(Statement::from_string(sea_orm::DbBackend::Postgres, format!("ANALYZE {table}")))
                .await?;
            analysed.push(table);
        }
        Ok(analysed)
    }

    /// Starts a prompt write transaction (someone waits for its answer).
    /// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up
    /// front, so a transaction that reads before it writes (e.g. the audit
    /// chain's last hash) waits its turn instead of failing with a stale
    /// snapshot — and the turn is first taken in this process's queue
    /// ([`crate::turns`]).
    pub(crate) async fn write_txn(&self) -> Result<WriteTxn, StoreError> {
        self.write_txn_for(Turn::Prompt).await
    }

    /// Starts a write transaction for work the queue absorbs (processing,
    /// sync pages, retention): on SQLite it lets waiting prompt writers go
    /// first, for a bounded time.
    pub(crate) async fn background_write_txn(&self) -> Result<WriteTxn, StoreError> {
        self.write_txn_for(Turn::Background).await
    }

    /// On SQLite, counts the caller as a prompt writer until the answer is
    /// dropped, so background writers stand aside meanwhile (bounded: see
    /// [`crate::turns`]). The ingest writer holds one while deliveries
    /// queue for it. `None` on PostgreSQL.
    pub fn prompt_intent(&self) -> Option<PromptIntent> {
        self.write_turns.as_ref().map(WriteTurns::intent)
    }

    async fn write_txn_for(&self, turn: Turn) -> Result<WriteTxn, StoreError> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let guard = match &self.write_turns {
            Some(turns) => Some(turns.take(turn).await),
            None => None,
        };
        let opts = match self.backend {
            Backend::Sqlite => TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            },
            Backend::Postgres => TransactionOptions::default(),
        };
        let txn = self.db.begin_with_options(opts).await?;
        Ok(WriteTxn { txn, _turn: guard })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::from)
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        let _ = self.db.close_by_ref().await;
    }

    /// The raw connection, for tests and tools that inspect the schema.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}
