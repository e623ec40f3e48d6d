//! Single sign-on rules that need neither the network nor the database: a
//! tenant's OpenID Connect settings as validated, which email domains may
//! sign in, how the identity provider's claim maps to a role, and the
//! reasons a sign-in is refused (each with the code the console shows).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::user::Email;
use crate::{FieldErrors, Role};

/// Longest client id, claim name or claim value accepted.
const MAX_NAME: usize = 255;
/// Most allowed domains and role mappings.
const MAX_ENTRIES: usize = 100;

/// A tenant's SSO settings as an admin sends them (see [`SsoSettings::parse`]).
#[derive(Debug, Clone, Default)]
pub struct RawSsoSettings {
    /// The provider's issuer URL (discovery reads `<issuer>/.well-known/openid-configuration`).
    pub issuer_url: String,
    /// Weir's client id at the provider.
    pub client_id: String,
    /// Email domains that may sign in.
    pub allowed_domains: Vec<String>,
    /// Scopes requested beside `openid email profile` (e.g. `groups`).
    pub scopes: Vec<String>,
    /// The ID-token claim the role comes from (e.g. `groups`).
    pub role_claim: String,
    /// Claim value → role.
    pub role_mapping: BTreeMap<String, String>,
    /// The role when no value maps; `None` refuses such a person.
    pub default_role: Option<String>,
    /// Whether SSO is the only way in (no passwords).
    pub sso_only: bool,
    /// Accept an email the provider sends without `email_verified`.
    pub trust_unverified_email: bool,
    /// Claims the ID token must carry with these values (e.g. `hd`).
    pub required_claims: BTreeMap<String, String>,
}

/// A tenant's SSO settings, validated. The client secret is kept apart
/// (sealed) and never part of this value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    /// Exactly as the admin typed it (trimmed): discovery and the ID
    /// token's `iss` must match it to the character, trailing slash and all
    /// (Google's has none, Auth0's has one). `https://`, or `http://` to a
    /// loopback host.
    pub issuer_url: String,
    /// Weir's client id at the provider.
    pub client_id: String,
    /// Lower-cased; an email's domain must equal one of them exactly
    /// (a subdomain is another domain).
    pub allowed_domains: Vec<String>,
    /// Scopes requested beside `openid email profile`, e.g. `groups` for
    /// providers that put groups in the ID token only when asked.
    pub scopes: Vec<String>,
    /// The claim the role comes from: a string or an array of strings.
    pub role_claim: String,
    /// Claim value → role; when several values map, the highest role wins.
    pub role_mapping: BTreeMap<String, Role>,
    /// The role of a person none of whose values map; `None` refuses them.
    pub default_role: Option<Role>,
    /// Passwords (and the console's token form) refused in this tenant.
    pub sso_only: bool,
    /// An email without `email_verified` counts as verified (providers that
    /// never send the claim, e.g. Microsoft Entra ID). `email_verified:
    /// false` is refused either way.
    pub trust_unverified_email: bool,
    /// Claim → the value it must have (a string equal to it, or an array
    /// holding it), e.g. `{"hd": "acme.example"}` for Google Workspace.
    pub required_claims: BTreeMap<String, String>,
}

/// Longest issuer URL accepted.
const MAX_ISSUER: usize = 1024;

/// Checks an issuer URL; answers it as typed (trimmed).
fn issuer(raw: &str) -> Result<String, &'static str> {
    let typed = raw.trim();
    let u = url::Url::parse(typed).map_err(|_| "is not a URL")?;
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if typed.len() > MAX_ISSUER {
        return Err("must be at most 1024 bytes");
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err("must have no query, fragment or credentials");
    }
    match u.scheme() {
        "https" => Ok(typed.to_owned()),
        "http" if loopback => Ok(typed.to_owned()),
        _ => Err("must be an https URL (http only to a loopback address), e.g. https://accounts.google.com"),
    }
}

fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME && !s.chars().any(char::is_control)
}

impl SsoSettings {
    /// Checks every field at once, reporting each problem by field name.
    pub fn parse(raw: RawSsoSettings) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let issuer_url = errors.check("issuer_url", issuer(&raw.issuer_url));
        let client_id = raw.client_id.trim().to_owned();
        if !name_ok(&client_id) {
            errors.add("client_id", "must be 1–255 characters");
        }
        let mut allowed_domains = Vec::new();
        for d in &raw.allowed_domains {
            let d = d.trim().trim_start_matches('@').to_lowercase();
            if Email::parse(&format!("x@{d}")).is_err() {
                errors.add("allowed_domains", format!("{d:?} is not a domain"));
            } else if !allowed_domains.contains(&d) {
                allowed_domains.push(d);
            }
        }
        if allowed_domains.is_empty() && errors.as_map().get("allowed_domains").is_none() {
            errors.add("allowed_domains", "name at least one email domain (anyone else the provider knows is refused)");
        }
        if raw.allowed_domains.len() > MAX_ENTRIES || raw.role_mapping.len() > MAX_ENTRIES {
            errors.add("allowed_domains", "at most 100 domains and 100 role mappings");
        }
        if raw.required_claims.len() > MAX_ENTRIES
            || raw.required_claims.iter().any(|(k, v)| !name_ok(k) || !name_ok(v))
        {
            errors.add("required_claims", "at most 100 claims, each name and value 1–255 characters");
        }
        let mut scopes = Vec::new();
        for scope in &raw.scopes {
            let scope = scope.trim();
            let printable = scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
            if !name_ok(scope) || !printable {
                errors.add("scopes", format!("{scope:?} is not a scope name"));
            } else if !["openid", "email", "profile"].contains(&scope) && !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        if raw.scopes.len() > 20 {
            errors.add("scopes", "at most 20 scopes");
        }
        let role_claim = raw.role_claim.trim().to_owned();
        if !name_ok(&role_claim) {
            errors.add("role_claim", "must be 1–255 characters, e.g. groups");
        }
        let mut role_mapping = BTreeMap::new();
        for (value, role) in raw.role_mapping {
            match role.parse::<Role>() {
                Ok(r) if name_ok(&value) => {
                    role_mapping.insert(value, r);
                }
                Ok(_) => errors.add("role_mapping", "claim values must be 1–255 characters"),
                Err(e) => errors.add("role_mapping", format!("{value:?}: {e}")),
            }
        }
        let default_role = raw.default_role.as_deref().and_then(|r| errors.check("default_role", r.parse::<Role>()));
        if role_mapping.is_empty() && default_role.is_none() && raw.default_role.is_none() {
            errors.add("role_mapping", "map at least one claim value to a role, or set default_role");
        }
        let Some(issuer_url) = issuer_url.filter(|_| errors.is_empty()) else { return Err(errors) };
        Ok(Self {
            issuer_url,
            client_id,
            allowed_domains,
            scopes,
            role_claim,
            role_mapping,
            default_role,
            sso_only: raw.sso_only,
            trust_unverified_email: raw.trust_unverified_email,
            required_claims: raw.required_claims,
        })
    }

    /// Whether the ID token's claims carry every required claim value.
    pub fn required_claims_met(&self, claims: &serde_json::Map<String, Value>) -> bool {
        self.required_claims.iter().all(|(name, want)| match claims.get(name) {
            Some(Value::String(s)) => s == want,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(want)),
            _ => false,
        })
    }

    /// Whether an email with this `email_verified` may be used.
    pub fn email_trusted(&self, email_verified: Option<bool>) -> bool {
        email_verified.unwrap_or(self.trust_unverified_email)
    }

    /// Whether this email's domain may sign in.
    pub fn domain_allowed(&self, email: &Email) -> bool {
        self.allowed_domains.iter().any(|d| d == email.domain())
    }

    /// The role the ID token's claims give: the highest role any value of
    /// [`SsoSettings::role_claim`] maps to, else the default role, else
    /// `None` (refused).
    pub fn role_for(&self, claims: &serde_json::Map<String, Value>) -> Option<Role> {
        let values: Vec<&str> = match claims.get(&self.role_claim) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        values.iter().filter_map(|v| self.role_mapping.get(*v).copied()).max().or(self.default_role)
    }
}

/// Why an SSO sign-in was refused. The [`SsoRefusal::code`] travels to the
/// console (which explains it in words) and into the audit entry; nothing
/// here carries a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoRefusal {
    /// The `state` is unknown, used already or expired (a replay, or a
    /// sign-in left open too long).
    #[error("this sign-in link was used already or has expired; start again")]
    StateInvalid,
    /// The `state` was started in another browser (login CSRF).
    #[error("this sign-in was started in another browser; start again here")]
    OtherBrowser,
    /// The provider answered with an error (e.g. the person cancelled).
    #[error("the identity provider refused the sign-in: {0}")]
    ProviderError(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider could not be used: {0}")]
    ProviderUnavailable(String),
    /// The ID token failed a check: signature, `iss`, `aud`, `exp` or nonce.
    #[error("the identity provider's ID token was refused: {0}")]
    IdTokenInvalid(String),
    /// No email address (or not one).
    #[error("the identity provider sent no email address")]
    EmailMissing,
    /// `email_verified` false, or absent where the tenant does not trust that.
    #[error("the identity provider did not confirm the email address is verified")]
    EmailUnverified,
    /// A required claim is missing or has another value.
    #[error("your account does not meet this tenant's sign-in conditions ({0})")]
    ClaimMismatch(String),
    /// Another user of the tenant has the email the provider now sends.
    #[error("another account of this tenant has the email the identity provider sent; ask an admin")]
    EmailTaken,
    /// The email's domain is not one of the tenant's allowed domains.
    #[error("accounts of {0} may not sign in to this tenant")]
    DomainNotAllowed(String),
    /// None of the claim's values maps to a role, and there is no default.
    #[error("your account has no role in this tenant (ask an admin to map your group)")]
    NoRole,
    /// The email belongs to a Weir user linked to another subject at the
    /// provider (a renamed or recycled account must not take it over).
    #[error("this email belongs to a Weir account linked to another identity; ask an admin")]
    SubjectMismatch,
    /// The person's Weir account is deactivated.
    #[error("your account is deactivated")]
    Deactivated,
}

impl SsoRefusal {
    /// The stable code: the problem type is `urn:weir:problem:<code>`; the
    /// console and the audit entry carry it too.
    pub fn code(&self) -> &'static str {
        match self {
            Self::StateInvalid => "sso-state-invalid",
            Self::OtherBrowser => "sso-other-browser",
            Self::ProviderError(_) => "sso-provider-error",
            Self::ProviderUnavailable(_) => "sso-provider-unavailable",
            Self::IdTokenInvalid(_) => "sso-id-token-invalid",
            Self::EmailMissing => "sso-email-missing",
            Self::EmailUnverified => "sso-email-unverified",
            Self::ClaimMismatch(_) => "sso-claim-mismatch",
            Self::EmailTaken => "sso-email-taken",
            Self::DomainNotAllowed(_) => "sso-domain-not-allowed",
            Self::NoRole => "sso-no-role",
            Self::SubjectMismatch => "sso-subject-mismatch",
            Self::Deactivated => "sso-deactivated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSsoSettings {
        RawSsoSettings {
            issuer_url: "https://idp.example".into(),
            client_id: "weir".into(),
            allowed_domains: vec!["Acme.Example".into(), "@acme.example".into()],
            scopes: vec!["groups".into(), "openid".into()],
            role_claim: "groups".into(),
            role_mapping: [("weir-admins".to_owned(), "admin".to_owned()), ("ops".to_owned(), "operator".to_owned())]
                .into(),
            default_role: None,
            sso_only: false,
            trust_unverified_email: false,
            required_claims: [("hd".to_owned(), "acme.example".to_owned())].into(),
        }
    }

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn domains_are_lower_cased_deduplicated_and_matched_exactly() {
        let s = SsoSettings::parse(raw()).unwrap();
        assert_eq!(s.allowed_domains, vec!["acme.example"]);
        assert_eq!(s.scopes, vec!["groups"]);
        assert!(s.domain_allowed(&Email::parse("Ann@ACME.example").unwrap()));
        assert!(!s.domain_allowed(&Email::parse("ann@eu.acme.example").unwrap()));
        assert!(!s.domain_allowed(&Email::parse("ann@acme.example.evil").unwrap()));
    }

    #[test]
    fn the_highest_mapped_role_wins_then_the_default() {
        let mut s = SsoSettings::parse(raw()).unwrap();
        assert_eq!(s.role_for(&claims(serde_json::json!({"groups": ["ops", "weir-admins"]}))), Some(Role::Admin));
        assert_eq!(s.role_for(&claims(serde_json::json!({"groups": "ops"}))), Some(Role::Operator));
        assert_eq!(s.role_for(&claims(serde_json::json!({"groups": ["staff", 7]}))), None);
        assert_eq!(s.role_for(&claims(serde_json::json!({}))), None);
        s.default_role = Some(Role::Viewer);
        assert_eq!(s.role_for(&claims(serde_json::json!({"groups": ["staff"]}))), Some(Role::Viewer));
    }

    #[test]
    fn the_issuer_is_kept_as_typed_and_must_be_https_or_loopback() {
        let with = |url: &str| SsoSettings::parse(RawSsoSettings { issuer_url: url.into(), ..raw() });
        assert_eq!(with(" https://acme.auth0.com/ ").unwrap().issuer_url, "https://acme.auth0.com/");
        assert_eq!(with("https://accounts.google.com").unwrap().issuer_url, "https://accounts.google.com");
        assert!(with("http://127.0.0.1:9000").is_ok());
        for bad in
            ["http://idp.example", "https://u:p@idp.example", "https://idp.example/#x", "https://idp.example/?a=1"]
        {
            assert!(with(bad).unwrap_err().as_map().contains_key("issuer_url"), "{bad}");
        }
    }

    #[test]
    fn required_claims_and_unverified_emails() {
        let mut s = SsoSettings::parse(raw()).unwrap();
        assert!(s.required_claims_met(&claims(serde_json::json!({"hd": "acme.example"}))));
        assert!(!s.required_claims_met(&claims(serde_json::json!({"hd": "gmail.com"}))));
        assert!(!s.required_claims_met(&claims(serde_json::json!({}))));
        assert!(s.email_trusted(Some(true)) && !s.email_trusted(None) && !s.email_trusted(Some(false)));
        s.trust_unverified_email = true;
        assert!(s.email_trusted(None) && !s.email_trusted(Some(false)));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = RawSsoSettings {
            issuer_url: "ftp://idp".into(),
            client_id: String::new(),
            allowed_domains: vec![],
            scopes: vec!["bad scope".into()],
            role_claim: String::new(),
            role_mapping: [("x".to_owned(), "root".to_owned())].into(),
            default_role: Some("king".into()),
            sso_only: true,
            trust_unverified_email: false,
            required_claims: BTreeMap::new(),
        };
        let errors = SsoSettings::parse(bad).unwrap_err();
        for field in
            ["issuer_url", "client_id", "allowed_domains", "scopes", "role_claim", "role_mapping", "default_role"]
        {
            assert!(errors.as_map().contains_key(field), "{field}: {errors:?}");
        }
    }
}
