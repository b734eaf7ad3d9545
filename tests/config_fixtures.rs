//! The example configs in fixtures/config parse and validate, so the documented keys stay true.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use sluice::Config;

#[test]
fn example_configs_load() {
    // The examples read keys from the environment.
    for var in [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "XAI_API_KEY",
        "GEMINI_API_KEY",
        "VERTEX_SERVICE_ACCOUNT_JSON",
        "SLUICE_TOKEN_BACKEND",
        "SLUICE_ADMIN_TOKEN",
    ] {
        std::env::set_var(var, "sk-test-value-from-env");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let c = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!c.channels.is_empty() && !c.tokens.is_empty());
            n += 1;
        }
    }
    assert!(n >= 2, "expected the example configs in {}", dir.display());
}
