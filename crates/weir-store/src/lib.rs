//! Weir's storage layer: one migration set and one repository
//! implementation (SeaORM) that serve SQLite and PostgreSQL alike.
//!
//! * [`Store`] opens the database chosen by its URL and hands out
//!   repositories.
//! * Every repository method on tenant data takes a [`TenantScope`]; only
//!   [`Store::authenticate`] (a verified tenant token) and
//!   [`Store::tenant_scope`] (the system token's capability) mint one, so a
//!   query that forgets its tenant cannot be written.
//! * [`StoreError`] classifies database failures once: constraint violations
//!   become typed conflicts (see [`error::CONSTRAINTS`]), lost connections
//!   become `Unavailable`.
//! * [`Store::live_relay`] carries live events between instances on one
//!   PostgreSQL database (`LISTEN/NOTIFY`).

pub mod db;
pub mod entities;
pub mod error;
pub mod live_relay;
pub mod migration;
pub mod repos;
pub mod scope;
mod turns;

pub use db::{Backend, DatabaseUrl, DbOptions, InvalidDatabaseUrl, Store};
pub use error::{Conflict, StoreError};
pub use live_relay::{LiveListener, LiveRelay};
pub use repos::audit::{AuditEntry, AuditFilter, AuditRecord};
pub use repos::audit_append::SealSignal;
pub use repos::audit_chain::{ChainReport, HeadCheck, PruneBatch, SavedHead, SignedHead};
pub use repos::change_requests::{ChangeRequest, ChangeRequestFilter, PendingChange};
pub use repos::connector_health::HealthChange;
pub use repos::connectors::{Connector, ConnectorChanges, ConnectorFilter, NewConnector, SealedCredentials};
pub use repos::dashboard::{ConnectorActivity, Counts, DashboardData};
pub use repos::events::{
    AcceptedDelivery, Delivery, DeliveryOutcome, EventFilter, RejectedDelivery, StoredPayload, WebhookEvent,
};
pub use repos::field_mappings::{FieldMapping, MappingSpec};
pub use repos::instance::MasterKeyCheck;
pub use repos::mfa::{MfaChallenge, MfaState};
pub use repos::own_access::OwnSession;
pub use repos::queue::{ClaimedEvent, EventWork, Finish, PlannedRecord, RecordEffect};
pub use repos::receivers::{KeyedReceiver, NewReceiver, Receiver, ReceiverChanges};
pub use repos::records::{Record, RecordWrite, UpsertOutcome};
pub use repos::service_accounts::{ServiceAccount, service_account_principal};
pub use repos::sessions::{OpenedSession, Session};
pub use repos::sign_in::{SignInCandidate, SignInKeys};
pub use repos::sso::{SsoConfig, SsoTenant};
pub use repos::sso_users::{SsoIdentity, SsoMatch};
pub use repos::sync_configurations::{SyncConfiguration, SyncConfigurationFilter, SyncConfigurationSpec, WebhookRoute};
pub use repos::sync_runs::{
    ClaimedRun, NewSyncError, RunCounts, RunEnd, SyncError, SyncHistory, SyncHistoryFilter, SyncStatus,
};
pub use repos::tenants::{NewTenant, Tenant};
pub use repos::tokens::{ApiToken, IssuedToken, Issuer, NewToken};
pub use repos::users::{Invitation, NewUser, User, UserPatch};
pub use scope::{Principal, SystemScope, TenantScope, UserRef, user_principal};
pub use turns::PromptIntent;
