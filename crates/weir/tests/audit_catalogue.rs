//! The audit catalogue (`weir_core::audit::ACTIONS`) is complete and
//! documented: every action literal the code emits is in it, and
//! `docs/audit.md` lists every one of them.

use std::collections::BTreeSet;
use std::path::Path;

/// Prefixes of audit actions.
const PREFIXES: &[&str] = &[
    "connector",
    "receiver",
    "webhook",
    "webhook_event",
    "record",
    "destination",
    "field_mapping",
    "sync_configuration",
    "sync",
    "session",
    "user",
    "tenant",
    "service_account",
    "sso",
];

/// Literals with an action's shape that are not actions.
const NOT_ACTIONS: &[(&str, &str)] = &[
    ("destination.secret", "a request field name (sync configurations)"),
    ("record.upserted", "the `type` of a record delivered to an HTTP destination"),
    ("sync.progress", "a live-event kind (SSE), not an audit action: progress is not audited"),
    ("connector.health_changed", "a live-event kind (SSE): health follows from audited facts"),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// String literals of the form `"prefix.word"` in the crates' sources.
fn action_literals() -> BTreeSet<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for c in ["weir-store", "weir-engine", "weir-api", "weir"] {
        rust_files(&crates.join(c).join("src"), &mut files);
    }
    // Of weir-core (whose `audit.rs` names every action), the ingest plan
    // under `webhook/` decides the entries intake writes.
    rust_files(&crates.join("weir-core").join("src").join("webhook"), &mut files);
    let mut found = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            let Some((prefix, word)) = piece.split_once('.') else { continue };
            if PREFIXES.contains(&prefix)
                && !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                found.insert(piece.to_owned());
            }
        }
    }
    found
}

#[test]
fn every_emitted_action_is_catalogued_and_documented() {
    let catalogue: BTreeSet<String> = weir_core::audit::ACTIONS.iter().map(|(a, _)| (*a).to_owned()).collect();
    let not_actions: BTreeSet<String> = NOT_ACTIONS.iter().map(|(a, _)| (*a).to_owned()).collect();
    let emitted: BTreeSet<String> = action_literals().difference(&not_actions).cloned().collect();
    let missing: Vec<_> = emitted.difference(&catalogue).collect();
    assert!(missing.is_empty(), "actions emitted but not in weir_core::audit::ACTIONS: {missing:?}");
    let unused: Vec<_> = catalogue.difference(&emitted).collect();
    assert!(unused.is_empty(), "catalogued actions no code emits: {unused:?}");
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit.md")).unwrap();
    for (action, _) in weir_core::audit::ACTIONS {
        assert!(docs.contains(&format!("`{action}`")), "docs/audit.md does not list `{action}`");
    }
}
