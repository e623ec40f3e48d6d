//! A real OpenID Connect provider for the SSO tests: panva's `oidc-provider`
//! (npm), run with node from `tests/oidc/provider.mjs`. When its packages
//! are missing they are installed there with `npm ci` from the npm registry
//! (pinned by `package-lock.json`), as `.ci/run` does. Each test starts its
//! own provider on an ephemeral loopback port; it stops when dropped.
//!
//! Its people (login → email, groups; all with `hd: acme.example` but Eve):
//! `ann` → ann@acme.example, `weir-admins`; `olga` → olga@acme.example,
//! `weir-operators`; `nina` → nina@acme.example, no group; `eve` →
//! eve@elsewhere.example, `weir-admins`; `pia` → pia@acme.example,
//! `weir-admins`, **without** `email_verified` (as Entra ID sends it).
//! Each one's password is `<login>-idp-password`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Weir's client at the provider.
pub const CLIENT_ID: &str = "weir-console";
/// Its secret.
pub const CLIENT_SECRET: &str = "provider-client-secret-7f3a9c";

/// The password of `login` at the provider.
pub fn password_of(login: &str) -> String {
    format!("{login}-idp-password")
}

fn dir() -> PathBuf {
    crate::npm::dir("oidc")
}

async fn ensure_installed() {
    crate::npm::ensure("oidc", "oidc-provider").await;
}

fn accounts() -> Value {
    let person = |login: &str, email: &str, name: &str, groups: &[&str]| {
        let hd = email.ends_with("@acme.example").then_some("acme.example");
        let body = json!({"password": password_of(login), "email": email, "name": name, "groups": groups, "hd": hd});
        (login.to_owned(), body)
    };
    let mut unverified = person("pia", "pia@acme.example", "Pia Quist", &["weir-admins"]);
    unverified.1["email_verified"] = Value::Null;
    Value::Object(
        [
            person("ann", "ann@acme.example", "Ann Lee", &["staff", "weir-admins"]),
            person("olga", "olga@acme.example", "Olga Berg", &["weir-operators"]),
            person("nina", "nina@acme.example", "Nina Roy", &[]),
            person("eve", "eve@elsewhere.example", "Eve Stone", &["weir-admins"]),
            unverified,
        ]
        .into_iter()
        .collect(),
    )
}

/// A running provider.
pub struct Idp {
    child: Child,
    /// Its issuer URL (`http://127.0.0.1:<port>`).
    pub issuer: String,
}

impl Idp {
    /// Starts a provider whose one client may return to `redirect_uri`.
    pub async fn start(redirect_uri: &str) -> Idp {
        ensure_installed().await;
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir())
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .env("ACCOUNTS", accounts().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node (node 20 is needed for the SSO tests)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("provider output") {
                if let Some(port) = line.strip_prefix("LISTENING ") {
                    return port.trim().to_owned();
                }
            }
            panic!("the provider exited before listening");
        })
        .await
        .expect("the provider did not start within 30 s");
        // Keep reading: the provider logs notices to stdout and dies of EPIPE if no one listens.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Idp { child, issuer: format!("http://127.0.0.1:{port}") }
    }

    /// Makes the next ID token the provider issues carry these claims
    /// instead (re-signed with its own key: the signature stays valid).
    pub async fn override_next_id_token(&self, claims: Value) {
        let res = reqwest::Client::new()
            .post(format!("{}/__test/next-id-token", self.issuer))
            .json(&claims)
            .send()
            .await
            .expect("provider control");
        assert_eq!(res.status().as_u16(), 204);
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
