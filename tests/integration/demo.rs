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
    let alerts = stdout.lines().filter(|l| l.starts_with("ALERT ")).count();
    assert!(alerts >= 12, "600 reads plant 12 hits: {stdout}");
    assert!(stdout.contains("reads processed      600"), "{stdout}");
    assert!(
        stdout.contains("dead letters          15  (planted malformed: 15)"),
        "{stdout}"
    );
}
