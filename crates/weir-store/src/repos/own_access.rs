//! A signed-in user's own sessions and API tokens: listed, and ended one
//! by one (from their profile). Another person's session or token is
//! `NotFound`, as another tenant's is.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use weir_core::TokenKind;

use super::now;
use super::tokens::ApiToken;
use crate::entities::{api_tokens, sessions};
use crate::scope::user_principal;
use crate::{Principal, Store, StoreError};

/// One of the user's live sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSession {
    /// Session id.
    pub id: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// The session this request came with.
    pub current: bool,
}

/// The signed-in user's principal; listing answers `Unprocessable` for an
/// API token, ending one by id `NotFound` (it has none of its own).
fn owner(p: &Principal) -> Option<String> {
    p.user.as_ref().filter(|_| p.via_session).map(|u| user_principal(&u.id))
}

const NO_OWN: StoreError = StoreError::Unprocessable("only a signed-in user has sessions and tokens of their own");

impl Store {
    /// The signed-in user's live sessions, newest first.
    pub async fn own_sessions(&self, p: &Principal) -> Result<Vec<OwnSession>, StoreError> {
        let principal = owner(p).ok_or(NO_OWN)?;
        let at = now();
        let rows = sessions::Entity::find()
            .filter(sessions::Column::TenantId.eq(p.scope.tenant_id()))
            .filter(sessions::Column::ExpiresAt.gt(at))
            .filter(
                sessions::Column::TokenId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(api_tokens::Column::Id)
                        .from(api_tokens::Entity)
                        .and_where(api_tokens::Column::PrincipalId.eq(principal))
                        .and_where(api_tokens::Column::Kind.eq(TokenKind::Session))
                        .and_where(api_tokens::Column::RevokedAt.is_null())
                        .to_owned(),
                ),
            )
            .order_by_desc(sessions::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|s| OwnSession {
                current: s.token_id == p.token_id,
                id: s.id,
                created_at: s.created_at,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// Ends one of the signed-in user's sessions (its token revoked).
    pub async fn end_own_session(&self, p: &Principal, session_id: &str) -> Result<(), StoreError> {
        let principal = owner(p).ok_or(StoreError::NotFound)?;
        let txn = self.write_txn().await?;
        let session = sessions::Entity::find_by_id(session_id)
            .filter(sessions::Column::TenantId.eq(p.scope.tenant_id()))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let token = api_tokens::Entity::find_by_id(session.token_id.as_str())
            .one(&txn)
            .await?
            .filter(|t| t.principal_id.as_deref() == Some(principal.as_str()))
            .ok_or(StoreError::NotFound)?;
        sessions::Entity::delete_by_id(session.id).exec(&txn).await?;
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(now()))
            .filter(api_tokens::Column::Id.eq(token.id))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The signed-in user's API tokens (revoked ones included), newest first.
    pub async fn own_tokens(&self, p: &Principal) -> Result<Vec<ApiToken>, StoreError> {
        let principal = owner(p).ok_or(NO_OWN)?;
        api_tokens::Entity::find()
            .filter(api_tokens::Column::TenantId.eq(p.scope.tenant_id()))
            .filter(api_tokens::Column::PrincipalId.eq(principal))
            .filter(api_tokens::Column::Kind.eq(TokenKind::Api))
            .order_by_desc(api_tokens::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ApiToken::try_from)
            .collect()
    }

    /// Revokes one of the signed-in user's API tokens (idempotent).
    pub async fn revoke_own_token(&self, p: &Principal, token_id: &str) -> Result<(), StoreError> {
        let principal = owner(p).ok_or(StoreError::NotFound)?;
        let found = api_tokens::Entity::find_by_id(token_id)
            .filter(api_tokens::Column::TenantId.eq(p.scope.tenant_id()))
            .filter(api_tokens::Column::PrincipalId.eq(principal))
            .filter(api_tokens::Column::Kind.eq(TokenKind::Api))
            .one(&self.db)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(now()))
            .filter(api_tokens::Column::Id.eq(token_id))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
