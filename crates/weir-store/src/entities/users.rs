//! `users`: a tenant's people. `email_key` (lower-cased) is unique per
//! tenant; `password_hash` is an Argon2id PHC string, absent until the
//! invitation is accepted.

use sea_orm::entity::prelude::*;
use weir_core::UserStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub email_key: String,
    pub name: String,
    pub role: String,
    pub status: UserStatus,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<DateTimeUtc>,
    pub last_sign_in_at: Option<DateTimeUtc>,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub mfa_secret_sealed: Option<Vec<u8>>,
    pub mfa_pending_sealed: Option<Vec<u8>>,
    pub mfa_enabled_at: Option<DateTimeUtc>,
    pub mfa_last_step: Option<i64>,
    pub sso_subject: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::tenants::Entity", from = "Column::TenantId", to = "super::tenants::Column::Id")]
    Tenant,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
