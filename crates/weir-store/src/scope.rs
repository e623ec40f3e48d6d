//! Capabilities that gate data access. Their fields are private and their
//! constructors crate-private: code outside this crate receives them only
//! from authentication, never builds them.

use weir_core::Role;

/// Proof that the caller acts inside one tenant. Required by every
/// repository method on tenant-owned data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant_id: String,
}

impl TenantScope {
    pub(crate) fn new(tenant_id: String) -> Self {
        Self { tenant_id }
    }

    /// The tenant every query under this scope is filtered by.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }
}

/// Proof that the caller holds the system token (or is the local operator
/// at the command line): it may manage tenants, nothing inside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemScope {
    _private: (),
}

impl SystemScope {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// The capability of whoever runs the `weir` binary on the machine that
    /// holds the database: they can read the database directly anyway.
    /// Used only by the CLI's `tenant` and `token` commands.
    pub fn local_operator() -> Self {
        Self::new()
    }
}

/// An authenticated tenant caller: who they are and what they may do.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant they act in.
    pub scope: TenantScope,
    /// Their token's role.
    pub role: Role,
    /// Their token's id (for audit and self-revocation).
    pub token_id: String,
    /// Who issued their token: `system`, `cli` or another token's id.
    pub issued_by: Option<String>,
    /// Whose token it is: the root of its issuing chain. Tokens minted by
    /// tokens share their issuer's principal, so a chain is one person.
    pub principal_id: String,
}

impl Principal {
    /// How the audit trail names this caller: `token:<id>`.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }
}
