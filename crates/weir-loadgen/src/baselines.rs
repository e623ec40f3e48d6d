//! The limits ingest is compared against: the same HTTP load on a no-op
//! handler, and the raw batched insert rate of 1 KB JSON rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use sea_orm::{ConnectionTrait, Database};

use crate::{Report, check_loopback};

/// Serves 202 `{}` to any POST for `lifetime_secs`, then exits.
pub async fn noop(listen: &str, lifetime_secs: u64) -> anyhow::Result<()> {
    check_loopback(&format!("http://{listen}"))?;
    ensure!(lifetime_secs <= 3600, "bounded: at most 3600 s");
    let app = axum::Router::new().fallback(|| async { (axum::http::StatusCode::ACCEPTED, "{}") });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("no-op server on {listen} for {lifetime_secs} s");
    axum::serve(listener, app).with_graceful_shutdown(tokio::time::sleep(Duration::from_secs(lifetime_secs))).await?;
    Ok(())
}

/// POSTs 1 KB JSON bodies to `url` at `concurrency` for `duration_secs`.
pub async fn blast(url: &str, concurrency: usize, duration_secs: u64) -> anyhow::Result<()> {
    check_loopback(url)?;
    ensure!(duration_secs <= 600 && (1..=1024).contains(&concurrency), "bounded run");
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(concurrency).build()?;
    let deadline = Instant::now() + Duration::from_secs(duration_secs);
    let started = Instant::now();
    let body = Arc::new(format!(r#"{{"id":"x","type":"order.created","data":{{"pad":"{}"}}}}"#, "x".repeat(960)));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (c, url, body) = (c.clone(), url.to_owned(), body.clone());
        workers.push(tokio::spawn(async move {
            let mut r = Report::default();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match c
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.as_str().to_owned())
                    .send()
                    .await
                {
                    Ok(res) => {
                        let s = res.status().as_u16();
                        let _ = res.bytes().await;
                        r.record(s, t0.elapsed());
                    }
                    Err(_) => r.record(0, t0.elapsed()),
                }
            }
            r
        }));
    }
    let mut total = Report::default();
    for w in futures::future::join_all(workers).await {
        total.merge(w?);
    }
    total.print(&format!("no-op baseline concurrency={concurrency}"), started.elapsed(), 202);
    Ok(())
}

/// Inserts `rows` 1 KB JSON rows in batches of `batch` with `writers`
/// concurrent connections into a scratch table, then drops it.
pub async fn insert_rate(url: &str, rows: u64, batch: usize, writers: usize) -> anyhow::Result<()> {
    ensure!(rows <= 2_000_000 && (1..=64).contains(&writers) && (1..=5000).contains(&batch), "bounded run");
    if url.starts_with("postgres") {
        let host = url.split('@').nth(1).and_then(|h| h.split([':', '/']).next()).unwrap_or("");
        ensure!(host == "127.0.0.1" || host == "localhost", "loopback databases only");
    }
    let db = Database::connect(url).await.context("connect")?;
    let pg = url.starts_with("postgres");
    let (json_type, ts_type) = if pg { ("jsonb", "timestamptz") } else { ("text", "text") };
    db.execute_unprepared("DROP TABLE IF EXISTS weir_bench_rows").await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE weir_bench_rows (id varchar(36) PRIMARY KEY, tenant_id varchar(36) NOT NULL, payload {json_type} NOT NULL, received_at {ts_type} NOT NULL)"
    ))
    .await?;
    let payload = format!(r#"{{"id":"x","type":"order.created","data":{{"pad":"{}"}}}}"#, "x".repeat(960));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (db, next, payload) = (db.clone(), next.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let from = next.fetch_add(batch as u64, Ordering::Relaxed);
                if from >= rows {
                    return Ok::<(), sea_orm::DbErr>(());
                }
                let to = (from + batch as u64).min(rows);
                let now = "2026-11-28T00:00:00Z";
                let values: Vec<String> = (from..to)
                    .map(|i| {
                        let ts = if pg { format!("'{now}'::timestamptz") } else { format!("'{now}'") };
                        format!("('{i:036}', 't', '{payload}', {ts})")
                    })
                    .collect();
                db.execute_unprepared(&format!("INSERT INTO weir_bench_rows VALUES {}", values.join(","))).await?;
            }
        }));
    }
    for t in futures::future::join_all(tasks).await {
        t??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "raw insert: {rows} rows of ~1 KB JSON, batch {batch}, {writers} writers: {:.0} rows/s ({secs:.1} s)",
        rows as f64 / secs
    );
    db.execute_unprepared("DROP TABLE weir_bench_rows").await?;
    Ok(())
}
