//! Audit entries written by concurrent transactions all join the chain,
//! once each, in a chain that verifies — on PostgreSQL after commit, by
//! sealers that may run in several processes at once (issue 18), on SQLite
//! in the writing transaction. A read never misses an entry committed
//! before it, even when no sealer has run yet.

use reqwest::{Method, StatusCode};
use sea_orm::Database;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::ingest::{intake_only, number, setup};

backend_tests!(
    concurrent_writers_and_racing_sealers_chain_every_entry_once,
    an_entry_committed_before_a_read_is_in_the_answer
);

async fn concurrent_writers_and_racing_sealers_chain_every_entry_once(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    let (_, admin) = app.token(s.scope.tenant_id(), "admin").await;
    let (writers, batches, per_batch) = (6usize, 5usize, 20usize);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        // Each writer its own store (pool), like separate instances.
        let store = app.store().await;
        let batch_of =
            |n: usize| -> Vec<_> { (0..per_batch).map(|i| s.accepted(&format!("w{w}-b{n}-{i}"), None)).collect() };
        let mine: Vec<_> = (0..batches).map(batch_of).collect();
        tasks.spawn(async move {
            for batch in mine {
                store.ingest_batch(&batch).await.map(|_| 0u64)?;
            }
            Ok::<_, weir_store::StoreError>(0)
        });
    }
    // Two sealers of their own, sealing while the writers write.
    for _ in 0..2 {
        let store = app.store().await;
        tasks.spawn(async move {
            let mut sealed = 0;
            for _ in 0..40 {
                sealed += store.seal_audit(None).await?;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Ok(sealed)
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().expect("writers and sealers succeed");
    }

    let (s1, v) = app.call(Method::GET, "/api/v1/integration/audit-logs/verify", Some(&admin), None).await;
    assert_eq!(s1, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["valid"], true, "{v}");
    let total = writers * batches * per_batch;
    let mut seen = std::collections::HashSet::new();
    for page in 1..=(total / 100 + 1) {
        let path = format!("/api/v1/integration/audit-logs?action=webhook.received&per_page=100&page={page}");
        let (st, list) = app.call(Method::GET, &path, Some(&admin), None).await;
        assert_eq!(st, StatusCode::OK, "{list}");
        for e in list["data"].as_array().unwrap() {
            assert!(seen.insert(e["resource_id"].as_str().unwrap().to_owned()), "{e} listed twice");
        }
    }
    assert_eq!(seen.len(), total, "every delivery's entry, once");
    let db = Database::connect(&app.db_url).await.unwrap();
    assert_eq!(number(&db, "SELECT COUNT(*) AS n FROM audit_pending").await, 0, "nothing left pending");
    let t = s.scope.tenant_id();
    let seqs = number(&db, &format!("SELECT COUNT(DISTINCT seq) AS n FROM audit_logs WHERE tenant_id = '{t}'")).await;
    let max = number(&db, &format!("SELECT MAX(seq) AS n FROM audit_logs WHERE tenant_id = '{t}'")).await;
    assert_eq!(seqs, max, "seq from 1 with no gap");
}

async fn an_entry_committed_before_a_read_is_in_the_answer(b: Backend) {
    let Some(mut app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    let before = s.store.audit_head(&s.scope).await.unwrap().statement.seq;
    // No server, so no sealer runs anywhere: only a read can seal.
    app.shut_down().await;
    s.store.ingest_batch(&[s.accepted("e-now", None)]).await.unwrap();
    let db = Database::connect(&app.db_url).await.unwrap();
    let waiting = number(&db, "SELECT COUNT(*) AS n FROM audit_pending").await;
    match b {
        Backend::Postgres => assert_eq!(waiting, 1, "on PostgreSQL the entry waits for a sealer"),
        Backend::Sqlite => assert_eq!(waiting, 0, "SQLite chains in the writing transaction"),
    }
    // Another process's store reads: the list, the head and verify see it.
    let reader = app.store().await;
    let page = weir_core::PageRequest::parse(Some(1), Some(10)).unwrap();
    let filter = weir_store::AuditFilter { action: Some("webhook.received".into()), ..Default::default() };
    let list = reader.list_audit_filtered(&s.scope, &filter, page).await.unwrap();
    let ids: Vec<_> = list.items.iter().filter_map(|e| e.resource_id.as_deref()).collect();
    assert_eq!(ids, ["e-now"]);
    assert_eq!(list.items[0].seq, before + 1);
    assert_eq!(reader.audit_head(&s.scope).await.unwrap().statement.seq, before + 1);
    assert_eq!(reader.verify_audit_chain(&s.scope, None).await.unwrap().outcome(), Ok((before + 1) as u64));
    assert_eq!(number(&db, "SELECT COUNT(*) AS n FROM audit_pending").await, 0, "the read sealed it");
}
