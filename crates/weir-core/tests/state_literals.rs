//! The CI check that keeps states typed (issue 16): no spelling of a state
//! enum may appear as a string literal (`"pending"`, or `'pending'` inside
//! SQL) in non-test Rust, except where the enum itself is declared. Code
//! names the variant instead (`EventStatus::Pending`), so the compiler
//! checks every use and a `match` over it.
//!
//! Not counted: test code (`tests/` folders, `tests*.rs`, and everything
//! after a file's `#[cfg(test)]` module), migrations (history, frozen as
//! they shipped), JSON object keys (`"schedule": …` is a field name), and a
//! line ending in `// not a state: <why>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weir_core::state::{
    AttemptOutcome, EventErrorType, EventStatus, PlanOutcome, RecordAction, RollupCounter, RunStatus, SyncErrorType,
};
use weir_core::sync::{Direction, Trigger};

/// Each spelling and the file that may spell it.
fn spellings() -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut out: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    let mut add = |file: &'static str, names: Vec<&'static str>| {
        for n in names {
            out.entry(n).or_default().push(file);
        }
    };
    let state = "crates/weir-core/src/state.rs";
    add(state, EventStatus::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(state, RunStatus::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(state, RollupCounter::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(state, PlanOutcome::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(state, AttemptOutcome::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(state, RecordAction::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(state, EventErrorType::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(state, SyncErrorType::VARIANTS.iter().map(|v| v.as_str()).collect());
    // `LiveKind` is left out: `LiveBus::publish` takes the enum, so the
    // compiler already refuses a spelled kind, and audit actions share
    // spellings with it (`sync.started`).
    let sync = "crates/weir-core/src/sync.rs";
    add(sync, Direction::VARIANTS.iter().map(|v| v.as_str()).collect());
    add(sync, Trigger::VARIANTS.iter().map(|v| v.as_str()).collect());
    out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "tests" | "migration" | "target") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") && !name.starts_with("tests") && name != "props.rs" {
            out.push(path);
        }
    }
}

/// The file's non-test part: up to its `#[cfg(test)]` module.
fn production_part(text: &str) -> &str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == "#[cfg(test)]" {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// An enum's own variant declarations (`Pending = "pending",`, or a whole
/// one-line `Kind { Http = "http", Webhook = "webhook" }`), which may repeat
/// a spelling another enum also has.
fn is_variant_declaration(line: &str) -> bool {
    let mut t = line.trim();
    if let Some((head, body)) = t.split_once(" { ")
        && head.chars().all(|c| c.is_ascii_alphanumeric())
    {
        t = body.trim_end_matches('}').trim();
    }
    let variant = |piece: &str| {
        let piece = piece.trim();
        piece.split_once(" = \"").is_some_and(|(name, value)| {
            name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric())
                && value.ends_with('"')
                && !value[..value.len() - 1].contains('"')
        })
    };
    !t.is_empty() && t.split(',').filter(|p| !p.trim().is_empty()).all(variant)
}

fn findings() -> Vec<String> {
    let root = workspace();
    let spellings = spellings();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in production_part(&text).lines().enumerate() {
            if line.trim_start().starts_with("//") || line.contains("// not a state:") || is_variant_declaration(line) {
                continue;
            }
            for (spelling, owners) in &spellings {
                if owners.contains(&rel.as_str()) {
                    continue;
                }
                let quoted = format!("\"{spelling}\"");
                let mut rest = line;
                while let Some(i) = rest.find(&quoted) {
                    let after = rest[i + quoted.len()..].trim_start();
                    if !after.starts_with(':') || after.starts_with("::") {
                        found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                    }
                    rest = &rest[i + quoted.len()..];
                }
                if line.contains(&format!("'{spelling}'")) {
                    found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn no_state_is_spelled_as_a_string_outside_its_enum() {
    let found = findings();
    assert!(
        found.is_empty(),
        "state spellings as string literals (name the enum variant instead, or end the line with \
         `// not a state: <why>`):\n{}",
        found.join("\n")
    );
}

/// The check itself sees a literal where one is, and not a key or a variant.
#[test]
fn the_check_tells_values_from_keys_and_declarations() {
    assert!(is_variant_declaration(r#"        Pending = "pending","#));
    assert!(is_variant_declaration(r#"    ConnectorType { Http = "http", Webhook = "webhook" }"#));
    assert!(!is_variant_declaration(r#"        let s = "pending";"#));
    assert!(!is_variant_declaration(r#"        Some(s) => f("pending", x),"#));
    assert_eq!(production_part("a\n#[cfg(test)]\nmod tests {}\n"), "a\n");
    let spellings = spellings();
    assert!(
        spellings.contains_key("pending")
            && spellings.contains_key("outbound")
            && spellings.contains_key("mapping_error")
    );
}
