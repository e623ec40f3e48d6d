//! "Sign in with SSO" through the real console in headless Chromium
//! (issue 19): from the tenant's sign-in link to the identity provider's
//! own login page (a real `oidc-provider`) and back, signed in with the role
//! the person's group maps to, by keyboard; ID tokens with a wrong `aud`, an
//! expired `exp` or a bad nonce, and a person of a domain the tenant does
//! not allow, come back refused, in words; an SSO-only tenant shows no
//! password form; all of it fits a 390 px phone.
//!
//! SQLite only: these test the pages (the API suite covers both backends).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::chrome::{Chrome, Page, click, eval, shot, until, until_after_load};
use crate::helpers::{Backend, TestApp};
use crate::sso::oidc::{Idp, password_of};
use crate::sso::settings_for;

/// Clicks "Sign in with SSO to …" once it is there (found and clicked in one
/// step in the page: the sign-in page may be drawn again meanwhile).
async fn start_sso(page: &Page) {
    let js = "(() => { const b = document.querySelector('#sso-start'); if (b) b.click(); return !!b; })()";
    until(page, js, "the SSO button").await;
}

/// At the provider's login page: types the login and password, submits by keyboard.
async fn sign_in_at_provider(page: &Page, idp: &Idp, login: &str) {
    let at_provider = format!("location.href.startsWith('{}') && !!document.querySelector('#login')", idp.issuer);
    until_after_load(page, &at_provider, "the provider's login page").await;
    page.find_element("#login").await.unwrap().click().await.unwrap().type_str(login).await.unwrap();
    let password = page.find_element("#password").await.unwrap().click().await.unwrap();
    password.type_str(&password_of(login)).await.unwrap().press_key("Enter").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_sso_through_the_console() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let idp = Idp::start(&app.url("/api/v1/sso/acme/callback")).await;
    let (s, out) = app.call(Method::PUT, "/api/v1/settings/sso", Some(&admin), Some(settings_for(&idp))).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let link = out["data"]["sign_in_url"].as_str().unwrap().to_owned();

    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url(&link)).await;
    let button = until(&page, "document.querySelector('#sso-start')?.textContent", "the SSO button").await;
    assert_eq!(button, "Sign in with SSO to acme");
    shot(&page, "23-sign-in-with-sso").await;
    // By keyboard: focus the button, press Enter.
    eval(&page, "document.querySelector('#sso-start').focus()").await;
    page.find_element("#sso-start").await.unwrap().press_key("Enter").await.unwrap();
    sign_in_at_provider(&page, &idp, "ann").await;
    let role = until_after_load(
        &page,
        "document.querySelector('#tenant-role')?.textContent.includes('Ann Lee') && document.querySelector('#tenant-role').textContent",
        "Ann signed in, named in the header",
    )
    .await;
    assert_eq!(role, "Ann Lee · admin", "the role her group maps to");
    until(
        &page,
        "location.hash === '#/overview' && !!document.querySelector('[data-testid=summary-total_connectors]')",
        "the overview",
    )
    .await;
    assert_eq!(eval(&page, "document.getElementById('nav-users').hidden").await, false, "an admin sees Users");
    shot(&page, "24-signed-in-with-sso").await;

    // Signed out, the console remembers the tenant. ID tokens that fail a
    // check (the provider still knows Ann, so it answers at once) are refused.
    click(&page, "#signout").await;
    let now = chrono::Utc::now().timestamp();
    for claims in [json!({"aud": "someone-else"}), json!({"exp": now - 600, "iat": now - 1200}), json!({"nonce": "x"})]
    {
        until(&page, "!!document.querySelector('#sso-start')", "the SSO button again").await;
        idp.override_next_id_token(claims.clone()).await;
        // The last refusal's words go, so only the new page's can be seen.
        eval(&page, "document.querySelector('#sso-error') && (document.querySelector('#sso-error').textContent = '')")
            .await;
        start_sso(&page).await;
        let refused = until_after_load(
            &page,
            "location.hash === '#/signin' && document.querySelector('#sso-error')?.textContent",
            "the refusal",
        )
        .await;
        assert!(refused.as_str().unwrap().contains("failed Weir's checks"), "{claims}: {refused}");
        assert_eq!(eval(&page, "!!document.querySelector('#tenant-role')?.offsetParent").await, false, "not signed in");
    }
    // Eve's domain is refused in words.
    eval(&page, "location.reload()").await;
    until_after_load(&page, "!!document.querySelector('#sso-start')", "the SSO button again").await;
    page.clear_cookies().await; // the provider would otherwise remember Ann
    start_sso(&page).await;
    sign_in_at_provider(&page, &idp, "eve").await;
    let refused = until_after_load(&page, "document.querySelector('#sso-error')?.textContent", "the refusal").await;
    assert!(refused.as_str().unwrap().contains("email domain may not sign in"), "{refused}");
    assert_eq!(eval(&page, "location.hash").await, "#/signin");
    shot(&page, "25-sso-refused").await;

    // SSO only: no password form; it fits a phone.
    let mut only = settings_for(&idp);
    only["sso_only"] = json!(true);
    let (s, out) = app.call(Method::PUT, "/api/v1/settings/sso", Some(&admin), Some(only)).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    page.set_viewport(390, 844, 2.0, true).await;
    eval(&page, "location.reload()").await;
    let notice =
        until_after_load(&page, "document.querySelector('#signin-notice')?.textContent", "the SSO-only notice").await;
    assert_eq!(notice, "acme signs in with single sign-on only.");
    assert_eq!(eval(&page, "document.querySelector('#password-form').hidden").await, true);
    assert_eq!(eval(&page, "document.activeElement?.id").await, "sso-start", "the button has the focus");
    let wide = eval(&page, "document.documentElement.scrollWidth").await;
    assert!(wide.as_u64().unwrap() <= 390, "no sideways scrolling at 390 px: {wide}");
    shot(&page, "26-sso-only-phone").await;
    chrome.close().await;
}
