//! Driving headless Chromium from tests over the DevTools protocol: launch,
//! evaluate, wait for a condition, click and type like a user, navigate the
//! dashboard's hash routes, sign in, and save screenshots under
//! `target/browser-screenshots/`. Shared by the API suite's browser tests
//! and the demo test. Chromium is Debian's `chromium` (`.ci/run` installs
//! it); `WEIR_TEST_CHROMIUM` points elsewhere.
//!
//! A small client of our own rather than `chromiumoxide`: that crate decodes
//! every protocol message through untagged enums, which serde_json's
//! `arbitrary_precision` feature (Weir keeps payload numbers digit for digit,
//! and Cargo enables a feature for the whole build) cannot deserialize —
//! every message failed to parse and the tests hung. Here each message is a
//! `serde_json::Value`, and only the dozen calls the tests make exist.
#![allow(dead_code)] // each test binary uses its own part

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_tungstenite::WebSocketSender;
use async_tungstenite::tokio::{ConnectStream, connect_async};
use async_tungstenite::tungstenite::Message;
use base64::Engine as _;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Mutex, oneshot};

type Pending = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// One DevTools connection: commands go out with an id, and a reader task
/// hands each answer to its caller; events are ignored.
struct Conn {
    sink: Mutex<WebSocketSender<ConnectStream>>,
    pending: Pending,
    next: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

/// How long one command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl Conn {
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.sink.lock().await.send(Message::text(msg.to_string())).await.map_err(|e| e.to_string())?;
        let answer = tokio::time::timeout(CALL_TIMEOUT, rx)
            .await
            .map_err(|_| format!("{method}: no answer within {CALL_TIMEOUT:?}"))?
            .map_err(|_| format!("{method}: the connection closed"))?;
        match answer.get("error") {
            Some(e) => Err(format!("{method}: {e}")),
            None => Ok(answer["result"].clone()),
        }
    }
}

/// A headless Chromium for one test; killed on drop.
pub struct Chrome {
    conn: Arc<Conn>,
    child: tokio::process::Child,
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
        let mut child = tokio::process::Command::new(&executable)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let ws = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("chromium ended without a DevTools address");
        })
        .await
        .expect("chromium's DevTools address within 30 s");
        // Keep draining stderr so that Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = connect_async(ws.as_str()).await.expect("connect to DevTools");
        let (sink, mut stream) = socket.split();
        let pending: Pending = Arc::default();
        let waiting = pending.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Ok(text) = msg.to_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
                if let Some(id) = v.get("id").and_then(Value::as_u64)
                    && let Some(tx) = waiting.lock().unwrap().remove(&id)
                {
                    let _ = tx.send(v);
                }
            }
        });
        let conn = Conn { sink: Mutex::new(sink), pending, next: AtomicU64::new(1), reader };
        Chrome { conn: Arc::new(conn), child, _profile: profile }
    }

    /// Downloads go to `dir` without asking.
    pub async fn allow_downloads(&self, dir: &Path) {
        let params = json!({"behavior": "allow", "downloadPath": dir.display().to_string()});
        self.conn.call(None, "Browser.setDownloadBehavior", params).await.expect("download behaviour");
    }

    /// A new tab showing `url`, once its document has loaded.
    pub async fn page(&self, url: &str) -> Page {
        let target = self.conn.call(None, "Target.createTarget", json!({"url": "about:blank"})).await.unwrap();
        let target = target["targetId"].as_str().unwrap().to_owned();
        let attached =
            self.conn.call(None, "Target.attachToTarget", json!({"targetId": target, "flatten": true})).await.unwrap();
        let page = Page { conn: self.conn.clone(), session: attached["sessionId"].as_str().unwrap().to_owned() };
        page.call("Page.navigate", json!({"url": url})).await.expect("navigate");
        for _ in 0..300 {
            let ready = page.evaluate("document.readyState === 'complete' && location.href !== 'about:blank'").await;
            if ready.is_ok_and(|v| v == json!(true)) {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{url} did not load within 15 s");
    }

    pub async fn close(mut self) {
        let _ = self.conn.call(None, "Browser.close", json!({})).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        self.conn.reader.abort();
    }
}

/// One tab.
pub struct Page {
    conn: Arc<Conn>,
    session: String,
}

impl Page {
    async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.conn.call(Some(&self.session), method, params).await
    }

    /// The value of the JavaScript expression `js` (promises awaited).
    pub async fn evaluate(&self, js: &str) -> Result<Value, String> {
        let params = json!({"expression": js, "returnByValue": true, "awaitPromise": true});
        let out = self.call("Runtime.evaluate", params).await?;
        if let Some(e) = out.get("exceptionDetails") {
            return Err(format!("{js}: {e}"));
        }
        Ok(out["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Forgets every cookie of the browser (e.g. an identity provider's
    /// session, so it asks for a login again).
    pub async fn clear_cookies(&self) {
        self.call("Network.clearBrowserCookies", json!({})).await.expect("clear cookies");
    }

    /// The page's address.
    pub async fn url(&self) -> Result<Option<String>, String> {
        Ok(self.evaluate("location.href").await?.as_str().map(str::to_owned))
    }

    /// Emulates a screen `width` × `height` CSS pixels at `scale` (a phone when `mobile`).
    pub async fn set_viewport(&self, width: u32, height: u32, scale: f64, mobile: bool) {
        let params = json!({"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile});
        self.call("Emulation.setDeviceMetricsOverride", params).await.expect("viewport");
    }

    /// Makes the page's time zone `zone` (an IANA name, e.g. `Europe/Berlin`).
    pub async fn set_timezone(&self, zone: &str) {
        self.call("Emulation.setTimezoneOverride", json!({"timezoneId": zone})).await.expect("time zone");
    }

    /// The first element `selector` matches (an error if none does).
    pub async fn find_element(&self, selector: &str) -> Result<Element<'_>, String> {
        let found = self.evaluate(&format!("!!document.querySelector({})", json!(selector))).await?;
        if found != json!(true) {
            return Err(format!("no element matches {selector}"));
        }
        Ok(Element { page: self, selector: selector.to_owned() })
    }

    async fn key(&self, kind: &str, key: &str, code: u32, text: Option<&str>) -> Result<(), String> {
        let mut params =
            json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code});
        if let Some(t) = text {
            params["text"] = json!(t);
        }
        self.call("Input.dispatchKeyEvent", params).await.map(|_| ())
    }

    /// A PNG of the whole page (beyond the viewport) at `file`.
    pub async fn save_full_screenshot(&self, file: &Path) -> Result<(), String> {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        let clip = json!({"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1});
        let params = json!({"format": "png", "captureBeyondViewport": true, "clip": clip});
        let shot = self.call("Page.captureScreenshot", params).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        std::fs::write(file, png).map_err(|e| e.to_string())
    }
}

/// An element, found again by its selector at each action.
pub struct Element<'a> {
    page: &'a Page,
    selector: String,
}

impl<'a> Element<'a> {
    /// A left click at the element's centre (scrolled into view first), as
    /// a mouse makes it.
    pub async fn click(self) -> Result<Element<'a>, String> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            json!(self.selector)
        );
        let at = self.page.evaluate(&js).await?;
        let (Some(x), Some(y)) = (at[0].as_f64(), at[1].as_f64()) else {
            return Err(format!("{} is gone", self.selector));
        };
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            let params = json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1});
            self.page.call("Input.dispatchMouseEvent", params).await?;
        }
        Ok(self)
    }

    /// Types `text` into the focused element.
    pub async fn type_str(self, text: &str) -> Result<Element<'a>, String> {
        self.page.call("Input.insertText", json!({"text": text})).await?;
        Ok(self)
    }

    /// Presses and releases `key` (`Enter`, `Tab`, `Escape` or `ArrowDown`)
    /// on the focused element.
    pub async fn press_key(self, key: &str) -> Result<Element<'a>, String> {
        let (code, text) = match key {
            "Enter" => (13, Some("\r")),
            "Tab" => (9, None),
            "Escape" => (27, None),
            "ArrowDown" => (40, None),
            other => return Err(format!("press_key: {other} is not supported")),
        };
        self.page.key("keyDown", key, code, text).await?;
        self.page.key("keyUp", key, code, None).await?;
        Ok(self)
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
    page.save_full_screenshot(&file).await.expect("screenshot");
}

/// Evaluates `js` in the page.
pub async fn eval(page: &Page, js: &str) -> Value {
    page.evaluate(js).await.unwrap_or_else(|e| panic!("evaluate {js}: {e}"))
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

/// Like [`until`], across page loads (to another site and back): an
/// evaluation that fails while a document is replaced counts as falsy.
pub async fn until_after_load(page: &Page, js: &str, what: &str) -> Value {
    for _ in 0..300 {
        if let Ok(v) = page.evaluate(js).await
            && !matches!(&v, Value::Null | Value::Bool(false))
            && v != Value::String(String::new())
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = page.evaluate("document.body.innerText").await.unwrap_or_default();
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

/// Signs in with a user's email and password (the sign-in page's first form).
pub async fn sign_in_as(page: &Page, email: &str, password: &str) {
    until(page, "!!document.querySelector('#password-form #email')", "the sign-in form").await;
    page.find_element("#email").await.unwrap().click().await.unwrap().type_str(email).await.unwrap();
    page.find_element("#password").await.unwrap().click().await.unwrap().type_str(password).await.unwrap();
    click(page, "#password-form button[type=submit]").await;
}

/// Signs in through the form with `token`.
pub async fn sign_in(page: &Page, token: &str) {
    until(page, "!!document.querySelector('#signin-form #token')", "the sign-in form").await;
    // The token form is the secondary one, folded under the password form.
    eval(page, "document.querySelector('#token-signin').open = true").await;
    page.find_element("#token").await.unwrap().click().await.unwrap().type_str(token).await.unwrap();
    click(page, "#signin-form button[type=submit]").await;
}
