//! `tenant_sso`: a tenant's OpenID Connect provider (client secret sealed;
//! domains, scopes and role mapping as JSON text).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_sso")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret_sealed: Vec<u8>,
    pub allowed_domains: String,
    pub scopes: String,
    pub role_claim: String,
    pub role_mapping: String,
    pub default_role: Option<String>,
    pub sso_only: bool,
    pub trust_unverified_email: bool,
    pub required_claims: String,
    pub updated_by: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
