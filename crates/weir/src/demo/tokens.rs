//! The `demo` tenant and this run's tokens, made through the store as
//! `weir tenant create` and `weir token create` make them (before the
//! server starts).

use anyhow::{Context, bail};
use weir_core::{ApiTokenName, Role, TenantName, TenantSlug};
use weir_store::{NewTenant, NewToken, StoreError, SystemScope, TenantScope};

use crate::config::Config;

const TENANT_SLUG: &str = "demo";
pub(super) const ADMIN_TOKEN_NAME: &str = "demo admin";
pub(super) const APPROVER_TOKEN_NAME: &str = "demo approver";

/// A token issued for this run.
pub(super) struct Issued {
    pub(super) id: String,
    pub(super) token: String,
}

/// The demo user's sign-in for this run.
pub(super) struct DemoUser {
    pub(super) email: String,
    pub(super) password: String,
}

/// The tenant's tokens for this run.
pub(super) struct Tokens {
    pub(super) admin: Issued,
    /// The demo admin's email and this run's password (`None` if that user
    /// was deactivated in this database).
    pub(super) user: Option<DemoUser>,
    /// Only when the tenant existed already (its connectors may need a
    /// change approved).
    pub(super) approver: Option<Issued>,
}

/// Finds or creates the `demo` tenant and issues this run's tokens through
/// the store (closed again before the server opens it). On the demo's own
/// database a system token is made sure of here, without printing it: the
/// demo does not need one, and `serve`'s first-start banner would
/// only confuse.
pub(super) async fn issue_tokens(config: &Config, own_database: bool) -> anyhow::Result<Tokens> {
    let store = crate::app::open_store(config).await?;
    let issued = async {
        if own_database && config.system_token.is_none() && store.ensure_system_token(None).await?.is_some() {
            tracing::info!("the demo database got a system token that is not shown; set WEIR_SYSTEM_TOKEN to use one");
        }
        let cap = SystemScope::local_operator();
        let (tenant, existed) = match store.get_tenant_by_slug(&cap, TENANT_SLUG).await {
            Ok(t) => (t, true),
            Err(StoreError::NotFound) => {
                let new = NewTenant {
                    slug: TenantSlug::parse(TENANT_SLUG).context("tenant slug")?,
                    name: TenantName::parse("Demo Trading GmbH").context("tenant name")?,
                };
                (store.create_tenant(&cap, new).await?, false)
            }
            Err(e) => return Err(e.into()),
        };
        if !tenant.is_active {
            bail!("the tenant `{TENANT_SLUG}` in this database is deactivated; use a fresh demo database");
        }
        let scope = store.tenant_scope(&cap, &tenant.id).await?;
        let admin = issue(&store, &scope, ADMIN_TOKEN_NAME).await?;
        let approver = if existed { Some(issue(&store, &scope, APPROVER_TOKEN_NAME).await?) } else { None };
        let user = demo_user(config, &store, &scope).await?;
        Ok(Tokens { admin, user, approver })
    }
    .await;
    store.close().await;
    issued
}

/// An admin token named `name`. Issued by "weir demo", not by another
/// token, so the approver counts as a different admin than the requester.
async fn issue(store: &weir_store::Store, scope: &TenantScope, name: &str) -> anyhow::Result<Issued> {
    let new = NewToken::new(ApiTokenName::parse(name).context("token name")?, Role::Admin);
    let t = store.create_token(scope, new, weir_store::Issuer::Outside("weir demo")).await?;
    Ok(Issued { id: t.token.id, token: t.plain.expose().to_owned() })
}

/// The demo admin's email.
pub(super) const DEMO_EMAIL: &str = "demo@weir.example";

/// Makes sure of the demo admin user, with a fresh random password for
/// this run (a new user accepts its own invitation; an existing one has
/// its password reset, which ends its earlier sessions).
async fn demo_user(
    config: &Config,
    store: &weir_store::Store,
    scope: &TenantScope,
) -> anyhow::Result<Option<DemoUser>> {
    use weir_core::user::{Email, NewPassword, UserName};
    let key = crate::app::resolve_master_key(store, config).await?;
    let store = store.clone().with_audit_key(weir_core::audit::AuditKey::derive(&key));
    let password = format!("demo-{}", weir_core::ids::random_key(12));
    let hash = NewPassword::parse(&password, &[DEMO_EMAIL]).context("demo password")?.hash()?;
    let email = Email::parse(DEMO_EMAIL).context("demo email")?;
    match store.user_by_email(scope, email.key()).await? {
        None => {
            let new = weir_store::NewUser { email, name: UserName::parse("Demo Admin")?, role: Role::Admin };
            let invited = store.create_user(scope, new, "weir demo", chrono::Duration::hours(1)).await?;
            store.accept_invite(&invited.secret, hash).await?;
        }
        Some(user) if user.status == weir_core::UserStatus::Active => {
            store.reset_password(scope, &user.id, hash, "weir demo").await?;
        }
        Some(user) if user.status == weir_core::UserStatus::Invited => {
            tracing::warn!(user_id = %user.id, "the demo user is still invited in this database; sign in with the token");
            return Ok(None);
        }
        Some(_) => return Ok(None),
    }
    Ok(Some(DemoUser { email: DEMO_EMAIL.to_owned(), password }))
}
