//! A tenant's single sign-on settings (set and removed by admins, audited;
//! the client secret arrives and leaves sealed), and the sign-ins under way
//! at the identity provider: each is stored by the SHA-256 of its `state`
//! and of the browser's binding cookie, and is taken at most once, within
//! [`LOGIN_TTL`]. Who a verified identity is in Weir is
//! [`super::sso_users`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::sso::SsoSettings;
use weir_core::{Role, TokenHash, ids};

use super::audit::AuditEntry;
use super::now;
use super::users::parse_role;
use crate::entities::{sso_logins as logins, tenant_sso, tenants};
use crate::{Store, StoreError, TenantScope};

/// How long a sign-in may stay at the identity provider.
pub const LOGIN_TTL: Duration = Duration::minutes(10);
/// Sign-ins under way at once per tenant; more are refused (the start
/// route is public, so this bounds what strangers can make it store).
pub const MAX_LIVE_LOGINS: u64 = 1_000;

/// A tenant's SSO settings as stored.
#[derive(Debug, Clone)]
pub struct SsoConfig {
    /// The owning tenant.
    pub tenant_id: String,
    /// The validated settings.
    pub settings: SsoSettings,
    /// The client secret, sealed with the master key.
    pub client_secret_sealed: Vec<u8>,
    /// Who changed them last.
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: DateTime<Utc>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Database(sea_orm::DbErr::Type(format!("unreadable tenant_sso.{what}")))
}

impl TryFrom<tenant_sso::Model> for SsoConfig {
    type Error = StoreError;

    fn try_from(m: tenant_sso::Model) -> Result<Self, StoreError> {
        let role_mapping: BTreeMap<String, String> =
            serde_json::from_str(&m.role_mapping).map_err(|_| corrupt("role_mapping"))?;
        let role_mapping = role_mapping
            .into_iter()
            .map(|(k, v)| Ok((k, parse_role(&v)?)))
            .collect::<Result<BTreeMap<String, Role>, StoreError>>()?;
        let settings = SsoSettings {
            issuer_url: url::Url::parse(&m.issuer_url).map_err(|_| corrupt("issuer_url"))?,
            client_id: m.client_id,
            allowed_domains: serde_json::from_str(&m.allowed_domains).map_err(|_| corrupt("allowed_domains"))?,
            scopes: serde_json::from_str(&m.scopes).map_err(|_| corrupt("scopes"))?,
            role_claim: m.role_claim,
            role_mapping,
            default_role: m.default_role.as_deref().map(parse_role).transpose()?,
            sso_only: m.sso_only,
        };
        Ok(Self {
            tenant_id: m.tenant_id,
            settings,
            client_secret_sealed: m.client_secret_sealed,
            updated_by: m.updated_by,
            updated_at: m.updated_at,
        })
    }
}

/// The audit entry's view of settings: everything but the secret.
fn described(s: &SsoSettings) -> serde_json::Value {
    json!({
        "issuer_url": s.issuer_url.as_str(),
        "client_id": s.client_id,
        "allowed_domains": s.allowed_domains,
        "scopes": s.scopes,
        "role_claim": s.role_claim,
        "role_mapping": s.role_mapping,
        "default_role": s.default_role,
        "sso_only": s.sso_only,
    })
}

/// A sign-in about to leave for the identity provider.
#[derive(Debug)]
pub struct NewSsoLogin<'a> {
    /// The tenant signed in to.
    pub tenant_id: &'a str,
    /// The `state` sent to the provider (stored hashed).
    pub state: &'a str,
    /// The value of the browser's binding cookie (stored hashed).
    pub browser: &'a str,
    /// The nonce the ID token must carry.
    pub nonce: &'a str,
    /// The PKCE verifier the code exchange sends.
    pub pkce_verifier: &'a str,
    /// The redirect URI sent (the code exchange repeats it).
    pub redirect_uri: &'a str,
}

/// A sign-in back from the provider, taken (it cannot be taken again).
#[derive(Debug, Clone)]
pub struct SsoLogin {
    /// The tenant signed in to (the callback acts in it).
    pub scope: TenantScope,
    /// SHA-256 of the binding cookie it was started with.
    pub browser_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
    /// The redirect URI it was started with.
    pub redirect_uri: String,
}

impl Store {
    /// The tenant's SSO settings, if it has any.
    pub async fn sso_config(&self, scope: &TenantScope) -> Result<Option<SsoConfig>, StoreError> {
        tenant_sso::Entity::find_by_id(scope.tenant_id()).one(&self.db).await?.map(SsoConfig::try_from).transpose()
    }

    /// The SSO settings of the active tenant with this slug (the public
    /// sign-in routes), with the tenant's id and name.
    pub async fn sso_config_by_slug(&self, slug: &str) -> Result<Option<(crate::Tenant, SsoConfig)>, StoreError> {
        let Some(tenant) = tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug))
            .filter(tenants::Column::IsActive.eq(true))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let config = tenant_sso::Entity::find_by_id(tenant.id.as_str()).one(&self.db).await?;
        Ok(match config {
            Some(c) => Some((tenant.into(), c.try_into()?)),
            None => None,
        })
    }

    /// Sets the tenant's SSO settings. `secret_sealed` replaces the client
    /// secret; `None` keeps the stored one (refused as `Unprocessable` when
    /// there is none yet). Audited `sso.configured` (never the secret).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn put_sso_config(
        &self,
        scope: &TenantScope,
        settings: SsoSettings,
        secret_sealed: Option<Vec<u8>>,
        actor: &str,
    ) -> Result<SsoConfig, StoreError> {
        let txn = self.write_txn().await?;
        let existing = tenant_sso::Entity::find_by_id(scope.tenant_id()).one(&txn).await?;
        let secret_changed = secret_sealed.is_some();
        let Some(secret) = secret_sealed.or_else(|| existing.as_ref().map(|e| e.client_secret_sealed.clone())) else {
            return Err(StoreError::Unprocessable("client_secret is needed the first time"));
        };
        let row = tenant_sso::ActiveModel {
            tenant_id: Set(scope.tenant_id().to_owned()),
            issuer_url: Set(settings.issuer_url.as_str().to_owned()),
            client_id: Set(settings.client_id.clone()),
            client_secret_sealed: Set(secret),
            allowed_domains: Set(json!(settings.allowed_domains).to_string()),
            scopes: Set(json!(settings.scopes).to_string()),
            role_claim: Set(settings.role_claim.clone()),
            role_mapping: Set(json!(settings.role_mapping).to_string()),
            default_role: Set(settings.default_role.map(|r| r.as_str().to_owned())),
            sso_only: Set(settings.sso_only),
            updated_by: Set(Some(actor.to_owned())),
            updated_at: Set(now()),
        };
        let saved = if existing.is_some() { row.update(&txn).await? } else { row.insert(&txn).await? };
        let mut details = described(&settings);
        details["client_secret_changed"] = json!(secret_changed);
        let entry = AuditEntry {
            action: "sso.configured",
            actor: actor.to_owned(),
            resource_type: "tenant",
            resource_id: scope.tenant_id().to_owned(),
            connector_id: None,
            details,
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        saved.try_into()
    }

    /// Removes the tenant's SSO settings (passwords work again); `NotFound`
    /// when there are none. Audited `sso.removed`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn delete_sso_config(&self, scope: &TenantScope, actor: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let gone = tenant_sso::Entity::delete_by_id(scope.tenant_id()).exec(&txn).await?;
        if gone.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        logins::Entity::delete_many().filter(logins::Column::TenantId.eq(scope.tenant_id())).exec(&txn).await?;
        let entry = AuditEntry {
            action: "sso.removed",
            actor: actor.to_owned(),
            resource_type: "tenant",
            resource_id: scope.tenant_id().to_owned(),
            connector_id: None,
            details: json!({}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Which of these tenants refuse passwords (SSO only).
    pub async fn sso_only_tenants(&self, tenant_ids: &[&str]) -> Result<Vec<String>, StoreError> {
        if tenant_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = tenant_sso::Entity::find()
            .filter(tenant_sso::Column::TenantId.is_in(tenant_ids.iter().copied()))
            .filter(tenant_sso::Column::SsoOnly.eq(true))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| r.tenant_id).collect())
    }

    /// Stores a sign-in leaving for the provider, and drops the tenant's
    /// expired ones; `false` (nothing stored) when [`MAX_LIVE_LOGINS`] are
    /// under way already.
    #[instrument(skip_all, fields(tenant_id = new.tenant_id))]
    pub async fn begin_sso_login(&self, new: NewSsoLogin<'_>) -> Result<bool, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        logins::Entity::delete_many()
            .filter(logins::Column::TenantId.eq(new.tenant_id))
            .filter(logins::Column::ExpiresAt.lt(at))
            .exec(&txn)
            .await?;
        let live = logins::Entity::find().filter(logins::Column::TenantId.eq(new.tenant_id)).count(&txn).await?;
        if live >= MAX_LIVE_LOGINS {
            return Ok(false);
        }
        logins::Entity::insert(logins::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(new.tenant_id.to_owned()),
            state_hash: Set(TokenHash::of(new.state).as_str().to_owned()),
            browser_hash: Set(TokenHash::of(new.browser).as_str().to_owned()),
            nonce: Set(new.nonce.to_owned()),
            pkce_verifier: Set(new.pkce_verifier.to_owned()),
            redirect_uri: Set(new.redirect_uri.to_owned()),
            created_at: Set(at),
            expires_at: Set(at + LOGIN_TTL),
            used_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Takes the sign-in this `state` belongs to: `None` when it is
    /// unknown, expired or taken already (one statement marks it used, so
    /// two callbacks racing with one state cannot both win).
    #[instrument(skip_all)]
    pub async fn take_sso_login(&self, state: &str) -> Result<Option<SsoLogin>, StoreError> {
        let hash = TokenHash::of(state);
        let at = now();
        let txn = self.write_txn().await?;
        let taken = logins::Entity::update_many()
            .col_expr(logins::Column::UsedAt, Expr::value(at))
            .filter(logins::Column::StateHash.eq(hash.as_str()))
            .filter(logins::Column::UsedAt.is_null())
            .filter(logins::Column::ExpiresAt.gt(at))
            .exec(&txn)
            .await?;
        if taken.rows_affected != 1 {
            return Ok(None);
        }
        let row = logins::Entity::find().filter(logins::Column::StateHash.eq(hash.as_str())).one(&txn).await?;
        txn.commit().await?;
        Ok(row.map(|r| SsoLogin {
            scope: TenantScope::new(r.tenant_id),
            browser_hash: r.browser_hash,
            nonce: r.nonce,
            pkce_verifier: r.pkce_verifier,
            redirect_uri: r.redirect_uri,
        }))
    }
}
