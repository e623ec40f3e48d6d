//! The API suite, run on SQLite and on PostgreSQL: every test function takes
//! the backend and `backend_tests!` instantiates it for both.

mod helpers;
#[path = "../support/npm.rs"]
mod npm;

mod actor_names;
mod approvals;
mod attempts;
mod audit;
mod audit_actions;
mod audit_anchor;
mod audit_retention;
mod audit_sealing;
mod auth;
mod bad_input;
mod basics;
mod browser;
mod browser_a11y;
mod browser_forms;
mod browser_mappings;
mod browser_sso;
mod browser_users;
mod connection_probe;
mod connections;
mod connectors;
mod contract;
mod dashboard;
mod exports;
mod field_mappings;
mod ingest;
mod isolation;
mod limits;
mod live;
mod mapping_draft_preview;
mod metrics;
mod mfa;
mod migrations;
mod no_store;
mod payload_fidelity;
mod processing;
mod queue;
mod records;
mod retention;
mod run_now;
mod schedule_preview;
mod session;
mod shared_limits;
mod sso;
mod sso_refusals;
mod stream_credentials;
mod sync_audit;
mod sync_pages;
mod syncs;
mod tenants_and_tokens;
mod users;
mod webhooks;
