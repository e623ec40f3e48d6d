//! Inbound webhooks: how a receiver authenticates requests
//! ([`ReceiverAuth`], parsed from the receiver's `auth`), the verification
//! adapters behind one trait ([`SignatureVerifier`], PAT-002) that run over
//! the raw body bytes before any JSON parsing, and the rules that pick a
//! delivery's event type and provider event id.

mod auth;
mod extract;
pub mod ingest_plan;
mod refusal;
pub mod sign;
mod verify;

pub use auth::{HmacEncoding, ReceiverAuth, ReceiverMethod, generate_secret, key_material};
pub use extract::{event_type_of, provider_event_id};
pub use refusal::{AcceptedOutcome, RefusalReason};
pub use verify::{Inbound, SignatureVerifier, VerifyError, verifier_for};

/// Header lookup by lowercase name.
pub trait Headers {
    /// The first value of `name` (lowercase), if present and valid text.
    fn get(&self, name: &str) -> Option<&str>;
}

impl Headers for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

impl Headers for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Headers for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Headers::get(self.as_slice(), name)
    }
}

impl<const N: usize> Headers for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        Headers::get(self.as_slice(), name)
    }
}
