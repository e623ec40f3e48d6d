//! Dashboard sessions: an API token exchanged for a cookie secret. The
//! session acts with its token's tenant and role, and only while the token
//! is live — revoking the token (or deactivating the tenant) ends every
//! session opened with it. Only the SHA-256 of the secret is stored.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::{TokenHash, ids};

use super::audit::AuditEntry;
use super::now;
use super::tenants::Tenant;
use super::tokens::{is_live, principal_of};
use crate::entities::{api_tokens, sessions, tenants};
use crate::{Principal, Store, StoreError};

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Row id (audit entries name it; never the secret).
    pub id: String,
    /// Who acts through it: the token's tenant, role and id.
    pub principal: Principal,
    /// The tenant, for the page header.
    pub tenant: Tenant,
    /// The value state-changing requests must echo in `X-CSRF-Token`.
    pub csrf_token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A session just opened, with the secret for the one `Set-Cookie`.
#[derive(Debug)]
pub struct OpenedSession {
    /// The session.
    pub session: Session,
    /// The cookie value (32 random bytes, base64url).
    pub secret: String,
}

/// Stores a session acting through `token_id`; answers the row and the
/// cookie secret (32 random bytes, base64url; only its SHA-256 is stored).
pub(crate) async fn insert_session<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    token_id: &str,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(sessions::Model, String), StoreError> {
    let secret = ids::random_key(32);
    let row = sessions::ActiveModel {
        id: Set(ids::new_id()),
        tenant_id: Set(tenant_id.to_owned()),
        token_id: Set(token_id.to_owned()),
        secret_hash: Set(TokenHash::of(&secret).as_str().to_owned()),
        csrf_token: Set(ids::random_key(32)),
        created_at: Set(at),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok((row, secret))
}

impl Store {
    /// Opens a session for a presented tenant token, valid for `ttl` (and
    /// no longer than the token). `None` when the token is not live.
    /// Audited as `session.created`. Expired sessions of the same token are
    /// removed on the way.
    #[instrument(skip_all)]
    pub async fn open_session(&self, presented: &str, ttl: Duration) -> Result<Option<OpenedSession>, StoreError> {
        let Some(principal) = self.authenticate(presented).await? else {
            return Ok(None);
        };
        let Some(tenant) = tenants::Entity::find_by_id(principal.scope.tenant_id()).one(&self.db).await? else {
            return Ok(None);
        };
        let token_expiry =
            api_tokens::Entity::find_by_id(principal.token_id.as_str()).one(&self.db).await?.and_then(|t| t.expires_at);
        let at = now();
        let expires_at = token_expiry.map_or(at + ttl, |e| e.min(at + ttl));
        let txn = self.write_txn().await?;
        sessions::Entity::delete_many()
            .filter(sessions::Column::TokenId.eq(principal.token_id.as_str()))
            .filter(sessions::Column::ExpiresAt.lte(at))
            .exec(&txn)
            .await?;
        let (row, secret) = insert_session(&txn, &tenant.id, &principal.token_id, at, expires_at).await?;
        self.append_audit(
            &txn,
            &principal.scope,
            AuditEntry {
                action: "session.created",
                actor: principal.actor(),
                resource_type: "session",
                resource_id: row.id.clone(),
                connector_id: None,
                details: json!({ "expires_at": expires_at }),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(Some(OpenedSession {
            session: Session {
                id: row.id,
                principal,
                tenant: tenant.into(),
                csrf_token: row.csrf_token,
                expires_at: row.expires_at,
            },
            secret,
        }))
    }

    /// The live session a cookie secret names: not expired, its token live
    /// and its tenant active; otherwise `None`.
    #[instrument(skip_all)]
    pub async fn session(&self, secret: &str) -> Result<Option<Session>, StoreError> {
        let hash = TokenHash::of(secret);
        let Some(row) =
            sessions::Entity::find().filter(sessions::Column::SecretHash.eq(hash.as_str())).one(&self.db).await?
        else {
            return Ok(None);
        };
        let at = now();
        if row.expires_at <= at {
            return Ok(None);
        }
        let Some((token, tenant)) = api_tokens::Entity::find_by_id(row.token_id.as_str())
            .find_also_related(tenants::Entity)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if !is_live(&token, tenant.as_ref(), at) {
            return Ok(None);
        }
        let Some(tenant) = tenant else { return Ok(None) };
        let Some(principal) = principal_of(&self.db, token).await? else { return Ok(None) };
        Ok(Some(Session {
            id: row.id,
            principal,
            tenant: tenant.into(),
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        }))
    }

    /// Ends a session (sign-out), audited as `session.ended`. Ending one
    /// that is already gone succeeds.
    #[instrument(skip_all, fields(tenant_id = session.principal.scope.tenant_id()))]
    pub async fn close_session(&self, session: &Session) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let deleted = sessions::Entity::delete_many()
            .filter(sessions::Column::TenantId.eq(session.principal.scope.tenant_id()))
            .filter(sessions::Column::Id.eq(session.id.as_str()))
            .exec(&txn)
            .await?;
        if deleted.rows_affected > 0 {
            self.append_audit(
                &txn,
                &session.principal.scope,
                AuditEntry {
                    action: "session.ended",
                    actor: session.principal.actor(),
                    resource_type: "session",
                    resource_id: session.id.clone(),
                    connector_id: None,
                    details: json!({}),
                },
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
