//! Installation-wide state: the master key check.

use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use weir_core::MasterKey;

use super::now;
use crate::entities::instance_settings;
use crate::{Store, StoreError};

const KEY_CHECK: &str = "master_key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"weir master key check v1";

/// What the stored check says about a master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeyCheck {
    /// No sealed data yet: the key is now recorded as this installation's.
    FirstUse,
    /// The key is the one that sealed the existing data.
    Matches,
    /// The key is not the one that sealed the existing data.
    Mismatch,
}

impl Store {
    /// Whether data sealed under some master key exists.
    pub async fn has_sealed_data(&self) -> Result<bool, StoreError> {
        Ok(instance_settings::Entity::find_by_id(KEY_CHECK.to_owned()).one(&self.db).await?.is_some())
    }

    /// Compares `key` with the installation's key; records it on first use.
    pub async fn check_master_key(&self, key: &MasterKey) -> Result<MasterKeyCheck, StoreError> {
        if let Some(row) = instance_settings::Entity::find_by_id(KEY_CHECK.to_owned()).one(&self.db).await? {
            return Ok(match key.open(&row.value) {
                Ok(v) if v == KEY_CHECK_PLAINTEXT => MasterKeyCheck::Matches,
                _ => MasterKeyCheck::Mismatch,
            });
        }
        let sealed = key.seal(KEY_CHECK_PLAINTEXT).map_err(|e| StoreError::Sealing(e.to_string()))?;
        let inserted = instance_settings::ActiveModel {
            name: Set(KEY_CHECK.to_owned()),
            value: Set(sealed),
            created_at: Set(now()),
        }
        .insert(&self.db)
        .await;
        match inserted {
            Ok(_) => Ok(MasterKeyCheck::FirstUse),
            // Another instance recorded its key at the same moment: compare.
            Err(_) => Box::pin(self.check_master_key(key)).await,
        }
    }
}
