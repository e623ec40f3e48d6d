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
    /// What they may do: their token's role, capped by its owner's current
    /// role when the owner is a user.
    pub role: Role,
    /// Their token's id (for audit and self-revocation); a signed-in
    /// user's session acts through a token of kind `session`.
    pub token_id: String,
    /// Who issued their token: `system`, `cli`, `user:<id>` or another
    /// token's id.
    pub issued_by: Option<String>,
    /// Whose token it is: `user:<id>` for a user's, else the root of its
    /// issuing chain. Tokens minted by tokens share their issuer's
    /// principal, so a chain is one person. "Another person" compares this.
    pub principal_id: String,
    /// The person, when the principal is a user.
    pub user: Option<UserRef>,
    /// Whether this is a signed-in user's session (not an API token).
    pub via_session: bool,
    /// A signed-in admin of a tenant that requires a second factor, who has
    /// none yet: they may only enrol one (and read who they are).
    pub must_enrol_mfa: bool,
}

/// A user as other records name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// Row id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email as entered.
    pub email: String,
}

impl UserRef {
    /// `Ann Lee <ann@acme.example>`.
    pub fn label(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

/// The `principal_id` of a user's tokens.
pub fn user_principal(user_id: &str) -> String {
    format!("user:{user_id}")
}

impl Principal {
    /// How the audit trail names this caller: `user:<id>` for a signed-in
    /// user's session, else `token:<id>` (a user's own API token is named
    /// by the token; its owner is found through it).
    pub fn actor(&self) -> String {
        match (&self.user, self.via_session) {
            (Some(u), true) => user_principal(&u.id),
            _ => format!("token:{}", self.token_id),
        }
    }
}
