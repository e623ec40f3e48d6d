//! OpenID Connect sign-in at a tenant's identity provider, with the
//! `openidconnect` crate: discovery, the authorization code flow with PKCE,
//! state and nonce, and ID-token validation (signature against the
//! provider's JWKS, `iss`, `aud`, `exp`, nonce). The crate's HTTP calls go
//! through Weir's own outbound client ([`Outbound`]), so the private-address
//! guard, the proxy setting and the response cap apply to them as to every
//! partner request, and there is one HTTP stack in the binary.
//!
//! Provider metadata (with its keys) is cached for [`METADATA_TTL`]; an ID
//! token signed with a key the cache does not know is checked once more
//! against freshly fetched keys (the provider rotated them). Discovery is
//! work strangers can cause (the public start route), so it is budgeted: a
//! failed discovery is remembered for [`FAILURE_TTL`], and at most
//! [`DISCOVERIES_AT_ONCE`] run at a time (callers waiting for one find its
//! result in the cache).

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenClaims,
    IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde_json::{Map, Value};
use weir_core::sso::SsoRefusal;

use crate::outbound::{Outbound, ReadError};

/// How long discovered provider metadata is reused.
pub const METADATA_TTL: Duration = Duration::from_secs(300);
/// How long a failed discovery is answered from memory.
pub const FAILURE_TTL: Duration = Duration::from_secs(30);
/// Discoveries in flight at once, across tenants.
pub const DISCOVERIES_AT_ONCE: usize = 4;
/// Longest `sub` accepted (OpenID Connect Core: at most 255 ASCII characters).
const MAX_SUBJECT: usize = 255;
/// The longest one call to the provider may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Every claim of the ID token beyond the standard ones (the role claim,
/// e.g. `groups`, is among them).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct ExtraClaims {
    /// The claims by name.
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl AdditionalClaims for ExtraClaims {}

type IdFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcTokenResponse = StandardTokenResponse<IdFields, CoreTokenType>;
type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    OidcTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A tenant's provider, as one sign-in uses it.
#[derive(Clone, Copy)]
pub struct ProviderRef<'a> {
    /// The issuer exactly as configured (also what `iss` must be).
    pub issuer: &'a str,
    /// Weir's client id (what `aud` must hold).
    pub client_id: &'a str,
    /// The client secret (opened from its seal for the code exchange only;
    /// `None` to build the authorization URL, which needs none).
    pub client_secret: Option<&'a str>,
    /// Scopes beside `openid email profile`.
    pub scopes: &'a [String],
}

impl std::fmt::Debug for ProviderRef<'_> {
    // Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRef").field("issuer", &self.issuer).field("client_id", &self.client_id).finish()
    }
}

/// Where to send the browser, and what to keep until it comes back.
pub struct Authorization {
    /// The provider's authorization URL with every parameter.
    pub url: url::Url,
    /// The `state` sent (random, 128 bits).
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier (its S256 challenge was sent).
    pub pkce_verifier: String,
}

impl std::fmt::Debug for Authorization {
    // Never the state, nonce or verifier.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization").finish_non_exhaustive()
    }
}

/// A person the provider vouched for: the ID token passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email`, if sent.
    pub email: Option<String>,
    /// `email_verified`, if sent.
    pub email_verified: Option<bool>,
    /// `name`, if sent.
    pub name: Option<String>,
    /// Every other claim (for the role mapping).
    pub claims: Map<String, Value>,
}

/// Why a call to the provider failed (kept apart from what the person sees).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The outbound guard refused the address.
    #[error("{0}")]
    Blocked(&'static str),
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Transport(#[from] reqwest::Error),
    /// The answer was too long.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// The request or answer could not be carried over.
    #[error("{0}")]
    Shape(String),
}

/// OpenID Connect sign-ins over the shared outbound client.
#[derive(Clone)]
pub struct Sso {
    outbound: Outbound,
    metadata: moka::sync::Cache<String, Arc<CoreProviderMetadata>>,
    failures: moka::sync::Cache<String, String>,
    discovering: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso").field("cached_providers", &self.metadata.entry_count()).finish()
    }
}

/// Sends one of the crate's requests through Weir's outbound client.
async fn call(outbound: Outbound, request: HttpRequest) -> Result<HttpResponse, CallError> {
    let url = url::Url::parse(&request.uri().to_string()).map_err(|e| CallError::Shape(e.to_string()))?;
    outbound.guard(&url).await.map_err(CallError::Blocked)?;
    let (parts, body) = request.into_parts();
    let sent = outbound
        .client()
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .timeout(CALL_TIMEOUT)
        .send()
        .await?;
    let status = sent.status();
    let headers = sent.headers().clone();
    let body = outbound.read_capped(sent).await?;
    let mut response = HttpResponse::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

fn unavailable(e: impl std::fmt::Display) -> SsoRefusal {
    SsoRefusal::ProviderUnavailable(e.to_string())
}

/// An error with its causes (the crate's outer messages say little alone).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    message
}

impl Sso {
    /// Sign-ins over `outbound`.
    pub fn new(outbound: Outbound) -> Self {
        let metadata = moka::sync::Cache::builder().max_capacity(1_000).time_to_live(METADATA_TTL).build();
        let failures = moka::sync::Cache::builder().max_capacity(1_000).time_to_live(FAILURE_TTL).build();
        Self { outbound, metadata, failures, discovering: Arc::new(tokio::sync::Semaphore::new(DISCOVERIES_AT_ONCE)) }
    }

    fn http(&self) -> impl Fn(HttpRequest) -> futures::future::BoxFuture<'static, Result<HttpResponse, CallError>> {
        let outbound = self.outbound.clone();
        move |request| Box::pin(call(outbound.clone(), request))
    }

    /// The provider's metadata: cached, else discovered (see the module
    /// for the budget). `fresh` skips the cache (rotated keys).
    async fn provider(&self, issuer: &str, fresh: bool) -> Result<Arc<CoreProviderMetadata>, SsoRefusal> {
        let key = issuer.to_owned();
        let cached = |me: &Self| -> Option<Result<Arc<CoreProviderMetadata>, SsoRefusal>> {
            if let Some(failed) = me.failures.get(&key) {
                return Some(Err(SsoRefusal::ProviderUnavailable(failed)));
            }
            if fresh { None } else { me.metadata.get(&key).map(Ok) }
        };
        if let Some(hit) = cached(self) {
            return hit;
        }
        let _permit = self.discovering.acquire().await.map_err(unavailable)?;
        if let Some(hit) = cached(self) {
            return hit;
        }
        let issuer_url = IssuerUrl::new(key.clone()).map_err(unavailable)?;
        match CoreProviderMetadata::discover_async(issuer_url, &self.http()).await {
            Ok(found) => {
                let found = Arc::new(found);
                self.metadata.insert(key, found.clone());
                Ok(found)
            }
            Err(e) => {
                let message = with_causes(&e);
                self.failures.insert(key, message.clone());
                Err(SsoRefusal::ProviderUnavailable(message))
            }
        }
    }

    /// Forgets what is cached about `issuer` (its settings were just saved:
    /// discover it afresh).
    pub fn forget(&self, issuer: &str) {
        self.metadata.invalidate(issuer);
        self.failures.invalidate(issuer);
    }

    fn client(meta: &CoreProviderMetadata, p: ProviderRef<'_>, redirect: &url::Url) -> Result<OidcClient, SsoRefusal> {
        let redirect = RedirectUrl::new(redirect.as_str().to_owned()).map_err(unavailable)?;
        Ok(OidcClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(p.client_id.to_owned()),
            p.client_secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// The first leg: where to send the browser (fresh state, nonce and
    /// PKCE pair; `openid email profile` and the configured scopes).
    pub async fn authorize(&self, p: ProviderRef<'_>, redirect: &url::Url) -> Result<Authorization, SsoRefusal> {
        let meta = self.provider(p.issuer, false).await?;
        let client = Self::client(&meta, p, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in ["email", "profile"].into_iter().chain(p.scopes.iter().map(String::as_str)) {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// The second leg: exchanges `code` (with the PKCE verifier) and
    /// validates the ID token against `nonce`.
    pub async fn finish(
        &self,
        p: ProviderRef<'_>,
        redirect: &url::Url,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<VerifiedIdentity, SsoRefusal> {
        let meta = self.provider(p.issuer, false).await?;
        let client = Self::client(&meta, p, redirect)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(unavailable)?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http())
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => SsoRefusal::ProviderError(r.error().to_string()),
                other => SsoRefusal::ProviderUnavailable(with_causes(&other)),
            })?;
        let id_token =
            token.id_token().ok_or_else(|| SsoRefusal::IdTokenInvalid("the token response has no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps rotated keys: once more against fresh metadata.
                let meta = self.provider(p.issuer, true).await?;
                let client = Self::client(&meta, p, redirect)?;
                id_token.claims(&client.id_token_verifier(), &nonce).map_err(refused)?.clone()
            }
            Err(e) => return Err(refused(e)),
        };
        if claims.subject().as_str().len() > MAX_SUBJECT {
            return Err(SsoRefusal::IdTokenInvalid("its subject (sub) is longer than 255 characters".into()));
        }
        Ok(identity(claims))
    }
}

fn refused(e: openidconnect::ClaimsVerificationError) -> SsoRefusal {
    use openidconnect::ClaimsVerificationError as E;
    let what = match &e {
        E::Expired(_) => "it has expired (exp)",
        E::InvalidAudience(_) => "it was issued to another client (aud)",
        E::InvalidIssuer(_) => "it comes from another issuer (iss)",
        E::InvalidNonce(_) => "its nonce does not match this sign-in",
        E::SignatureVerification(_) => "its signature does not verify against the provider's keys",
        _ => "it did not pass validation",
    };
    tracing::info!(error = %e, "ID token refused");
    SsoRefusal::IdTokenInvalid(what.to_owned())
}

fn identity(claims: IdTokenClaims<ExtraClaims, CoreGenderClaim>) -> VerifiedIdentity {
    VerifiedIdentity {
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        claims: claims.additional_claims().claims.clone(),
    }
}
