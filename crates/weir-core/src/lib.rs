//! Weir's domain: the types every other crate agrees on, the rules that decide
//! whether a value is acceptable, and the errors those rules produce.
//!
//! This crate is pure: no IO, no async runtime, no database. Values are parsed
//! at the edge into the types defined here ("parse, don't validate"), so an
//! invalid slug, role or page size cannot exist past the HTTP layer.
//!
//! Error policy: every fallible function here returns a typed error
//! (`thiserror`); `anyhow` is used only at the binary's edge.

pub mod audit;
pub mod connector;
pub mod connector_health;
pub mod enums;
pub mod hex;
pub mod ids;
pub mod json;
pub mod live;
pub mod mapping;
pub mod mfa;
pub mod pagination;
pub mod redact;
pub mod role;
pub mod rollup;
pub mod seal;
pub mod sso;
pub mod state;
pub mod sync;
pub mod tenant;
pub mod token;
pub mod user;
pub mod validation;
pub mod webhook;

pub use connector::{
    AuthConfig, AuthType, ConnectorCode, ConnectorConfig, ConnectorType, Credentials, Environment, HttpConfig,
};
pub use live::LiveEvent;
pub use pagination::PageRequest;
pub use role::Role;
pub use seal::{MasterKey, SealError};
pub use state::{
    AttemptOutcome, ChangeStatus, EventErrorType, EventStatus, LiveKind, PlanOutcome, RecordAction, RollupCounter,
    RunStatus, SyncErrorType, TokenKind, UserStatus,
};
pub use sync::{Direction, Trigger};
pub use tenant::{TenantName, TenantSlug};
pub use token::{ApiTokenName, PlainToken, TokenHash};
pub use validation::FieldErrors;

#[cfg(test)]
mod deep_nesting;
