//! A tenant's users: inviting (a single-use, expiring link), listing,
//! renaming and changing roles, deactivating (which ends every session and
//! token of theirs in the same transaction), and accepting an invitation.
//! Every change is audited in the tenant's chain.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::user::{Email, UserName};
use weir_core::{PageRequest, Role, TokenHash, UserStatus, ids};

use super::audit::AuditEntry;
use super::{Paged, now};
use crate::entities::{api_tokens, sessions, user_invites, users};
use crate::scope::{UserRef, user_principal};
use crate::{Store, StoreError, TenantScope};

/// A user as the API shows them (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// As entered.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Invited, active or deactivated.
    pub status: UserStatus,
    /// Last successful sign-in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// When they turned on multi-factor sign-in (`None`: off).
    pub mfa_enabled_at: Option<DateTime<Utc>>,
    /// When they were invited.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// How other records name them.
    pub fn as_ref(&self) -> UserRef {
        UserRef { id: self.id.clone(), name: self.name.clone(), email: self.email.clone() }
    }
}

pub(crate) fn parse_role(s: &str) -> Result<Role, StoreError> {
    s.parse().map_err(|_| StoreError::Database(sea_orm::DbErr::Type(format!("unknown role {s:?}"))))
}

impl TryFrom<users::Model> for User {
    type Error = StoreError;

    fn try_from(m: users::Model) -> Result<Self, StoreError> {
        Ok(Self {
            role: parse_role(&m.role)?,
            id: m.id,
            tenant_id: m.tenant_id,
            email: m.email,
            name: m.name,
            status: m.status,
            last_sign_in_at: m.last_sign_in_at,
            mfa_enabled_at: m.mfa_enabled_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// A validated invitation request.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Their email (unique in the tenant, case-insensitively).
    pub email: Email,
    /// Their display name.
    pub name: UserName,
    /// Their role.
    pub role: Role,
}

/// A user just invited, with the link's secret (shown once).
#[derive(Debug)]
pub struct Invitation {
    /// The new user (`invited`).
    pub user: User,
    /// The secret of `/invites/{secret}`.
    pub secret: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New display name.
    pub name: Option<UserName>,
    /// New role. Their tokens never act above it (checked on every use).
    pub role: Option<Role>,
}

/// Notes `field`'s change in `changed` as `{"from", "to"}` when `after`
/// differs from `before`; answers whether it did (an audit entry's details).
pub(crate) fn note_change(
    changed: &mut serde_json::Map<String, serde_json::Value>,
    field: &str,
    before: &str,
    after: &str,
) -> bool {
    let differs = before != after;
    if differs {
        changed.insert(field.to_owned(), json!({"from": before, "to": after}));
    }
    differs
}

/// A new user's row: no password, no second factor, not signed in yet.
pub(crate) fn new_user_row(
    scope: &TenantScope,
    email: &Email,
    name: &UserName,
    role: Role,
    status: UserStatus,
    created_by: &str,
    sso_subject: Option<String>,
) -> users::ActiveModel {
    let at = now();
    users::ActiveModel {
        id: Set(ids::new_id()),
        tenant_id: Set(scope.tenant_id().to_owned()),
        email: Set(email.as_str().to_owned()),
        email_key: Set(email.key().to_owned()),
        name: Set(name.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        status: Set(status),
        password_hash: Set(None),
        password_changed_at: Set(None),
        last_sign_in_at: Set(None),
        created_by: Set(Some(created_by.to_owned())),
        created_at: Set(at),
        updated_at: Set(at),
        mfa_secret_sealed: Set(None),
        mfa_pending_sealed: Set(None),
        mfa_enabled_at: Set(None),
        mfa_last_step: Set(None),
        sso_subject: Set(sso_subject),
    }
}

pub(crate) fn user_audit(action: &'static str, actor: &str, user: &User, details: serde_json::Value) -> AuditEntry {
    AuditEntry {
        action,
        actor: actor.to_owned(),
        resource_type: "user",
        resource_id: user.id.clone(),
        connector_id: None,
        details,
    }
}

impl Store {
    /// Invites a user: stored `invited`, with a link valid for `ttl`.
    /// A taken email is `Conflict(UserEmailTaken)`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_user(
        &self,
        scope: &TenantScope,
        new: NewUser,
        actor: &str,
        ttl: Duration,
    ) -> Result<Invitation, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let row =
            new_user_row(scope, &new.email, &new.name, new.role, UserStatus::Invited, actor, None).insert(&txn).await?;
        let user = User::try_from(row)?;
        let (secret, expires_at) = insert_invite(&txn, &user, at, ttl).await?;
        let details =
            json!({"email": user.email, "name": user.name, "role": user.role, "invite_expires_at": expires_at});
        self.append_audit(&txn, scope, user_audit("user.invited", actor, &user, details)).await?;
        txn.commit().await?;
        Ok(Invitation { user, secret, expires_at })
    }

    /// The tenant's users, by email.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_users(&self, scope: &TenantScope, page: PageRequest) -> Result<Paged<User>, StoreError> {
        let query = users::Entity::find().filter(users::Column::TenantId.eq(scope.tenant_id()));
        let total = query.clone().count(&self.db).await?;
        let items = query
            .order_by_asc(users::Column::EmailKey)
            .offset(page.offset())
            .limit(page.per_page())
            .all(&self.db)
            .await?
            .into_iter()
            .map(User::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Paged { items, total })
    }

    /// One of the tenant's users; another tenant's id is `NotFound`.
    pub async fn get_user(&self, scope: &TenantScope, id: &str) -> Result<User, StoreError> {
        users::Entity::find_by_id(id)
            .filter(users::Column::TenantId.eq(scope.tenant_id()))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()
    }

    /// Renames a user or changes their role, audited with what changed.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn update_user(
        &self,
        scope: &TenantScope,
        id: &str,
        patch: UserPatch,
        actor: &str,
    ) -> Result<User, StoreError> {
        let txn = self.write_txn().await?;
        let before = find_user(&txn, scope, id).await?;
        if before.status == UserStatus::Deactivated {
            return Err(StoreError::StateConflict("a deactivated user cannot be changed"));
        }
        let mut row: users::ActiveModel = before.clone().into();
        let mut changed = serde_json::Map::new();
        if let Some(name) = patch.name.filter(|n| note_change(&mut changed, "name", &before.name, n.as_str())) {
            row.name = Set(name.as_str().to_owned());
        }
        if let Some(role) = patch.role.filter(|r| note_change(&mut changed, "role", &before.role, r.as_str())) {
            row.role = Set(role.as_str().to_owned());
        }
        if changed.is_empty() {
            txn.commit().await?;
            return before.try_into();
        }
        row.updated_at = Set(now());
        let user = User::try_from(row.update(&txn).await?)?;
        self.append_audit(&txn, scope, user_audit("user.updated", actor, &user, changed.into())).await?;
        txn.commit().await?;
        Ok(user)
    }

    /// Deactivates a user: status `deactivated`, and in the same
    /// transaction every token they own revoked and every session of theirs
    /// deleted (open live streams stop at their next check). Deactivating a
    /// deactivated user succeeds.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn deactivate_user(&self, scope: &TenantScope, id: &str, actor: &str) -> Result<User, StoreError> {
        let txn = self.write_txn().await?;
        let before = find_user(&txn, scope, id).await?;
        if before.status == UserStatus::Deactivated {
            txn.commit().await?;
            return before.try_into();
        }
        let at = now();
        let mut row: users::ActiveModel = before.into();
        row.status = Set(UserStatus::Deactivated);
        row.updated_at = Set(at);
        let user = User::try_from(row.update(&txn).await?)?;
        let ended = end_user_access(&txn, scope, &user.id, None, at).await?;
        self.append_audit(&txn, scope, user_audit("user.deactivated", actor, &user, json!({"tokens_revoked": ended})))
            .await?;
        txn.commit().await?;
        Ok(user)
    }

    /// The user an unused, unexpired invitation link names (to check a
    /// password against their name and email before hashing it).
    pub async fn invited_user(&self, secret: &str) -> Result<User, StoreError> {
        let (_, user) = live_invite(&self.db, secret).await?;
        user.try_into()
    }

    /// Accepts an invitation: the user becomes `active` with this password
    /// hash and the link is spent. An unknown, used or expired link is
    /// `NotFound`.
    #[instrument(skip_all)]
    pub async fn accept_invite(&self, secret: &str, password_hash: String) -> Result<User, StoreError> {
        let txn = self.write_txn().await?;
        let (invite, before) = live_invite(&txn, secret).await?;
        let at = now();
        let spent = user_invites::Entity::update_many()
            .col_expr(user_invites::Column::UsedAt, Expr::value(at))
            .filter(user_invites::Column::Id.eq(invite.id.as_str()))
            .filter(user_invites::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            return Err(StoreError::NotFound);
        }
        let scope = TenantScope::new(before.tenant_id.clone());
        let mut row: users::ActiveModel = before.into();
        row.status = Set(UserStatus::Active);
        row.password_hash = Set(Some(password_hash));
        row.password_changed_at = Set(Some(at));
        row.updated_at = Set(at);
        let user = User::try_from(row.update(&txn).await?)?;
        let actor = user_principal(&user.id);
        self.append_audit(&txn, &scope, user_audit("user.activated", &actor, &user, json!({}))).await?;
        txn.commit().await?;
        Ok(user)
    }
}

async fn find_user<C: sea_orm::ConnectionTrait>(
    db: &C,
    scope: &TenantScope,
    id: &str,
) -> Result<users::Model, StoreError> {
    users::Entity::find_by_id(id)
        .filter(users::Column::TenantId.eq(scope.tenant_id()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

async fn insert_invite<C: sea_orm::ConnectionTrait>(
    db: &C,
    user: &User,
    at: DateTime<Utc>,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), StoreError> {
    let secret = ids::random_key(32);
    let expires_at = at + ttl;
    user_invites::ActiveModel {
        id: Set(ids::new_id()),
        tenant_id: Set(user.tenant_id.clone()),
        user_id: Set(user.id.clone()),
        token_hash: Set(TokenHash::of(&secret).as_str().to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_at: Set(at),
    }
    .insert(db)
    .await?;
    Ok((secret, expires_at))
}

async fn live_invite<C: sea_orm::ConnectionTrait>(
    db: &C,
    secret: &str,
) -> Result<(user_invites::Model, users::Model), StoreError> {
    let hash = TokenHash::of(secret);
    let invite = user_invites::Entity::find()
        .filter(user_invites::Column::TokenHash.eq(hash.as_str()))
        .one(db)
        .await?
        .filter(|i| i.used_at.is_none() && i.expires_at > now())
        .ok_or(StoreError::NotFound)?;
    let user = users::Entity::find_by_id(invite.user_id.as_str())
        .one(db)
        .await?
        .filter(|u| u.status == UserStatus::Invited)
        .ok_or(StoreError::NotFound)?;
    Ok((invite, user))
}

/// Revokes the user's tokens (all, or all but `keep`) and deletes the
/// sessions opened through them. Answers how many tokens were revoked.
pub(crate) async fn end_user_access<C: sea_orm::ConnectionTrait>(
    db: &C,
    scope: &TenantScope,
    user_id: &str,
    keep: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let owned = || {
        let mut q = api_tokens::Entity::find()
            .select_only()
            .column(api_tokens::Column::Id)
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id()))
            .filter(api_tokens::Column::PrincipalId.eq(user_principal(user_id)));
        if let Some(keep) = keep {
            q = q.filter(api_tokens::Column::Id.ne(keep));
        }
        q
    };
    let ids: Vec<String> = owned().into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    sessions::Entity::delete_many().filter(sessions::Column::TokenId.is_in(ids.clone())).exec(db).await?;
    let revoked = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(at))
        .filter(api_tokens::Column::Id.is_in(ids))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected)
}
