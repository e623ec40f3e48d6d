//! Hostile connections (issue 9): a client that sends its headers one byte
//! at a time (slow loris) is cut after `WEIR_HEADER_READ_TIMEOUT_SECS`, and
//! while hundreds of them hang on, others are served; oversized request
//! heads are refused with 431 before any handler runs.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use weir::config::Settings;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(slow_loris_is_cut_and_others_are_served, oversized_heads_are_refused);

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection or `limit` passes; answers
/// what was read and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

async fn slow_loris_is_cut_and_others_are_served(b: Backend) {
    let settings = Settings { header_read_timeout_secs: Some("1".into()), ..Settings::default() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    // 200 connections that start a request and never finish its headers.
    let mut lorises = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: weir\r\nX-Slow: a").await.unwrap();
        lorises.push(s);
    }
    // Meanwhile a normal client is served. (A fresh connection each time:
    // the header timeout also closes idle keep-alive connections, so a
    // pooled one could be closed under the request at 1 s.)
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let s = fresh.get(app.url("/healthz")).send().await.unwrap().status();
    assert_eq!(s, StatusCode::OK);
    // One more byte a while later does not extend the deadline.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for s in &mut lorises {
        let _ = s.write_all(b"b").await;
    }
    let started = Instant::now();
    for s in &mut lorises {
        let (text, closed) = read_until_closed(s, Duration::from_secs(5)).await;
        assert!(closed, "a slow-loris connection was still open after the header timeout");
        assert!(!text.contains("200 OK"), "the half-sent request must not be served: {text}");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // And the server is still fine.
    let s = fresh.get(app.url("/readyz")).send().await.unwrap().status();
    assert_eq!(s, StatusCode::OK);
}

async fn oversized_heads_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    // One 100 KiB header.
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let big = "x".repeat(100 * 1024);
    let _ = s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: weir\r\nX-Big: {big}\r\n\r\n").as_bytes()).await;
    let (text, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 431"), "got: {:.200}", text);
    // 150 headers.
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let _ = s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: weir\r\n{many}\r\n").as_bytes()).await;
    let (text, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 431"), "got: {:.200}", text);
    // A head within the limits is served.
    let (s, _) = send_ok(&app).await;
    assert_eq!(s, StatusCode::OK);
}

async fn send_ok(app: &TestApp) -> (StatusCode, serde_json::Value) {
    crate::helpers::send(app.req(Method::GET, "/healthz", None).header("x-fine", "y".repeat(8 * 1024))).await
}
