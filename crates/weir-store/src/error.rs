//! Storage errors, classified once. Constraint violations become typed
//! [`Conflict`]s through the single [`CONSTRAINTS`] table; lost or
//! exhausted connections become [`StoreError::Unavailable`] (the API answers
//! 503 with `Retry-After`); anything else is an internal error.

use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use thiserror::Error;

/// A rule the database enforced, in terms a client understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// `tenants.slug` is taken.
    TenantSlugTaken,
    /// A live connector of this tenant already has this code.
    ConnectorCodeTaken,
    /// A receiver key collided (practically impossible: keys are random).
    ReceiverKeyTaken,
    /// The provider already delivered this event id to this receiver.
    DuplicateProviderEvent,
    /// A record with this entity type and external id exists.
    RecordExists,
    /// A run of this sync configuration is already queued or running.
    SyncAlreadyActive,
    /// A field mapping of this tenant already has this name.
    FieldMappingNameTaken,
    /// A user of this tenant already has this email (case-insensitively).
    UserEmailTaken,
    /// A service account of this tenant already has this name.
    ServiceAccountNameTaken,
    /// Another user of this tenant is linked to this SSO subject (two first
    /// sign-ins of one person raced).
    SsoSubjectTaken,
}

impl Conflict {
    /// A sentence for the problem's `detail`.
    pub fn message(self) -> &'static str {
        match self {
            Conflict::TenantSlugTaken => "a tenant with this slug already exists",
            Conflict::ConnectorCodeTaken => "a connector with this code already exists",
            Conflict::ReceiverKeyTaken => "a webhook receiver with this key already exists",
            Conflict::DuplicateProviderEvent => "this event was already received",
            Conflict::RecordExists => "a record with this external id already exists",
            Conflict::SyncAlreadyActive => "a run of this sync configuration is already active",
            Conflict::FieldMappingNameTaken => "a field mapping with this name already exists",
            Conflict::UserEmailTaken => "a user with this email already exists",
            Conflict::ServiceAccountNameTaken => "a service account with this name already exists",
            Conflict::SsoSubjectTaken => "this identity is linked to another user already",
        }
    }

    /// The field the conflict is about, for the problem's `errors`.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Conflict::TenantSlugTaken => Some("slug"),
            Conflict::ConnectorCodeTaken => Some("code"),
            Conflict::FieldMappingNameTaken => Some("name"),
            Conflict::UserEmailTaken => Some("email"),
            Conflict::ServiceAccountNameTaken => Some("name"),
            _ => None,
        }
    }
}

/// One unique constraint: its PostgreSQL name (reported by the server) and
/// the `table.column` list SQLite reports instead, and what it means.
pub struct ConstraintRule {
    /// Index name, as created by the migrations.
    pub name: &'static str,
    /// SQLite's message names columns, not indexes: `table.col, table.col`.
    pub sqlite_columns: &'static str,
    /// The client-facing conflict.
    pub conflict: Conflict,
}

/// Every unique rule a client can run into. Index names are the ones the
/// migrations create.
pub const CONSTRAINTS: &[ConstraintRule] = &[
    ConstraintRule { name: "tenants_slug_key", sqlite_columns: "tenants.slug", conflict: Conflict::TenantSlugTaken },
    ConstraintRule {
        name: "connectors_tenant_code_key",
        sqlite_columns: "connectors.tenant_id, connectors.code",
        conflict: Conflict::ConnectorCodeTaken,
    },
    ConstraintRule {
        name: "webhook_receivers_key_key",
        sqlite_columns: "webhook_receivers.receiver_key",
        conflict: Conflict::ReceiverKeyTaken,
    },
    ConstraintRule {
        name: "webhook_event_keys_pkey",
        sqlite_columns: "webhook_event_keys.receiver_id, webhook_event_keys.provider_event_id",
        conflict: Conflict::DuplicateProviderEvent,
    },
    ConstraintRule {
        name: "records_tenant_entity_external_key",
        sqlite_columns: "records.tenant_id, records.entity_type, records.external_id",
        conflict: Conflict::RecordExists,
    },
    ConstraintRule {
        name: "sync_histories_one_active_key",
        sqlite_columns: "sync_histories.sync_configuration_id",
        conflict: Conflict::SyncAlreadyActive,
    },
    ConstraintRule {
        name: "field_mappings_tenant_name_key",
        sqlite_columns: "field_mappings.tenant_id, field_mappings.name",
        conflict: Conflict::FieldMappingNameTaken,
    },
    ConstraintRule {
        name: "users_email_idx",
        sqlite_columns: "users.tenant_id, users.email_key",
        conflict: Conflict::UserEmailTaken,
    },
    ConstraintRule {
        name: "users_sso_subject_idx",
        sqlite_columns: "users.tenant_id, users.sso_subject",
        conflict: Conflict::SsoSubjectTaken,
    },
    ConstraintRule {
        name: "service_accounts_name_idx",
        sqlite_columns: "service_accounts.tenant_id, service_accounts.name",
        conflict: Conflict::ServiceAccountNameTaken,
    },
];

/// Finds the rule a unique-violation message refers to.
fn conflict_for(message: &str) -> Option<Conflict> {
    CONSTRAINTS.iter().find_map(|rule| {
        let pg = message.contains(&format!("\"{}\"", rule.name));
        let sqlite = message.strip_prefix("UNIQUE constraint failed: ").is_some_and(|cols| cols == rule.sqlite_columns);
        (pg || sqlite).then_some(rule.conflict)
    })
}

/// What went wrong in the storage layer.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The row does not exist in the caller's scope.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the write.
    #[error("conflict: {}", .0.message())]
    Conflict(Conflict),
    /// The database cannot be reached or has no free connection: retry later.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// A connector cannot be deleted while these active scheduled sync
    /// configurations use it (BR-IC-003): `(id, name)` of each.
    #[error("connector in use by active scheduled sync configurations")]
    ConnectorInUse(Vec<(String, String)>),
    /// The state changed under the request (e.g. a change request already
    /// decided).
    #[error("{0}")]
    StateConflict(&'static str),
    /// The request can never succeed on this resource as it is configured
    /// (not a passing state: retrying will not help), e.g. running a
    /// webhook-triggered configuration by hand.
    #[error("{0}")]
    Unprocessable(&'static str),
    /// The store was opened without [`crate::Store::with_audit_key`], so it
    /// cannot append to or verify the audit chain.
    #[error("the audit key is not configured")]
    AuditKeyMissing,
    /// Sealing failed.
    #[error("sealing failed: {0}")]
    Sealing(String),
    /// Preparing the data directory failed.
    #[error("cannot create the data directory")]
    Io(#[source] std::io::Error),
    /// Any other database failure (a bug or a broken schema).
    #[error("database error")]
    Database(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(msg)) = err.sql_err()
            && let Some(conflict) = conflict_for(&msg)
        {
            return StoreError::Conflict(conflict);
        }
        if is_unavailable(&err) {
            return StoreError::Unavailable(err);
        }
        StoreError::Database(err)
    }
}

/// Whether an error means "the database is not there right now" rather
/// than "this statement is wrong".
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sx;
    match err {
        // Could not get or open a connection, whatever the server said
        // (gone, refusing, database dropped, credentials revoked): from the
        // client's side the database is unavailable.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.deref() {
            Sx::Io(_) | Sx::Tls(_) | Sx::Protocol(_) | Sx::PoolTimedOut | Sx::PoolClosed | Sx::WorkerCrashed => true,
            Sx::Database(db) => {
                let code = db.code().unwrap_or_default();
                // PostgreSQL: class 08 (connection), 57P01..03 (shutdown,
                // crash, cannot connect now), 53300 (too many connections).
                // SQLite: 5 (BUSY), 6 (LOCKED) after the busy timeout.
                code.starts_with("08") || code.starts_with("57P") || code == "53300" || code == "5" || code == "6"
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_engines_messages() {
        assert_eq!(
            conflict_for(r#"duplicate key value violates unique constraint "tenants_slug_key""#),
            Some(Conflict::TenantSlugTaken)
        );
        assert_eq!(
            conflict_for("UNIQUE constraint failed: connectors.tenant_id, connectors.code"),
            Some(Conflict::ConnectorCodeTaken)
        );
        assert_eq!(conflict_for("UNIQUE constraint failed: api_tokens.token_hash"), None);
    }

    #[test]
    fn every_rule_has_distinct_names() {
        let mut names: Vec<_> = CONSTRAINTS.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CONSTRAINTS.len());
    }
}
