//! Write transactions, and on SQLite whose turn it is to write.
//!
//! SQLite has one write lock per database. Left to itself, every writer of
//! this process raced for it inside SQLite's busy handler, which sleeps in
//! growing steps (up to 100 ms each) and lets whoever retries first win: a
//! delivery's commit could wait behind many worker transactions — the
//! 0.8–1.3 s ingest tail of issue 18. Here writers queue for the lock in the
//! process instead, first come first served, and none holds a pooled
//! connection while it waits. Other processes (the CLI) still meet SQLite's
//! busy timeout.
//!
//! Writers come in two classes ([`Turn`]). Prompt ones — ingest commits and
//! API requests — are what a client waits for. Background ones — the
//! workers' claims and batches, sync pages, retention — let prompt writers
//! go first while any is waiting, writing, or announced (the ingest writer
//! announces itself for as long as deliveries queue for it:
//! [`crate::Store::prompt_intent`]), for at most [`MAX_DEFERRAL`] per turn.
//! So a burst of deliveries is acknowledged at ingest's own rate and
//! processing catches up after it (the events are durable either way), yet
//! processing is never starved: it gets a turn at least every
//! `MAX_DEFERRAL`. Background writers defer one at a time, so under a
//! burst an ingest commit waits behind at most one of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, Statement};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

/// Which class of writer asks for the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Someone is waiting for the answer: ingest, API requests.
    Prompt,
    /// Work the queue absorbs: processing, sync pages, retention.
    Background,
}

/// Longest a background writer stands aside for waiting prompt ones.
pub(crate) const MAX_DEFERRAL: Duration = Duration::from_millis(100);

/// The process's queue for SQLite's write lock.
#[derive(Default)]
pub(crate) struct WriteTurns {
    lock: Arc<Mutex<()>>,
    /// Background writers defer one at a time: each waits its own
    /// deferral after the previous one's turn, so they do not pile up
    /// behind the lock together when their deferrals run out at once.
    background: Arc<Mutex<()>>,
    /// Prompt writers waiting for or holding the lock, plus announced ones
    /// ([`PromptIntent`]).
    prompt: AtomicUsize,
    /// Told whenever that count falls.
    prompt_left: Notify,
}

/// A prompt writer counted in [`WriteTurns::prompt`] until dropped.
pub struct PromptIntent {
    turns: Arc<WriteTurns>,
}

impl Drop for PromptIntent {
    fn drop(&mut self) {
        self.turns.prompt.fetch_sub(1, Ordering::SeqCst);
        self.turns.prompt_left.notify_waiters();
    }
}

impl std::fmt::Debug for PromptIntent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PromptIntent")
    }
}

/// A held turn: the lock, and for a prompt writer its place in the count
/// (for a background one, its place among background writers).
pub(crate) struct HeldTurn {
    _lock: OwnedMutexGuard<()>,
    _intent: Option<PromptIntent>,
    _background: Option<OwnedMutexGuard<()>>,
}

impl WriteTurns {
    /// Counts a prompt writer until the answer is dropped.
    pub(crate) fn intent(self: &Arc<Self>) -> PromptIntent {
        self.prompt.fetch_add(1, Ordering::SeqCst);
        PromptIntent { turns: self.clone() }
    }

    /// Waits for the turn (FIFO within the lock; background writers first
    /// stand aside as described in the module docs).
    pub(crate) async fn take(self: &Arc<Self>, turn: Turn) -> HeldTurn {
        match turn {
            Turn::Prompt => {
                let intent = self.intent();
                HeldTurn { _lock: self.lock.clone().lock_owned().await, _intent: Some(intent), _background: None }
            }
            Turn::Background => {
                let background = self.background.clone().lock_owned().await;
                let deadline = tokio::time::Instant::now() + MAX_DEFERRAL;
                loop {
                    let left = self.prompt_left.notified();
                    tokio::pin!(left);
                    left.as_mut().enable();
                    if self.prompt.load(Ordering::SeqCst) == 0 {
                        break;
                    }
                    if tokio::time::timeout_at(deadline, left).await.is_err() {
                        break;
                    }
                }
                HeldTurn { _lock: self.lock.clone().lock_owned().await, _intent: None, _background: Some(background) }
            }
        }
    }
}

/// A write transaction from [`crate::Store::write_txn`]. It derefs to the
/// transaction; on SQLite it also holds this process's write turn until it
/// is committed, rolled back or dropped.
pub(crate) struct WriteTxn {
    // Declared first so it is dropped (rolled back) before the turn passes on.
    pub(crate) txn: DatabaseTransaction,
    pub(crate) _turn: Option<HeldTurn>,
}

impl WriteTxn {
    /// Commits, then passes the turn on.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Rolls back, then passes the turn on.
    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// Every statement goes to the transaction; only the turn is added.
#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `take` finished by now (polls it once, on paused time).
    async fn taken(task: &tokio::task::JoinHandle<HeldTurn>) -> bool {
        tokio::task::yield_now().await;
        task.is_finished()
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_writer_waits_while_a_prompt_one_is_announced_but_not_forever() {
        let turns = Arc::new(WriteTurns::default());
        let intent = turns.intent();
        let t = turns.clone();
        let background = tokio::spawn(async move { t.take(Turn::Background).await });
        tokio::time::sleep(MAX_DEFERRAL / 2).await;
        assert!(!taken(&background).await, "stands aside while a prompt writer is announced");
        tokio::time::sleep(MAX_DEFERRAL).await;
        assert!(taken(&background).await, "but for at most MAX_DEFERRAL");
        drop(intent);
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_writer_goes_as_soon_as_the_prompt_one_is_done() {
        let turns = Arc::new(WriteTurns::default());
        let prompt = turns.take(Turn::Prompt).await;
        let t = turns.clone();
        let background = tokio::spawn(async move { t.take(Turn::Background).await });
        tokio::time::sleep(MAX_DEFERRAL / 10).await;
        assert!(!taken(&background).await, "the lock is held");
        drop(prompt);
        assert!(taken(&background).await, "released: no need to wait out the deferral");
    }

    #[tokio::test(start_paused = true)]
    async fn prompt_writers_take_turns_in_arrival_order() {
        let turns = Arc::new(WriteTurns::default());
        let first = turns.take(Turn::Prompt).await;
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..3 {
            let (t, order) = (turns.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = t.take(Turn::Prompt).await;
                order.lock().map(|mut o| o.push(n)).ok();
            }));
            tokio::task::yield_now().await;
        }
        drop(first);
        for w in waiting {
            w.await.ok();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
    }
}
