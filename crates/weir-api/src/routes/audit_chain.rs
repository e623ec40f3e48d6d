//! `/api/v1/integration/audit-logs/verify` and `/head` (admin): checking
//! the tenant's keyed hash chain, optionally against a head saved earlier,
//! and the signed head to save.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::FieldErrors;
use weir_core::audit::HeadStatement;
use weir_store::{HeadCheck, SavedHead};

use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use crate::{AppState, policy};

/// A head saved earlier, to check the chain against.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// The saved head's `seq` (with `head_hash`).
    pub head_seq: Option<i64>,
    /// The saved head's `hash`: 64 lowercase hex characters.
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub head_hash: Option<String>,
    /// The saved head's `signed_at` (with `head_signature`): checks that
    /// this installation signed that head.
    pub head_signed_at: Option<DateTime<Utc>>,
    /// The saved head's `signature`.
    pub head_signature: Option<String>,
}

impl VerifyQuery {
    fn head(&self) -> Result<Option<SavedHead>, ApiError> {
        let mut e = FieldErrors::new();
        if self.head_seq.is_some_and(|s| s < 0) {
            e.add("head_seq", "must be 0 or more");
        }
        if let Some(h) = &self.head_hash
            && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            e.add("head_hash", "must be 64 lowercase hexadecimal characters");
        }
        match (self.head_seq, &self.head_hash) {
            (Some(_), None) => e.add("head_hash", "is required with head_seq"),
            (None, Some(_)) => e.add("head_seq", "is required with head_hash"),
            _ => {}
        }
        match (&self.head_signed_at, &self.head_signature, self.head_seq) {
            (Some(_), None, _) => e.add("head_signature", "is required with head_signed_at"),
            (None, Some(_), _) => e.add("head_signed_at", "is required with head_signature"),
            (Some(_), Some(_), None) => e.add("head_seq", "is required with head_signature"),
            _ => {}
        }
        if self.head_signature.as_ref().is_some_and(|s| s.len() > 200) {
            e.add("head_signature", "must be at most 200 characters");
        }
        e.into_result().map_err(ApiError::Validation)?;
        Ok(self.head_seq.zip(self.head_hash.clone()).map(|(seq, hash)| SavedHead { seq, hash }))
    }
}

/// How the chain relates to the saved head.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeadStatus {
    /// The entry at the head's seq has the head's hash.
    Matches,
    /// The chain ends before the head's seq: its newest entries were removed.
    Truncated,
    /// The entry at the head's seq has another hash, or the chain breaks
    /// before it.
    Diverged,
}

impl From<HeadCheck> for HeadStatus {
    fn from(c: HeadCheck) -> Self {
        match c {
            HeadCheck::Matches => HeadStatus::Matches,
            HeadCheck::Truncated => HeadStatus::Truncated,
            HeadCheck::Diverged => HeadStatus::Diverged,
        }
    }
}

/// The check against a saved head.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeadVerdict {
    /// The saved head's seq.
    pub seq: i64,
    /// What the chain says about it.
    pub status: HeadStatus,
    /// When a signature was given: whether this installation signed that
    /// head (`seq`, `hash`, `signed_at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_valid: Option<bool>,
}

/// The result of a verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut {
    /// Whether every entry's hash matches the chain and, if a head was
    /// given, the chain still leads to it (and its signature, if given,
    /// is valid).
    pub valid: bool,
    /// Entries checked (all of them when the chain verifies).
    pub entries: u64,
    /// Of them, refusal entries whose body retention pruned.
    pub pruned_entries: u64,
    /// When the chain does not verify: the `seq` of the first entry that
    /// does not match (it, or something before it, was altered, removed or
    /// reordered).
    pub first_invalid_seq: Option<i64>,
    /// Present when `head_seq` and `head_hash` were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadVerdict>,
}

/// Recompute the tenant's keyed hash chain, streamed in constant memory,
/// optionally against a head saved earlier (admin).
#[utoipa::path(get, path = "/api/v1/integration/audit-logs/verify", tag = "audit", security(("bearer" = [])),
    params(VerifyQuery),
    responses(
        (status = 200, body = Data<VerifyOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify_audit_logs(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> Result<Json<Data<VerifyOut>>, ApiError> {
    caller.require(policy::audit())?;
    let saved = q.head()?;
    // A verification reads a whole trail: two at a time per instance.
    static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _turn = VERIFYING.acquire().await.map_err(|_| ApiError::Unavailable)?;
    let report = state.store.verify_audit_chain(caller.scope(), saved.as_ref()).await?;
    let signature_valid = match (&saved, q.head_signed_at, &q.head_signature) {
        (Some(h), Some(signed_at), Some(sig)) => {
            let statement = HeadStatement {
                tenant_id: caller.scope().tenant_id().to_owned(),
                seq: h.seq,
                hash: h.hash.clone(),
                signed_at,
            };
            Some(state.store.audit_head_signed(&statement, sig)?)
        }
        _ => None,
    };
    let head = saved.as_ref().zip(report.head).map(|(h, check)| HeadVerdict {
        seq: h.seq,
        status: check.into(),
        signature_valid,
    });
    let out = VerifyOut {
        valid: report.valid() && signature_valid != Some(false),
        entries: report.entries,
        pruned_entries: report.pruned,
        first_invalid_seq: report.first_invalid_seq,
        head,
    };
    Ok(Json(Data::new(out)))
}

/// The tenant's chain head, signed.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeadOut {
    /// The newest entry's seq (0 while the trail is empty).
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When this head was signed (UTC, microseconds).
    pub signed_at: DateTime<Utc>,
    /// Ed25519 signature, base64, of the UTF-8 text
    /// `weir-audit-head-v1\n<tenant_id>\n<seq>\n<hash>\n<signed_at>`
    /// (`signed_at` as RFC 3339 with microseconds and `Z`).
    pub signature: String,
    /// The tenant the head belongs to (part of the signed text).
    pub tenant_id: String,
    /// The Ed25519 public key that checks `signature`, base64 (derived
    /// from the master key: the same for every head of this installation).
    pub public_key: String,
}

/// The tenant's audit chain head, signed so that it can be checked later
/// (admin). Save it outside Weir; `verify?head_seq=&head_hash=` then tells
/// whether entries up to it were removed or rewritten.
#[utoipa::path(get, path = "/api/v1/integration/audit-logs/head", tag = "audit", security(("bearer" = [])),
    responses(
        (status = 200, body = Data<HeadOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The newest entry does not verify (the trail was written behind Weir's back)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn audit_head(State(state): State<AppState>, caller: TenantCaller) -> Result<Json<Data<HeadOut>>, ApiError> {
    caller.require(policy::audit())?;
    let head = state.store.audit_head(caller.scope()).await?;
    Ok(Json(Data::new(HeadOut {
        seq: head.statement.seq,
        hash: head.statement.hash,
        signed_at: head.statement.signed_at,
        signature: head.signature,
        tenant_id: head.statement.tenant_id,
        public_key: head.public_key,
    })))
}
