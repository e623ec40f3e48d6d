//! Test-only npm packages (the OpenID provider, axe-core), each in its own
//! folder under `tests/` and pinned by its `package-lock.json`. When one is
//! missing, `npm ci` installs it from the npm registry, once per test
//! process, as `.ci/run` does before the suite.

use std::path::{Path, PathBuf};

/// `tests/<folder>` of this crate.
pub fn dir(folder: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(folder)
}

/// Runs `npm ci` in `tests/<folder>` unless `node_modules/<package>` is there.
pub async fn ensure(folder: &'static str, package: &str) -> PathBuf {
    static INSTALLS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let root = dir(folder);
    let _one_at_a_time = INSTALLS.lock().await;
    if !installed(&root, package) {
        let status = tokio::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&root)
            .status()
            .await
            .expect("npm (node 20 with npm is needed for these tests)");
        assert!(status.success(), "npm ci in tests/{folder} failed");
    }
    root
}

fn installed(root: &Path, package: &str) -> bool {
    root.join("node_modules").join(package).join("package.json").exists()
}
