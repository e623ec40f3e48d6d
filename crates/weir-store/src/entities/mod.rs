//! SeaORM entities: one module per table that repositories read or write.
//! Entities are an implementation detail of this crate's repositories;
//! callers get the domain types the repositories return.

pub mod api_tokens;
pub mod audit_logs;
pub mod audit_pending;
pub mod audit_record_refs;
pub mod connector_change_requests;
pub mod connectors;
pub mod field_mappings;
pub mod instance_settings;
pub mod mfa_challenges;
pub mod records;
pub mod service_accounts;
pub mod sessions;
pub mod sign_in_throttle;
pub mod sso_logins;
pub mod sync_configurations;
pub mod sync_errors;
pub mod sync_histories;
pub mod system_tokens;
pub mod tenant_sso;
pub mod tenants;
pub mod user_invites;
pub mod user_recovery_codes;
pub mod users;
pub mod webhook_events;
pub mod webhook_receivers;
