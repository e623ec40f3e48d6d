//! Naming people: which user stands behind an actor of an audit entry or a
//! change request (`Ann Lee <ann@acme.example>`).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::{api_tokens, users};
use crate::{Store, StoreError, TenantScope};

impl Store {
    /// How to name each of `actors` — token ids (as change requests store
    /// them), `token:<id>` or `user:<id>` (as audit entries do): the person
    /// behind it, `Ann Lee <ann@acme.example>`, or for a token of no user
    /// the token's name, `token “ci deploy”`. Actors with no name (the
    /// system, the workers) are left out.
    pub async fn person_labels(
        &self,
        scope: &TenantScope,
        actors: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        // A bare id (as change requests store them) or `token:<id>`; other
        // actor kinds (`user:`, `receiver:`, `worker`) are not tokens.
        let token_of = |a: &str| match a.strip_prefix("token:") {
            Some(id) => Some(id.to_owned()),
            None => (!a.contains(':') && weir_core::ids::is_valid_id(a)).then(|| a.to_owned()),
        };
        let token_ids: Vec<String> = actors.iter().filter_map(|a| token_of(a)).collect();
        let owners: Vec<(String, Option<String>, String)> = if token_ids.is_empty() {
            Vec::new()
        } else {
            api_tokens::Entity::find()
                .select_only()
                .columns([api_tokens::Column::Id, api_tokens::Column::PrincipalId, api_tokens::Column::Name])
                .filter(api_tokens::Column::TenantId.eq(scope.tenant_id()))
                .filter(api_tokens::Column::Id.is_in(token_ids))
                .into_tuple()
                .all(&self.db)
                .await?
        };
        let owner_of: std::collections::HashMap<String, String> = owners
            .iter()
            .filter_map(|(t, p, _)| Some((t.clone(), p.as_deref()?.strip_prefix("user:")?.to_owned())))
            .collect();
        let token_names: std::collections::HashMap<String, String> = owners
            .into_iter()
            .filter(|(t, _, _)| !owner_of.contains_key(t))
            .map(|(t, _, name)| (t, format!("token “{name}”")))
            .collect();
        let token_label = |a: &str| token_names.get(a.trim_start_matches("token:")).cloned();
        let user_of = |a: &str| match a.strip_prefix("user:") {
            Some(u) => Some(u.to_owned()),
            None => owner_of.get(a.trim_start_matches("token:")).cloned(),
        };
        let user_ids: Vec<String> = actors.iter().filter_map(|a| user_of(a)).collect();
        let people: std::collections::HashMap<String, String> = if user_ids.is_empty() {
            Default::default()
        } else {
            users::Entity::find()
                .filter(users::Column::TenantId.eq(scope.tenant_id()))
                .filter(users::Column::Id.is_in(user_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|u| (u.id, format!("{} <{}>", u.name, u.email)))
                .collect()
        };
        let label = |a: &str| user_of(a).and_then(|u| people.get(&u).cloned()).or_else(|| token_label(a));
        Ok(actors.iter().filter_map(|a| Some(((*a).to_owned(), label(a)?))).collect())
    }
}

impl Store {
    /// The principal who invited the user (`user:<id>`, or the root of the
    /// inviting token's chain); `None` when the system or the CLI did.
    pub async fn inviter_principal(&self, scope: &TenantScope, user_id: &str) -> Result<Option<String>, StoreError> {
        let user = users::Entity::find_by_id(user_id)
            .filter(users::Column::TenantId.eq(scope.tenant_id()))
            .one(&self.db)
            .await?;
        let Some(by) = user.and_then(|u| u.created_by) else { return Ok(None) };
        if by.starts_with("user:") {
            return Ok(Some(by));
        }
        match by.strip_prefix("token:") {
            Some(token) => Ok(Some(self.token_principal(scope, token).await?)),
            None => Ok(None),
        }
    }
}
