//! The demo runs to completion on its embedded broker, with nothing else running.

#[test]
fn the_demo_runs_to_completion_on_the_embedded_broker() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["demo", "--reads", "600"])
        .env_remove("HOTLIST_BOOTSTRAP_SERVERS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("broker: embedded mock cluster"), "{stdout}");
    assert!(stdout.contains("reads processed      600"), "{stdout}");
    assert!(
        stdout.contains("dead letters          15  (planted malformed: 15)"),
        "{stdout}"
    );
    // Every kind line reads "<kind> <found> of <planted> planted", found == planted.
    let mut planted_total = 0;
    for kind in ["exact", "ocr_equivalent", "fuzzy", "wildcard", "partial"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(kind) && l.ends_with("planted"))
            .unwrap_or_else(|| panic!("no summary line for {kind}: {stdout}"));
        let numbers: Vec<usize> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        assert_eq!(numbers.len(), 2, "{line}");
        assert_eq!(numbers[0], numbers[1], "every planted {kind} hit found: {line}");
        planted_total += numbers[1];
    }
    let alerts = stdout.lines().filter(|l| l.starts_with("ALERT ")).count();
    assert!(planted_total >= 10, "{stdout}");
    assert!(alerts >= planted_total, "each planted hit printed an alert: {stdout}");
}
