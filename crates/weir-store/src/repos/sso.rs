//! A tenant's single sign-on settings (set and removed by admins, audited;
//! the client secret arrives and leaves sealed), and the `state`s of
//! sign-ins that came back: each can be spent once (a sign-in under way is
//! not stored here: it travels sealed in the browser's cookie, so starting
//! one writes nothing). Who a verified identity is in Weir is
//! [`super::sso_users`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
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
            issuer_url: m.issuer_url,
            client_id: m.client_id,
            allowed_domains: serde_json::from_str(&m.allowed_domains).map_err(|_| corrupt("allowed_domains"))?,
            scopes: serde_json::from_str(&m.scopes).map_err(|_| corrupt("scopes"))?,
            role_claim: m.role_claim,
            role_mapping,
            default_role: m.default_role.as_deref().map(parse_role).transpose()?,
            sso_only: m.sso_only,
            trust_unverified_email: m.trust_unverified_email,
            required_claims: serde_json::from_str(&m.required_claims).map_err(|_| corrupt("required_claims"))?,
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
        "issuer_url": s.issuer_url,
        "client_id": s.client_id,
        "allowed_domains": s.allowed_domains,
        "scopes": s.scopes,
        "role_claim": s.role_claim,
        "role_mapping": s.role_mapping,
        "default_role": s.default_role,
        "sso_only": s.sso_only,
        "trust_unverified_email": s.trust_unverified_email,
        "required_claims": s.required_claims,
    })
}

/// The tenant a public SSO route names, with its settings.
#[derive(Debug, Clone)]
pub struct SsoTenant {
    /// The tenant.
    pub tenant: crate::Tenant,
    /// Its scope (the callback acts in it).
    pub scope: TenantScope,
    /// Its SSO settings.
    pub config: SsoConfig,
}

impl Store {
    /// The tenant's SSO settings, if it has any.
    pub async fn sso_config(&self, scope: &TenantScope) -> Result<Option<SsoConfig>, StoreError> {
        tenant_sso::Entity::find_by_id(scope.tenant_id()).one(&self.db).await?.map(SsoConfig::try_from).transpose()
    }

    /// The SSO settings of the active tenant with this slug (the public
    /// sign-in routes); `None` when it has none (or does not exist).
    pub async fn sso_tenant(&self, slug: &str) -> Result<Option<SsoTenant>, StoreError> {
        let Some(tenant) = tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug))
            .filter(tenants::Column::IsActive.eq(true))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(config) = tenant_sso::Entity::find_by_id(tenant.id.as_str()).one(&self.db).await? else {
            return Ok(None);
        };
        let scope = TenantScope::new(tenant.id.clone());
        Ok(Some(SsoTenant { tenant: tenant.into(), scope, config: config.try_into()? }))
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
            issuer_url: Set(settings.issuer_url.clone()),
            client_id: Set(settings.client_id.clone()),
            client_secret_sealed: Set(secret),
            allowed_domains: Set(json!(settings.allowed_domains).to_string()),
            scopes: Set(json!(settings.scopes).to_string()),
            role_claim: Set(settings.role_claim.clone()),
            role_mapping: Set(json!(settings.role_mapping).to_string()),
            default_role: Set(settings.default_role.map(|r| r.as_str().to_owned())),
            sso_only: Set(settings.sso_only),
            trust_unverified_email: Set(settings.trust_unverified_email),
            required_claims: Set(json!(settings.required_claims).to_string()),
            updated_by: Set(Some(actor.to_owned())),
            updated_at: Set(now()),
        };
        let saved = if existing.is_some() { row.update(&txn).await? } else { row.insert(&txn).await? };
        let mut details = described(&settings);
        details["client_secret_changed"] = json!(secret_changed);
        self.append_audit(&txn, scope, AuditEntry::about_tenant("sso.configured", actor.to_owned(), scope, details))
            .await?;
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
        self.append_audit(&txn, scope, AuditEntry::about_tenant("sso.removed", actor.to_owned(), scope, json!({})))
            .await?;
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

    /// Spends a sign-in's `state` (SHA-256 stored until `expires_at`, when
    /// the sign-in would have expired anyway): `false` when it was spent
    /// already — a replay. Also drops the tenant's expired ones.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn spend_sso_state(
        &self,
        scope: &TenantScope,
        state: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        logins::Entity::delete_many()
            .filter(logins::Column::TenantId.eq(scope.tenant_id()))
            .filter(logins::Column::ExpiresAt.lt(at))
            .exec(&txn)
            .await?;
        let spent = logins::Entity::insert(logins::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            state_hash: Set(TokenHash::of(state).as_str().to_owned()),
            used_at: Set(at),
            expires_at: Set(expires_at),
        })
        .on_conflict(OnConflict::column(logins::Column::StateHash).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(spent == 1)
    }
}
