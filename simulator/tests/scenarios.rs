//! The scenario files shipped in `fixtures/scenarios/` parse, and a scenario file drives faults.

use std::path::PathBuf;

use sluice_sim::Scenario;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios")
}

#[test]
fn shipped_scenarios_parse() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 4);
}

#[test]
fn scenario_errors_name_the_problem() {
    let e = Scenario::parse(
        "[[rule]]\nprovider = \"openai\"\nchoose = [{ weight = 1, fault = \"drip=9ms..1ms\" }]",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("rule 1") && e.contains("MIN <= MAX"), "{e}");
    let e = Scenario::parse("[[rule]]\nfault = \"reset\"\nextra = 1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("extra"), "{e}");
}
