//! Signed audit heads written outside the database, now and then: one line
//! per tenant to the log (target `weir::audit_head`) and, when configured,
//! appended as JSON to a file. A head saved where the database's holder
//! cannot write lets `verify?head_seq=&head_hash=` later tell whether the
//! newest entries were removed or rewritten (`docs/audit.md`). Runs on
//! instances with the scheduler role.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_store::{SignedHead, Store};

/// Where and how often.
#[derive(Debug, Clone)]
pub struct AuditHeadOptions {
    /// Between two writes.
    pub interval: Duration,
    /// Also append each head as a JSON line here.
    pub file: Option<PathBuf>,
}

/// One head as a JSON line: what `GET /audit-logs/head` answers.
pub fn head_line(h: &SignedHead) -> String {
    json!({
        "tenant_id": h.statement.tenant_id, "seq": h.statement.seq, "hash": h.statement.hash,
        "signed_at": h.statement.signed_at, "signature": h.signature, "public_key": h.public_key,
    })
    .to_string()
}

/// Writes every tenant's head now, then every `interval` until `stop`.
pub fn spawn(store: Store, options: AuditHeadOptions, stop: CancellationToken, tracker: &TaskTracker) {
    tracker.spawn(async move {
        loop {
            match store.audit_heads().await {
                Ok(heads) => write_heads(&heads, options.file.as_ref()),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the audit heads; trying again at the next interval")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(options.interval) => {}
                () = stop.cancelled() => return,
            }
        }
    });
}

fn write_heads(heads: &[SignedHead], file: Option<&PathBuf>) {
    let mut out = file.map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).map(|f| (p, f)));
    for h in heads {
        let line = head_line(h);
        tracing::info!(target: "weir::audit_head", head = %line, "audit head");
        match &mut out {
            Some(Ok((_, f))) => {
                if let Err(e) = writeln!(f, "{line}") {
                    tracing::warn!(error = %e, "could not append to WEIR_AUDIT_HEAD_FILE");
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "could not open WEIR_AUDIT_HEAD_FILE"),
            None => {}
        }
    }
    if let Some(Ok((_, f))) = &mut out {
        let _ = f.sync_data();
    }
}
