//! API tokens (per tenant) and system tokens: issuing, listing, revoking,
//! and authenticating a presented token — the only place a
//! [`TenantScope`] is minted from a request.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tracing::instrument;
use weir_core::{ApiTokenName, PageRequest, PlainToken, Role, TokenHash, TokenKind, UserStatus, ids};

use super::{Paged, now};
use crate::entities::{api_tokens, system_tokens, tenants, users};
use crate::scope::{UserRef, user_principal};
use crate::{Principal, Store, StoreError, SystemScope, TenantScope};

/// `last_used_at` is refreshed at most this often, so authentication does
/// not turn every read request into a write.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

/// A token as listings show it: never the secret, only a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Row id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The name its issuer gave it (not unique).
    pub name: String,
    /// What it may do (`viewer` < `operator` < `admin`).
    pub role: Role,
    /// `weir_AbCd…`: enough to recognise, not to use.
    pub token_hint: String,
    /// Who issued it: `system` or the issuing token's id.
    pub created_by: Option<String>,
    /// The root of its issuing chain (see [`Issuer`]).
    pub principal_id: String,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// Last successful use (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<api_tokens::Model> for ApiToken {
    type Error = StoreError;

    fn try_from(m: api_tokens::Model) -> Result<Self, StoreError> {
        let role = m.role.parse().map_err(|_| {
            StoreError::Database(sea_orm::DbErr::Type(format!("unknown role {:?} in api_tokens", m.role)))
        })?;
        Ok(Self {
            principal_id: m.principal_id.unwrap_or_else(|| m.id.clone()),
            id: m.id,
            tenant_id: m.tenant_id,
            name: m.name,
            role,
            token_hint: m.token_hint,
            created_by: m.created_by,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        })
    }
}

/// A validated request to issue a token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The name to show in listings and audit details.
    pub name: ApiTokenName,
    /// What the new token may do.
    pub role: Role,
    /// When it stops working (`None`: until revoked).
    pub expires_at: Option<DateTime<Utc>>,
    /// The service account it is for, instead of its issuer's principal.
    pub service_account_id: Option<String>,
}

impl NewToken {
    /// A token of `role`, named `name`, that does not expire, for its issuer.
    pub fn new(name: ApiTokenName, role: Role) -> Self {
        Self { name, role, expires_at: None, service_account_id: None }
    }
}

/// Who issues a new token, which decides whose token it is.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    /// An operator outside the tenant — the system API, the CLI, the demo —
    /// named by this label: the new token is a principal of its own.
    Outside(&'a str),
    /// One of the tenant's tokens: the new token acts for the same
    /// principal as the one that minted it.
    Token(&'a Principal),
}

/// A freshly issued token: the row and the clear text, shown once.
#[derive(Debug)]
pub struct IssuedToken {
    /// The stored row.
    pub token: ApiToken,
    /// The secret, for the one response that reveals it.
    pub plain: PlainToken,
}

/// Who a live token acts for. A user's token acts only while the user is
/// active, and with at most the user's current role; `None` otherwise.
pub(crate) async fn principal_of<C: sea_orm::ConnectionTrait>(
    db: &C,
    token: api_tokens::Model,
) -> Result<Option<Principal>, StoreError> {
    let via_session = token.kind == TokenKind::Session;
    let token = ApiToken::try_from(token)?;
    let mut role = token.role;
    let mut user = None;
    let mut must_enrol_mfa = false;
    if let Some(user_id) = token.principal_id.strip_prefix("user:") {
        let Some(owner) = users::Entity::find_by_id(user_id)
            .filter(users::Column::TenantId.eq(token.tenant_id.as_str()))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        if owner.status != UserStatus::Active {
            return Ok(None);
        }
        // A session acts with the user's role now; an API token of theirs
        // never above it.
        let owner_role = super::users::parse_role(&owner.role)?;
        role = if via_session { owner_role } else { role.min(owner_role) };
        if via_session && role == Role::Admin && owner.mfa_secret_sealed.is_none() {
            let tenant = tenants::Entity::find_by_id(token.tenant_id.as_str()).one(db).await?;
            must_enrol_mfa = tenant.is_some_and(|t| t.mfa_required_for_admins);
        }
        user = Some(UserRef { id: owner.id, name: owner.name, email: owner.email });
    }
    if let Some(account) = super::service_accounts::active_account(db, &token.tenant_id, &token.principal_id).await? {
        let Some(account) = account else { return Ok(None) };
        role = role.min(super::users::parse_role(&account.role)?);
    }
    Ok(Some(Principal {
        scope: TenantScope::new(token.tenant_id),
        role,
        token_id: token.id,
        issued_by: token.created_by,
        principal_id: token.principal_id,
        user,
        via_session,
        must_enrol_mfa,
    }))
}

/// Whether a token may act: not revoked, not expired, its tenant active.
pub(crate) fn is_live(token: &api_tokens::Model, tenant: Option<&tenants::Model>, at: DateTime<Utc>) -> bool {
    token.revoked_at.is_none() && token.expires_at.is_none_or(|e| e > at) && tenant.is_some_and(|t| t.is_active)
}

impl Store {
    /// Issues a token in the scope's tenant; `issuer` decides its
    /// `created_by` and its principal.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_token(
        &self,
        scope: &TenantScope,
        new: NewToken,
        issuer: Issuer<'_>,
    ) -> Result<IssuedToken, StoreError> {
        let plain = PlainToken::generate();
        let id = ids::new_id();
        let (created_by, mut principal_id) = match issuer {
            Issuer::Outside(label) => (label.to_owned(), id.clone()),
            Issuer::Token(by) if by.via_session => (
                by.user.as_ref().map_or_else(|| by.token_id.clone(), |u| user_principal(&u.id)),
                by.principal_id.clone(),
            ),
            Issuer::Token(by) => (by.token_id.clone(), by.principal_id.clone()),
        };
        if let Some(account) = &new.service_account_id {
            let principal = super::service_accounts::service_account_principal(account);
            let found = super::service_accounts::active_account(&self.db, scope.tenant_id(), &principal).await?;
            let Some(Some(account)) = found else { return Err(StoreError::NotFound) };
            if super::users::parse_role(&account.role)? < new.role {
                return Err(StoreError::Unprocessable("a token cannot carry more than its service account's role"));
            }
            principal_id = principal;
        }
        let model = api_tokens::ActiveModel {
            id: Set(id),
            tenant_id: Set(scope.tenant_id().to_owned()),
            name: Set(new.name.as_str().to_owned()),
            role: Set(new.role.as_str().to_owned()),
            token_hash: Set(plain.hash().as_str().to_owned()),
            token_hint: Set(plain.hint()),
            created_by: Set(Some(created_by)),
            principal_id: Set(Some(principal_id)),
            kind: Set(TokenKind::Api),
            created_at: Set(now()),
            last_used_at: Set(None),
            expires_at: Set(new.expires_at),
            revoked_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(IssuedToken { token: model.try_into()?, plain })
    }

    /// The tenant's tokens, newest first (revoked ones included, marked).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_tokens(&self, scope: &TenantScope, page: PageRequest) -> Result<Paged<ApiToken>, StoreError> {
        let query = api_tokens::Entity::find()
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id()))
            .filter(api_tokens::Column::Kind.eq(TokenKind::Api));
        let total = query.clone().count(&self.db).await?;
        let items = query
            .order_by_desc(api_tokens::Column::CreatedAt)
            .order_by_desc(api_tokens::Column::Id)
            .offset(page.offset())
            .limit(page.per_page())
            .all(&self.db)
            .await?
            .into_iter()
            .map(ApiToken::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Paged { items, total })
    }

    /// Revokes one of the tenant's tokens. Revoking an already revoked token
    /// succeeds (idempotent); another tenant's id is `NotFound`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn revoke_token(&self, scope: &TenantScope, id: &str) -> Result<(), StoreError> {
        let exists = api_tokens::Entity::find()
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id()))
            .filter(api_tokens::Column::Id.eq(id))
            .filter(api_tokens::Column::Kind.eq(TokenKind::Api))
            .count(&self.db)
            .await?;
        if exists == 0 {
            return Err(StoreError::NotFound);
        }
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(now()))
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id()))
            .filter(api_tokens::Column::Id.eq(id))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Resolves a presented tenant token: live (not revoked, not expired),
    /// of an active tenant. `None` for anything else.
    #[instrument(skip_all)]
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Principal>, StoreError> {
        let hash = TokenHash::of(presented);
        let Some((token, tenant)) = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash.as_str()))
            .find_also_related(tenants::Entity)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let at = now();
        if !is_live(&token, tenant.as_ref(), at) {
            return Ok(None);
        }
        if token.last_used_at.is_none_or(|t| at - t >= LAST_USED_GRANULARITY) {
            api_tokens::Entity::update_many()
                .col_expr(api_tokens::Column::LastUsedAt, Expr::value(at))
                .filter(api_tokens::Column::Id.eq(token.id.as_str()))
                .exec(&self.db)
                .await?;
        }
        principal_of(&self.db, token).await
    }

    /// The principal a tenant token acts for (see [`Issuer`]); an unknown
    /// id is its own principal, so it never matches anyone else's.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn token_principal(&self, scope: &TenantScope, token_id: &str) -> Result<String, StoreError> {
        let found = api_tokens::Entity::find()
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id()))
            .filter(api_tokens::Column::Id.eq(token_id))
            .one(&self.db)
            .await?;
        Ok(match found {
            Some(m) => m.principal_id.unwrap_or(m.id),
            None => token_id.to_owned(),
        })
    }

    /// Resolves a presented system token.
    #[instrument(skip_all)]
    pub async fn authenticate_system(&self, presented: &str) -> Result<Option<SystemScope>, StoreError> {
        let hash = TokenHash::of(presented);
        let found = system_tokens::Entity::find()
            .filter(system_tokens::Column::TokenHash.eq(hash.as_str()))
            .filter(system_tokens::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(found.map(|_| SystemScope::new()))
    }

    /// Makes sure a system token exists at start-up.
    ///
    /// * `supplied` (from `WEIR_SYSTEM_TOKEN`): it becomes the only valid
    ///   system token; any other is revoked. Returns `None`.
    /// * Nothing supplied and none stored: generates one, stores its hash
    ///   and returns it so the caller can print it once.
    /// * Nothing supplied and one stored: returns `None`.
    #[instrument(skip_all)]
    pub async fn ensure_system_token(&self, supplied: Option<&PlainToken>) -> Result<Option<PlainToken>, StoreError> {
        let txn = self.write_txn().await?;
        let at = now();
        let result = if let Some(token) = supplied {
            let hash = token.hash();
            system_tokens::Entity::update_many()
                .col_expr(system_tokens::Column::RevokedAt, Expr::value(at))
                .filter(system_tokens::Column::TokenHash.ne(hash.as_str()))
                .filter(system_tokens::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
            let existing = system_tokens::Entity::find()
                .filter(system_tokens::Column::TokenHash.eq(hash.as_str()))
                .one(&txn)
                .await?;
            match existing {
                Some(row) if row.revoked_at.is_some() => {
                    system_tokens::Entity::update_many()
                        .col_expr(system_tokens::Column::RevokedAt, Expr::value(Option::<DateTime<Utc>>::None))
                        .filter(system_tokens::Column::Id.eq(row.id))
                        .exec(&txn)
                        .await?;
                }
                Some(_) => {}
                None => insert_system_token(&txn, "WEIR_SYSTEM_TOKEN", token).await?,
            }
            None
        } else {
            let live =
                system_tokens::Entity::find().filter(system_tokens::Column::RevokedAt.is_null()).count(&txn).await?;
            if live == 0 {
                let token = PlainToken::generate();
                insert_system_token(&txn, "generated", &token).await?;
                Some(token)
            } else {
                None
            }
        };
        txn.commit().await?;
        Ok(result)
    }
}

async fn insert_system_token<C: sea_orm::ConnectionTrait>(
    db: &C,
    name: &str,
    token: &PlainToken,
) -> Result<(), StoreError> {
    system_tokens::ActiveModel {
        id: Set(ids::new_id()),
        name: Set(name.to_owned()),
        token_hash: Set(token.hash().as_str().to_owned()),
        token_hint: Set(token.hint()),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}
