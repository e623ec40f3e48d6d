//! Who may do what (the plan's policies), in one table per resource. A
//! handler asks `caller.require(policy::connector(Action::…))`.

use weir_core::Role;

/// What a caller wants to do with a connector or its change requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorAction {
    /// List, show, list/show change requests.
    Read,
    /// Probe the remote.
    TestConnection,
    /// Add a connector.
    Create,
    /// Change (or request a change of a production connector).
    Update,
    /// Soft-delete (the row stays, with `deleted_at` set).
    Delete,
    /// Approve or reject a change request.
    Decide,
}

/// ConnectorPolicy: viewer reads; operator reads and tests connections;
/// admin does everything.
pub fn connector(action: ConnectorAction) -> Role {
    match action {
        ConnectorAction::Read => Role::Viewer,
        ConnectorAction::TestConnection => Role::Operator,
        ConnectorAction::Create | ConnectorAction::Update | ConnectorAction::Delete | ConnectorAction::Decide => {
            Role::Admin
        }
    }
}

/// What a caller wants to do with webhook events and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    /// List and show events and records.
    Read,
    /// Put events back in the queue.
    Replay,
}

/// EventPolicy: viewer reads; operator (and admin) replays.
pub fn event(action: EventAction) -> Role {
    match action {
        EventAction::Read => Role::Viewer,
        EventAction::Replay => Role::Operator,
    }
}

/// What a caller wants to do with sync configurations and their runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    /// List and show configurations, runs, errors, exports, status.
    Read,
    /// Run now, cancel a run.
    Execute,
    /// Create, change, delete configurations.
    Manage,
}

/// SyncPolicy: viewer reads; operator runs and cancels; admin manages.
pub fn sync(action: SyncAction) -> Role {
    match action {
        SyncAction::Read => Role::Viewer,
        SyncAction::Execute => Role::Operator,
        SyncAction::Manage => Role::Admin,
    }
}

/// AuditPolicy: the audit trail is for admins only (SR-IC-003).
pub fn audit() -> Role {
    Role::Admin
}

/// DashboardPolicy: the dashboard is for admins (API.md).
pub fn dashboard() -> Role {
    Role::Admin
}
