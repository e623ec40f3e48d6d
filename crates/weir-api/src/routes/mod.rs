//! Routes, one module per resource. [`all`] registers every handler with
//! its OpenAPI description, so the document cannot miss an endpoint.

pub mod audit_chain;
pub mod audit_logs;
pub mod change_requests;
pub mod connectors;
pub mod dashboard;
pub mod events;
pub mod field_mapping_preview;
pub mod field_mappings;
pub mod me;
pub mod mfa;
pub mod own_access;
pub mod probes;
pub mod receive;
pub mod receivers;
pub mod records;
pub mod service_accounts;
pub mod session;
pub mod sign_in;
pub mod sso;
mod sso_binding;
pub mod sso_sign_in;
pub mod stream;
pub mod sync_configurations;
pub mod sync_histories;
pub mod system;
pub mod tokens;
pub mod users;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The operational routes alone: liveness, readiness, metrics.
pub fn ops() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(probes::healthz))
        .routes(routes!(probes::readyz))
        .routes(routes!(crate::metrics::metrics))
}

/// Every route of the API.
pub fn all() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(probes::healthz))
        .routes(routes!(probes::readyz))
        .routes(routes!(probes::openapi_json))
        .routes(routes!(crate::metrics::metrics))
        .routes(routes!(system::create_tenant, system::list_tenants))
        .routes(routes!(system::get_tenant))
        .routes(routes!(system::create_tenant_token, system::list_tenant_tokens))
        .routes(routes!(system::revoke_tenant_token))
        .routes(routes!(system::create_tenant_user))
        .routes(routes!(session::sign_in, session::current_session, session::sign_out))
        .routes(routes!(tokens::create_token, tokens::list_tokens))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(users::get_user, users::update_user, users::deactivate_user))
        .routes(routes!(users::accept_invite))
        .routes(routes!(service_accounts::create_service_account, service_accounts::list_service_accounts))
        .routes(routes!(
            service_accounts::get_service_account,
            service_accounts::update_service_account,
            service_accounts::deactivate_service_account
        ))
        .routes(routes!(me::me))
        .routes(routes!(me::change_password))
        .routes(routes!(own_access::list_own_sessions))
        .routes(routes!(own_access::end_own_session))
        .routes(routes!(own_access::list_own_tokens))
        .routes(routes!(own_access::revoke_own_token))
        .routes(routes!(mfa::begin_enrolment))
        .routes(routes!(mfa::confirm_enrolment))
        .routes(routes!(mfa::disable))
        .routes(routes!(mfa::second_step))
        .routes(routes!(mfa::get_settings, mfa::update_settings))
        .routes(routes!(sso::get_sso, sso::put_sso, sso::delete_sso))
        .routes(routes!(sso_sign_in::lookup))
        .routes(routes!(sso_sign_in::start))
        .routes(routes!(sso_sign_in::callback))
        .routes(routes!(connectors::list_connectors, connectors::create_connector))
        .routes(routes!(connectors::get_connector, connectors::update_connector, connectors::delete_connector))
        .routes(routes!(connectors::test_connection))
        .routes(routes!(connectors::probe::probe_connection))
        .routes(routes!(change_requests::list_change_requests))
        .routes(routes!(change_requests::get_change_request))
        .routes(routes!(change_requests::approve_change_request))
        .routes(routes!(change_requests::reject_change_request))
        .routes(routes!(receivers::create_receiver))
        .routes(routes!(receivers::list_receivers))
        .routes(routes!(receivers::get_receiver, receivers::update_receiver, receivers::delete_receiver))
        .routes(routes!(receivers::rotate_secret))
        .routes(routes!(receive::receive))
        .routes(routes!(events::list_events))
        .routes(routes!(events::get_event))
        .routes(routes!(events::get_event_payload))
        .routes(routes!(events::replay_event))
        .routes(routes!(events::replay_events))
        .routes(routes!(stream::stream))
        .routes(routes!(dashboard::export_dashboard))
        .routes(routes!(field_mappings::list_field_mappings, field_mappings::create_field_mapping))
        .routes(routes!(
            field_mappings::get_field_mapping,
            field_mappings::update_field_mapping,
            field_mappings::delete_field_mapping
        ))
        .routes(routes!(field_mappings::preview_field_mapping))
        .routes(routes!(field_mapping_preview::preview_draft))
        .routes(routes!(sync_configurations::list_sync_configurations, sync_configurations::create_sync_configuration))
        .routes(routes!(
            sync_configurations::get_sync_configuration,
            sync_configurations::update_sync_configuration,
            sync_configurations::delete_sync_configuration
        ))
        .routes(routes!(sync_configurations::execute_sync_configuration))
        .routes(routes!(sync_configurations::preview::schedule_preview))
        .routes(routes!(sync_configurations::dry_run::dry_run_source))
        .routes(routes!(sync_histories::list_sync_histories))
        .routes(routes!(sync_histories::get_sync_history))
        .routes(routes!(sync_histories::list_sync_errors))
        .routes(routes!(sync_histories::export::export_sync_history))
        .routes(routes!(sync_histories::cancel_sync_history))
        .routes(routes!(sync_histories::sync_status))
        .routes(routes!(dashboard::dashboard))
        .routes(routes!(audit_logs::list_audit_logs))
        .routes(routes!(audit_logs::export_audit_logs))
        .routes(routes!(audit_chain::verify_audit_logs))
        .routes(routes!(audit_chain::audit_head))
        .routes(routes!(records::list_records))
        .routes(routes!(records::get_record))
}
