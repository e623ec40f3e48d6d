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

/// The README's configuration table: from its header line to the first line
/// that is not a table row.
fn readme_table(readme: &str) -> Option<(usize, usize)> {
    let start = readme.find("| option (file key) |")?;
    let len: usize = readme[start..].split_inclusive('\n').take_while(|l| l.starts_with('|')).map(str::len).sum();
    Some((start, start + len))
}

/// `WEIR_TEST_UPDATE_README=1 cargo test -p weir --lib readme_table` writes
/// the table rendered from the declaration into README.md.
#[test]
fn readme_table_is_the_declaration() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (start, end) = readme_table(&readme).expect("README has a configuration table");
    let table = markdown_table();
    if std::env::var_os("WEIR_TEST_UPDATE_README").is_some() {
        std::fs::write(path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
        return;
    }
    assert!(
        readme[start..end] == table,
        "README.md's configuration table differs from the declaration in config/options.rs; \
         run WEIR_TEST_UPDATE_README=1 cargo test -p weir --lib readme_table. Expected:\n{table}"
    );
}

#[test]
fn engine_defaults_are_the_declared_ones() {
    let c = s().resolve().unwrap();
    let (p, sync, db) = (ProcessorOptions::default(), SyncOptions::default(), DbOptions::default());
    assert_eq!(
        (c.processing.workers, c.processing.batch_size, c.processing.lease, c.processing.poll_interval),
        (p.workers, p.batch_size, p.lease, p.poll_interval)
    );
    assert_eq!((c.processing.retry, c.sync.page_retry), (p.retry, sync.page_retry));
    assert_eq!(
        (c.sync.concurrency, c.sync.per_connector, c.sync.schedule_interval),
        (sync.concurrency, sync.per_connector, sync.schedule_interval)
    );
    assert_eq!(
        (c.db.max_connections, c.db.acquire_timeout, c.db.sqlite_sync_full),
        (db.max_connections, db.acquire_timeout, db.sqlite_sync_full)
    );
    let (sessions, limits) = (weir_api::SessionSettings::default(), weir_api::HttpLimits::default());
    assert_eq!((c.sessions.ttl, c.sessions.secure_cookie), (sessions.ttl, sessions.secure_cookie));
    assert_eq!((c.max_body_bytes, c.request_timeout), (limits.max_body_bytes, limits.request_timeout));
}

#[test]
fn help_shows_each_default_without_markdown() {
    use clap::CommandFactory as _;
    let mut cli = crate::cli::Cli::command();
    let serve = cli.find_subcommand_mut("serve").unwrap();
    let help = serve.render_help().to_string();
    for expected in ["[default: 10s,60s,300s]", "[default: 1048576]", "[default: all]", "[default: full]"] {
        assert!(help.contains(expected), "{expected} missing from serve --help:\n{help}");
    }
    assert!(!help.contains('`') && !help.contains("](docs/"), "{help}");
    assert!(help.contains("see docs/deployment.md"), "{help}");
}

#[test]
fn durations_render_as_typed() {
    use super::parse::Show as _;
    let list = vec![Duration::from_millis(50), Duration::from_secs(60)];
    assert_eq!(list.show(), "50ms,60s");
    assert_eq!(parse::durations(&list.show()).unwrap(), list);
}
