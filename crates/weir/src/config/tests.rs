//! The declaration resolved: defaults, errors naming options, layering,
//! redaction, and the README table.

use base64::Engine as _;

use super::*;

fn s() -> Settings {
    Settings::default()
}

#[test]
fn a_role_switches_off_what_it_does_not_do() {
    let c = Settings::default().resolve().unwrap();
    assert_eq!(c.role, InstanceRole::All);
    assert!(c.processing.workers > 0 && c.sync.concurrency > 0 && !c.sync.schedule_interval.is_zero());
    let role =
        |r: &str| Settings { instance_role: Some(r.into()), workers: Some("4".into()), ..s() }.resolve().unwrap();
    let api = role("api");
    assert_eq!((api.processing.workers, api.sync.concurrency, api.sync.schedule_interval), (0, 0, Duration::ZERO));
    let worker = role("worker");
    assert_eq!((worker.processing.workers, worker.sync.schedule_interval), (4, Duration::ZERO));
    assert!(worker.sync.concurrency > 0);
    let scheduler = role("scheduler");
    assert_eq!((scheduler.processing.workers, scheduler.sync.concurrency), (0, 0));
    assert!(!scheduler.sync.schedule_interval.is_zero());
    let e = Settings { instance_role: Some("boss".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("WEIR_ROLE") && e.contains("api, worker, scheduler or all"), "{e}");
}

#[test]
fn defaults_are_the_embedded_setup() {
    let c = s().resolve().unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.database_url.expose(), "sqlite://./weir-data/weir.db");
    assert_eq!(c.rate_limit_per_minute, 100);
    assert_eq!(c.max_body_bytes, 1024 * 1024);
    assert!(c.system_token.is_none() && c.master_key.is_none() && c.redis_url.is_none());
}

#[test]
fn bad_values_name_their_option() {
    let e = Settings { listen: Some("nowhere".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("WEIR_LISTEN") && e.contains("--listen"), "{e}");
    let e = Settings { max_body_bytes: Some("-1".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("WEIR_MAX_BODY_BYTES"), "{e}");
    let e = Settings { database_url: Some("mysql://x".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("sqlite:// or postgres://"), "{e}");
    let e = Settings { master_key: Some("c2hvcnQ=".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("32 bytes"), "{e}");
    let e = Settings { system_token: Some("short".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("WEIR_SYSTEM_TOKEN") && !e.contains("short\""), "{e}");
    let e = Settings { log_format: Some("xml".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("WEIR_LOG_FORMAT"), "{e}");
    let e = Settings { sqlite_synchronous: Some("off".into()), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("WEIR_SQLITE_SYNCHRONOUS"), "{e}");
    assert!(!Settings { sqlite_synchronous: Some("normal".into()), ..s() }.resolve().unwrap().db.sqlite_sync_full);
    assert!(s().resolve().unwrap().db.sqlite_sync_full, "durable by default");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let c = Settings {
        database_url: Some("postgres://u:pgpass@localhost/db".into()),
        system_token: Some("weir_supersecretsystemtoken123".into()),
        master_key: Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32])),
        redis_url: Some("redis://:redispass@localhost:6379".into()),
        ..s()
    }
    .resolve()
    .unwrap();
    let dbg = format!("{c:?}");
    for secret in ["pgpass", "supersecret", "redispass", "BwcH"] {
        assert!(!dbg.contains(secret), "{secret} leaked: {dbg}");
    }
}

#[test]
fn file_layer_sits_below_flags_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:9999\"\nmax_body_bytes = 2048\nrate_limit_per_minute = 5\n").unwrap();
    let c = Settings { config: Some(path.clone()), rate_limit_per_minute: Some("7".into()), ..s() }.resolve().unwrap();
    assert_eq!(c.listen.port(), 9999);
    assert_eq!(c.max_body_bytes, 2048);
    assert_eq!(c.rate_limit_per_minute, 7, "flag/env beats the file");
    std::fs::write(&path, "lisen = \"x\"\n").unwrap();
    let e = Settings { config: Some(path), ..s() }.resolve().unwrap_err().to_string();
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn readme_documents_every_option() {
    let readme = include_str!("../../../../README.md");
    for (option, env, _) in OPTIONS {
        assert!(readme.contains(&format!("`{env}`")), "README lacks {env}");
        assert!(readme.contains(&format!("`--{}`", option.replace('_', "-"))), "README lacks --{option}");
    }
}
