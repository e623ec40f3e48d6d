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
