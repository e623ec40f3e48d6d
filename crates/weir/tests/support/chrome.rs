//! Driving headless Chromium from tests (`chromiumoxide` over the DevTools
//! protocol): launch, evaluate, wait for a condition, click, navigate the
//! dashboard's hash routes, sign in, and save screenshots under
//! `target/browser-screenshots/`. Shared by the API suite's browser tests
//! and the demo test. Chromium is Debian's `chromium` (`.ci/run` installs
//! it); `WEIR_TEST_CHROMIUM` points elsewhere.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt;
use serde_json::Value;

/// A headless Chromium for one test; killed on drop.
pub struct Chrome {
    pub browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chrome {
    pub async fn launch() -> Chrome {
        let executable = std::env::var("WEIR_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        assert!(
            Path::new(&executable).exists(),
            "{executable} not found: install Debian's chromium package (.ci/run does) or set WEIR_TEST_CHROMIUM"
        );
        let profile = tempfile::tempdir().unwrap();
        let config = BrowserConfig::builder()
            .new_headless_mode()
            .chrome_executable(&executable)
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(1280, 900)
            .viewport(None)
            .args([
                "disable-gpu",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "disable-dev-shm-usage",
            ])
            .build()
            .unwrap();
        let (browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Chrome { browser, handler, _profile: profile }
    }

    pub async fn page(&self, url: &str) -> Page {
        self.browser.new_page(url).await.expect("open page")
    }

    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

/// Where screenshots go: `target/browser-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn shot(page: &Page, name: &str) {
    let file = screenshot_dir().join(format!("{name}.png"));
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &file).await.expect("screenshot");
}

/// Evaluates `js` in the page.
pub async fn eval(page: &Page, js: &str) -> Value {
    page.evaluate(js).await.unwrap_or_else(|e| panic!("evaluate {js}: {e}")).into_value().unwrap_or(Value::Null)
}

/// Polls `js` until it is truthy (bounded: 15 s); answers its value.
pub async fn until(page: &Page, js: &str, what: &str) -> Value {
    for _ in 0..300 {
        let v = eval(page, js).await;
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = eval(page, "document.body.innerText").await;
    panic!("timed out waiting for {what} ({js}); the page shows:\n{body}");
}

/// Clicks the element `selector` names (in the page, like a user would).
pub async fn click(page: &Page, selector: &str) {
    page.find_element(selector).await.unwrap_or_else(|e| panic!("{selector}: {e}")).click().await.unwrap();
}

/// Goes to a page of the app (a hash route: no document load to wait for).
pub async fn nav(page: &Page, hash: &str) {
    eval(page, &format!("location.hash = '{hash}'")).await;
}

/// Signs in through the form with `token`.
pub async fn sign_in(page: &Page, token: &str) {
    until(page, "!!document.querySelector('#signin-form #token')", "the sign-in form").await;
    page.find_element("#token").await.unwrap().click().await.unwrap().type_str(token).await.unwrap();
    click(page, "#signin-form button[type=submit]").await;
}
