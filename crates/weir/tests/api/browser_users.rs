//! The console's way in for people (issue 19): an invited person opens the
//! invitation link, sets a password, signs in with email and password by
//! keyboard, and sees their name; a wrong password is refused in words.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::chrome::{Chrome, eval, nav, shot, until};
use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_person_sets_a_password_and_signs_in() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let body = json!({"email": "Hana.Kim@acme.example", "name": "Hana Kim", "role": "operator"});
    let (s, invited) = app.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{invited}");
    let link = invited["data"]["invite_url"].as_str().unwrap().to_owned();

    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url(&link)).await;
    until(&page, "!!document.querySelector('#invite-form')", "the invitation page").await;
    // A weak password is refused with the reason; then a good one.
    let type_in = |id: &'static str, value: &'static str| {
        let page = &page;
        async move {
            eval(page, &format!("document.querySelector('#{id}').value = ''")).await;
            page.find_element(&format!("#{id}")).await.unwrap().click().await.unwrap().type_str(value).await.unwrap();
        }
    };
    type_in("new-password", "password1234").await;
    type_in("repeat-password", "password1234").await;
    page.find_element("#repeat-password").await.unwrap().press_key("Enter").await.unwrap();
    let refused = until(&page, "document.querySelector('#invite-error')?.textContent", "the refusal").await;
    assert!(refused.as_str().unwrap().contains("guess"), "{refused}");
    type_in("new-password", "velvet-otter-quarry-51").await;
    type_in("repeat-password", "velvet-otter-quarry-51").await;
    page.find_element("#repeat-password").await.unwrap().press_key("Enter").await.unwrap();
    until(&page, "!!document.querySelector('#password-form')", "the sign-in form").await;
    assert_eq!(eval(&page, "document.querySelector('#email').value").await, "Hana.Kim@acme.example");
    shot(&page, "20-invitation-accepted").await;

    // A wrong password, then the right one, by keyboard.
    type_in("password", "not-her-password-at-all").await;
    page.find_element("#password").await.unwrap().press_key("Enter").await.unwrap();
    let wrong = until(&page, "document.querySelector('#password-error')?.textContent", "the refusal").await;
    assert!(wrong.as_str().unwrap().contains("invalid email or password"), "{wrong}");
    type_in("password", "velvet-otter-quarry-51").await;
    page.find_element("#password").await.unwrap().press_key("Enter").await.unwrap();
    let role = until(
        &page,
        "document.querySelector('#tenant-role')?.textContent.includes('Hana Kim') && document.querySelector('#tenant-role').textContent",
        "her name in the header",
    )
    .await;
    assert!(role.as_str().unwrap().contains("operator"), "{role}");
    nav(&page, "#/overview").await;
    shot(&page, "21-signed-in-as-a-person").await;
    // The link is spent.
    let again = eval(
        &page,
        &format!(
            "fetch('/api/v1/invites/{}/accept', {{method: 'POST', headers: {{'content-type': 'application/json'}}, \
             body: JSON.stringify({{password: 'velvet-otter-quarry-52'}})}}).then(r => r.status)",
            link.trim_start_matches("/#/invite/")
        ),
    )
    .await;
    assert_eq!(again, 404);
    chrome.close().await;
}

fn code_at(secret_base32: &str, unix: u64) -> String {
    use totp_rs::{Algorithm, Secret, TOTP};
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).unwrap().generate(unix)
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// A tenant requiring a second factor of admins: the console sends a new
/// admin to the profile, enrols with a code the test computes, shows the
/// recovery codes once; the next sign-in takes the code step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_enrols_a_second_factor_and_signs_in_with_it() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let body = json!({"email": "ida@acme.example", "name": "Ida Berg", "role": "admin"});
    let (_, invited) = app.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    let token = invited["data"]["invite_url"].as_str().unwrap().trim_start_matches("/#/invite/").to_owned();
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/invites/{token}/accept"),
            None,
            Some(json!({"password": "velvet-otter-quarry-51"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        app.call(Method::PATCH, "/api/v1/settings", Some(&admin), Some(json!({"mfa_required_for_admins": true}))).await;
    assert_eq!(s, StatusCode::OK);

    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;
    crate::browser::chrome::sign_in_as(&page, "ida@acme.example", "velvet-otter-quarry-51").await;
    until(&page, "location.hash === '#/profile' && !!document.querySelector('#mfa-start')", "the profile, to enrol")
        .await;
    nav(&page, "#/events").await;
    until(
        &page,
        "location.hash === '#/profile' && !!document.querySelector('#mfa-start')",
        "other pages lead back to the profile",
    )
    .await;
    crate::browser::chrome::click(&page, "#mfa-start").await;
    let secret = until(&page, "document.querySelector('#mfa-secret')?.textContent", "the new key").await;
    let secret = secret.as_str().unwrap().to_owned();
    let code = code_at(&secret, unix_now());
    page.find_element("#mfa-confirm-code").await.unwrap().click().await.unwrap().type_str(&code).await.unwrap();
    page.find_element("#mfa-confirm-code").await.unwrap().press_key("Enter").await.unwrap();
    let codes = until(&page, "document.querySelectorAll('#recovery-codes li').length", "the recovery codes").await;
    assert_eq!(codes, 10);
    shot(&page, "22-recovery-codes").await;
    nav(&page, "#/events").await;
    until(&page, "!!document.querySelector('#events-filter')", "the events page, now reachable").await;

    crate::browser::chrome::click(&page, "#signout").await;
    crate::browser::chrome::sign_in_as(&page, "ida@acme.example", "velvet-otter-quarry-51").await;
    until(&page, "!!document.querySelector('#mfa-form')", "the second step").await;
    let next = code_at(&secret, unix_now() + 30);
    page.find_element("#mfa-code").await.unwrap().click().await.unwrap().type_str(&next).await.unwrap();
    page.find_element("#mfa-code").await.unwrap().press_key("Enter").await.unwrap();
    until(&page, "document.querySelector('#tenant-role')?.textContent.includes('Ida Berg')", "signed in").await;
    until(&page, "!!document.querySelector('[data-testid=summary-total_connectors]')", "the overview").await;
    // At phone width the profile fits.
    page.set_viewport(390, 844, 2.0, true).await;
    nav(&page, "#/profile").await;
    until(&page, "!!document.querySelector('#password-change-form')", "the profile").await;
    until(
        &page,
        "document.querySelector('#own-sessions-table')?.textContent.includes('this session')",
        "her sessions, this one marked",
    )
    .await;
    assert_eq!(eval(&page, "document.documentElement.scrollWidth <= window.innerWidth").await, true);
    shot(&page, "23-profile-phone").await;
    chrome.close().await;
}

/// The users page (admin): invite someone and see their link once, change
/// a role, deactivate with an in-page confirmation; names, not ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_users_in_the_console() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;
    crate::browser::chrome::sign_in(&page, &admin).await;
    until(&page, "!document.querySelector('#nav-users').hidden", "the admin's Users link").await;
    nav(&page, "#/users").await;
    until(&page, "!!document.querySelector('#invite-user-form')", "the users page").await;
    for (id, value) in [("#invite-email", "jo@acme.example"), ("#invite-name", "Jo Park")] {
        page.find_element(id).await.unwrap().click().await.unwrap().type_str(value).await.unwrap();
    }
    page.find_element("#invite-name").await.unwrap().press_key("Enter").await.unwrap();
    let link = until(&page, "document.querySelector('#invite-link')?.textContent", "the invitation link").await;
    assert!(link.as_str().unwrap().contains("/#/invite/"), "{link}");
    let said = eval(&page, "document.querySelector('#invite-result').textContent").await;
    assert!(!said.as_str().unwrap().contains("[object"), "{said}");
    until(&page, "document.querySelector('#users-table')?.textContent.includes('Jo Park')", "Jo in the table").await;
    shot(&page, "24-users").await;

    // Change Jo's role through the select, then deactivate (two clicks).
    let (_, list) = app.call(Method::GET, "/api/v1/users", Some(&admin), None).await;
    let jo = list["data"][0]["id"].as_str().unwrap().to_owned();
    eval(
        &page,
        &format!(
            "const s = document.querySelector('#role-{jo}'); s.value = 'operator'; s.dispatchEvent(new Event('change'))"
        ),
    )
    .await;
    until(&page, "document.querySelector('#flash')?.textContent.includes('now operator')", "the role change").await;
    let (_, user) = app.call(Method::GET, &format!("/api/v1/users/{jo}"), Some(&admin), None).await;
    assert_eq!(user["data"]["role"], "operator");
    crate::browser::chrome::click(&page, &format!("[data-deactivate='{jo}']")).await;
    crate::browser::chrome::click(&page, &format!("[data-confirm-deactivate='{jo}']")).await;
    until(&page, "document.querySelector('#users-table [data-status=deactivated]') !== null", "Jo deactivated").await;
    let (_, user) = app.call(Method::GET, &format!("/api/v1/users/{jo}"), Some(&admin), None).await;
    assert_eq!(user["data"]["status"], "deactivated");
    chrome.close().await;
}
