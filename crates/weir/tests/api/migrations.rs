//! Upgrading a database that already holds events: migration 000008 moves
//! provider-id deduplication into `webhook_event_keys` (both engines) and,
//! on PostgreSQL, rebuilds `webhook_events` partitioned by day. Every event
//! survives, in the partition of its day (older than the migration's window:
//! the default partition), and a redelivery of an old provider event is
//! still a duplicate.

use chrono::{Days, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use serde_json::json;
use weir_store::migration::Migrator;
use weir_store::{AcceptedDelivery, Delivery, DeliveryOutcome};

use crate::backend_tests;
use crate::helpers::{Backend, fresh_database};

backend_tests!(
    upgrading_keeps_events_and_their_provider_keys,
    upgrading_gives_each_token_the_root_of_its_chain,
    upgrading_rekeys_an_unkeyed_audit_chain_once
);

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    row.unwrap().try_get("", "n").unwrap()
}

fn days_ago(n: u64) -> String {
    let at = Utc::now().checked_sub_days(Days::new(n)).unwrap();
    at.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
}

/// Migration 000010: tokens minted before it get the root of their issuing
/// chain as their principal, so the approval rule holds for old tokens too.
async fn upgrading_gives_each_token_the_root_of_its_chain(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _guard)) = fresh_database(b, dir.path()).await else { return };
    let db = Database::connect(&url).await.unwrap();
    Migrator::up(&db, Some(9)).await.unwrap();
    let now = days_ago(0);
    exec(&db, &format!("INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES ('t1', 'acme', 'Acme', '{now}', '{now}')")).await;
    // root ← child ← grandchild; a CLI token; a token whose issuer row is gone.
    let tokens =
        [("root", "'system'"), ("child", "'root'"), ("grand", "'child'"), ("cli", "'cli'"), ("orphan", "'gone'")];
    for (id, by) in tokens {
        exec(
            &db,
            &format!(
                "INSERT INTO api_tokens (id, tenant_id, name, role, token_hash, token_hint, created_by, created_at) \
                 VALUES ('{id}', 't1', '{id}', 'admin', 'hash-{id}', 'weir_x', {by}, '{now}')"
            ),
        )
        .await;
    }
    db.close().await.ok();
    let store =
        weir_store::Store::connect(&weir_store::DatabaseUrl::parse(&url).unwrap(), &weir_store::DbOptions::default())
            .await
            .unwrap();
    store.migrate().await.unwrap();
    let scope = store.tenant_scope(&weir_store::SystemScope::local_operator(), "t1").await.unwrap();
    for (id, root) in [("root", "root"), ("child", "root"), ("grand", "root"), ("cli", "cli"), ("orphan", "orphan")] {
        assert_eq!(store.token_principal(&scope, id).await.unwrap(), root, "principal of {id}");
    }
}

async fn upgrading_keeps_events_and_their_provider_keys(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _guard)) = fresh_database(b, dir.path()).await else { return };
    // The schema before partitioning, with a tenant, connector, receiver and three events.
    let db = Database::connect(&url).await.unwrap();
    Migrator::up(&db, Some(7)).await.unwrap();
    let now = days_ago(0);
    exec(&db, &format!("INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES ('t1', 'acme', 'Acme', '{now}', '{now}')")).await;
    exec(
        &db,
        &format!(
            "INSERT INTO connectors (id, tenant_id, code, name, connector_type, environment, config, created_at, updated_at) \
             VALUES ('c1', 't1', 'shop', 'Shop', 'webhook', 'development', '{{}}', '{now}', '{now}')"
        ),
    )
    .await;
    exec(
        &db,
        &format!(
            "INSERT INTO webhook_receivers (id, tenant_id, connector_id, receiver_key, event_type, auth_method, auth_options, created_at, updated_at) \
             VALUES ('r1', 't1', 'c1', 'key1', '*', 'none', '{{}}', '{now}', '{now}')"
        ),
    )
    .await;
    let events = [("e1", "'p1'", 0, "completed"), ("e2", "'p2'", 50, "completed"), ("e3", "NULL", 2, "pending")];
    for (id, pid, age, status) in events {
        let at = days_ago(age);
        exec(
            &db,
            &format!(
                "INSERT INTO webhook_events (id, tenant_id, receiver_id, connector_id, event_type, provider_event_id, payload, \
                 payload_sha256, payload_size, processing_status, next_attempt_at, received_at, updated_at) \
                 VALUES ('{id}', 't1', 'r1', 'c1', 'order.created', {pid}, '{{\"n\": 1}}', '{}', 8, '{status}', '{at}', '{at}', '{at}')",
                "0".repeat(64)
            ),
        )
        .await;
    }
    db.close().await.ok();

    // Upgrade, as a new version's start-up does.
    let store =
        weir_store::Store::connect(&weir_store::DatabaseUrl::parse(&url).unwrap(), &weir_store::DbOptions::default())
            .await
            .unwrap()
            .with_audit_key(weir_core::audit::AuditKey::derive(&weir_core::MasterKey::from_bytes([9; 32])));
    store.migrate().await.unwrap();
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM webhook_events").await, 3);
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM webhook_event_keys WHERE (event_id = 'e1' AND provider_event_id = 'p1') OR (event_id = 'e2' AND provider_event_id = 'p2')").await,
        2
    );
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM webhook_event_keys").await, 2);
    if b == Backend::Postgres {
        // Forty days back and a week ahead each have a partition; the
        // fifty-day-old event sits in the default one.
        let today = Utc::now().date_naive();
        let partitions = store.event_partitions().await.unwrap();
        assert_eq!(partitions.len(), 48, "{partitions:?}");
        assert_eq!(partitions.first().map(|p| p.day), today.checked_sub_days(Days::new(40)));
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM webhook_events_default WHERE id = 'e2'").await, 1);
        let two_days_ago =
            format!("webhook_events_p{}", today.checked_sub_days(Days::new(2)).unwrap().format("%Y%m%d"));
        assert_eq!(count(&db, &format!("SELECT COUNT(*) AS n FROM {two_days_ago} WHERE id = 'e3'")).await, 1);
    }
    db.close().await.ok();

    // A redelivery of an old provider event is a duplicate of it; a new one is stored.
    let scope = store.receiver_by_key("key1").await.unwrap().expect("the seeded receiver").scope;
    let delivery = |event_id: &str, pid: &str| {
        Delivery::Accepted(AcceptedDelivery {
            event_id: event_id.to_owned(),
            scope: scope.clone(),
            receiver_id: "r1".into(),
            connector_id: "c1".into(),
            event_type: "order.created".into(),
            provider_event_id: Some(pid.to_owned()),
            body: json!({"n": 2}).to_string(),
            sha256: "1".repeat(64),
            size: 8,
            source: None,
            received_at: Utc::now(),
        })
    };
    let outcomes =
        store.ingest_batch(&[delivery("e4", "p2"), delivery("e5", "p9"), delivery("e6", "p9")]).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            DeliveryOutcome::Duplicate { event_id: "e2".into(), status: Some(weir_core::EventStatus::Completed) },
            DeliveryOutcome::Stored { event_id: "e5".into() },
            DeliveryOutcome::Duplicate { event_id: "e5".into(), status: Some(weir_core::EventStatus::Pending) },
        ]
    );
}

/// Migration 000016 and the start-up after it: a chain written under the
/// unkeyed SHA-256 hash is re-keyed once, then verifies; a second start does
/// nothing, and a chain that did not verify before is left as it was.
async fn upgrading_rekeys_an_unkeyed_audit_chain_once(b: Backend) {
    use weir_core::audit::{GENESIS_HASH, canonical_json, legacy_chain_hash};
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _guard)) = fresh_database(b, dir.path()).await else { return };
    let db = Database::connect(&url).await.unwrap();
    // Every migration before 000016 (the 12th).
    Migrator::up(&db, Some(11)).await.unwrap();
    let now = days_ago(0);
    for t in ["t1", "t2"] {
        exec(&db, &format!("INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES ('{t}', '{t}', '{t}', '{now}', '{now}')")).await;
    }
    let at = Utc::now();
    let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // The unkeyed chain of a tenant, as an older build (or a forger) writes it.
    let legacy_rows = |tenant: &str, broken: bool, forged: bool| {
        let mut prev = GENESIS_HASH.to_owned();
        let mut rows = Vec::new();
        for seq in 1..=3i64 {
            let details = if forged { json!({"seq": seq, "forged": true}) } else { json!({"seq": seq}) };
            let content = canonical_json(&json!({
                "tenant_id": tenant, "seq": seq, "action": "connector.created", "actor": "system",
                "resource_type": "connector", "resource_id": format!("c{seq}"), "connector_id": null,
                "details": details, "created_at": stamp,
            }));
            let mut hash = legacy_chain_hash(&prev, &content);
            if broken && seq == 2 {
                hash = "f".repeat(64);
            }
            rows.push((seq, details, prev.clone(), hash.clone()));
            prev = hash;
        }
        rows
    };
    let when = at.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string();
    for (tenant, broken) in [("t1", false), ("t2", true)] {
        for (seq, details, prev, hash) in legacy_rows(tenant, broken, false) {
            exec(
                &db,
                &format!(
                    "INSERT INTO audit_logs (id, tenant_id, seq, action, actor, resource_type, resource_id, details, prev_hash, entry_hash, created_at) \
                     VALUES ('{tenant}-{seq}', '{tenant}', {seq}, 'connector.created', 'system', 'connector', 'c{seq}', '{details}', '{prev}', '{hash}', '{when}')"
                ),
            )
            .await;
        }
    }
    db.close().await.ok();
    let key = weir_core::audit::AuditKey::derive(&weir_core::MasterKey::from_bytes([9; 32]));
    let store =
        weir_store::Store::connect(&weir_store::DatabaseUrl::parse(&url).unwrap(), &weir_store::DbOptions::default())
            .await
            .unwrap()
            .with_audit_key(key);
    store.migrate().await.unwrap();
    let cap = weir_store::SystemScope::local_operator();
    let (t1, t2) = (store.tenant_scope(&cap, "t1").await.unwrap(), store.tenant_scope(&cap, "t2").await.unwrap());
    assert_eq!(store.verify_audit_chain(&t1, None).await.unwrap().outcome(), Err(1), "unkeyed until the upgrade");
    assert_eq!(store.upgrade_audit_chain(false).await.unwrap(), 1, "only the chain that verified is re-keyed");
    assert_eq!(store.verify_audit_chain(&t1, None).await.unwrap().outcome(), Ok(3));
    assert_eq!(store.verify_audit_chain(&t2, None).await.unwrap().outcome(), Err(1), "the broken chain stays broken");
    assert_eq!(store.upgrade_audit_chain(false).await.unwrap(), 0, "once keyed, never again");
    assert_eq!(store.verify_audit_chain(&t1, None).await.unwrap().outcome(), Ok(3));

    // A forger with the database rewrites t1's whole chain under the old
    // unkeyed hash: the next starts (migrations already applied) do not
    // re-key it, so verify says so.
    let db = Database::connect(&url).await.unwrap();
    for (seq, details, prev, hash) in legacy_rows("t1", false, true) {
        exec(&db, &format!("UPDATE audit_logs SET details = '{details}', prev_hash = '{prev}', entry_hash = '{hash}' WHERE id = 't1-{seq}'")).await;
    }
    db.close().await.ok();
    let restarted =
        weir_store::Store::connect(&weir_store::DatabaseUrl::parse(&url).unwrap(), &weir_store::DbOptions::default())
            .await
            .unwrap()
            .with_audit_key(weir_core::audit::AuditKey::derive(&weir_core::MasterKey::from_bytes([9; 32])));
    restarted.migrate().await.unwrap();
    assert_eq!(restarted.upgrade_audit_chain(false).await.unwrap(), 0, "not re-keyed on a later start");
    assert_eq!(restarted.verify_audit_chain(&t1, None).await.unwrap().outcome(), Err(1), "the forgery is found");
}
