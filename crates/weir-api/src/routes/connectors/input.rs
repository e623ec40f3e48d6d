//! Checks of connector bodies and list filters, turning them into what
//! the store writes, and the sealing and opening of credentials with the
//! master key.

use weir_core::tenant::parse_display_name;
use weir_core::{
    AuthType, ConnectorCode, ConnectorConfig, ConnectorType, Credentials, Environment, FieldErrors, MasterKey,
};
use weir_store::{Connector, ConnectorChanges, ConnectorFilter, NewConnector, SealedCredentials};

use super::types::{ConnectorIn, ConnectorPatch, ConnectorQuery};
use crate::extract::PageParams;
use crate::problem::ApiError;

/// Largest accepted `rate_limit_per_minute`.
const MAX_RATE_LIMIT: u32 = 1_000_000;
/// Seals credentials (none → nothing stored).
fn seal(key: &MasterKey, creds: &Credentials) -> Result<Option<SealedCredentials>, ApiError> {
    if creds.is_none() {
        return Ok(None);
    }
    key.seal(&creds.to_bytes()).map(|b| Some(SealedCredentials(b))).map_err(|e| ApiError::Internal(Box::new(e)))
}

/// Opens a connector's sealed credentials.
pub(crate) fn open(key: &MasterKey, sealed: Option<&SealedCredentials>) -> Result<Credentials, ApiError> {
    let Some(sealed) = sealed else { return Ok(Credentials::None) };
    let bytes = key.open(&sealed.0).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Credentials::from_bytes(&bytes).ok_or_else(|| ApiError::Internal("stored credentials are malformed".into()))
}

/// The stored configuration, re-parsed (it was valid when written).
pub(crate) fn stored_config(c: &Connector) -> Result<ConnectorConfig, ApiError> {
    ConnectorConfig::parse(c.connector_type, Some(&c.config))
        .map_err(|e| ApiError::Internal(format!("stored config of connector {} is invalid: {e:?}", c.id).into()))
}

fn check_rate_limit(errors: &mut FieldErrors, v: Option<u32>) {
    if v.is_some_and(|v| v > MAX_RATE_LIMIT) {
        errors.add("rate_limit_per_minute", format!("must be between 0 and {MAX_RATE_LIMIT}"));
    }
}

impl ConnectorIn {
    pub(super) fn parse(self, key: &MasterKey) -> Result<NewConnector, ApiError> {
        let mut errors = FieldErrors::new();
        let code = errors.check("code", ConnectorCode::parse(&self.code));
        let name = errors.check("name", parse_display_name(&self.name, 200));
        let kind = errors.check("type", self.connector_type.parse::<ConnectorType>());
        let environment = errors.check(
            "environment",
            self.environment.as_deref().unwrap_or(Environment::Production.as_str()).parse::<Environment>(),
        );
        check_rate_limit(&mut errors, self.rate_limit_per_minute);
        let mut config = None;
        let mut credentials = None;
        if let Some(kind) = kind {
            match ConnectorConfig::parse(kind, self.config.as_ref()) {
                Ok(c) => {
                    match Credentials::parse(c.auth_type(), self.credentials.as_ref()) {
                        Ok(cr) => credentials = Some(cr),
                        Err(e) => errors.merge(e),
                    }
                    config = Some(c);
                }
                Err(e) => errors.merge(e),
            }
        }
        match (code, name, kind, environment, config, credentials) {
            (Some(code), Some(name), Some(kind), Some(environment), Some(config), Some(creds)) if errors.is_empty() => {
                Ok(NewConnector {
                    code,
                    name,
                    connector_type: kind,
                    environment,
                    is_active: self.is_active.unwrap_or(true),
                    config,
                    credentials: seal(key, &creds)?,
                    rate_limit_per_minute: self.rate_limit_per_minute,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

impl ConnectorPatch {
    /// Validates against the connector as it is now. Credentials must fit
    /// the (possibly new) auth type.
    pub(super) fn parse(
        self,
        current: &Connector,
        stored_creds: Option<&SealedCredentials>,
        key: &MasterKey,
    ) -> Result<ConnectorChanges, ApiError> {
        let mut errors = FieldErrors::new();
        let mut changes = ConnectorChanges {
            name: self.name.as_deref().and_then(|n| errors.check("name", parse_display_name(n, 200))),
            environment: self
                .environment
                .as_deref()
                .and_then(|e| errors.check("environment", e.parse::<Environment>())),
            is_active: self.is_active,
            rate_limit_per_minute: self.rate_limit_per_minute,
            ..Default::default()
        };
        check_rate_limit(&mut errors, self.rate_limit_per_minute.flatten());
        let current_config = stored_config(current)?;
        let new_config = match &self.config {
            Some(raw) => match ConnectorConfig::parse(current.connector_type, Some(raw)) {
                Ok(c) => Some(c),
                Err(e) => return Err(ApiError::Validation(e)),
            },
            None => None,
        };
        let auth = new_config.as_ref().unwrap_or(&current_config).auth_type();
        changes.credentials = match self.credentials {
            Some(Some(raw)) => {
                let creds = Credentials::parse(auth, Some(&raw)).map_err(ApiError::Validation)?;
                Some(seal(key, &creds)?)
            }
            Some(None) if auth != AuthType::None => {
                errors.add("credentials", format!("auth type {auth} needs credentials; they cannot be cleared"));
                None
            }
            Some(None) => Some(None),
            None if auth != current_config.auth_type() => {
                // The auth type changes: the stored credentials must still fit.
                let existing = open(key, stored_creds)?;
                if auth == AuthType::None {
                    Some(None)
                } else if existing.auth_type() != auth {
                    errors.add("credentials", format!("auth type {auth} needs new credentials"));
                    None
                } else {
                    None
                }
            }
            None => None,
        };
        changes.config = new_config;
        errors.into_result().map_err(ApiError::Validation)?;
        Ok(changes)
    }
}

impl ConnectorQuery {
    pub(super) fn parse(&self) -> Result<(ConnectorFilter, weir_core::PageRequest), ApiError> {
        let mut errors = FieldErrors::new();
        let is_active = match self.status.as_deref() {
            None => None,
            Some("active") => Some(true),
            Some("inactive") => Some(false),
            Some(_) => {
                errors.add("status", "must be active or inactive");
                None
            }
        };
        let connector_type =
            self.connector_type.as_deref().and_then(|t| errors.check("type", t.parse::<ConnectorType>()));
        if self.q.as_ref().is_some_and(|q| q.len() > 200) {
            errors.add("q", "must be at most 200 characters");
        }
        errors.into_result().map_err(ApiError::Validation)?;
        let page = PageParams { page: self.page, per_page: self.per_page }.parse()?;
        Ok((ConnectorFilter { is_active, connector_type, q: self.q.clone() }, page))
    }
}
