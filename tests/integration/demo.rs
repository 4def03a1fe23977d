//! The demo runs to completion on its embedded broker, with nothing else running.

/// Runs `demo --reads N` on the embedded broker; its stdout, once it succeeded.
fn run_demo(reads: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["demo", "--reads", reads])
        .env_remove("HOTLIST_BOOTSTRAP_SERVERS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_demo_runs_to_completion_on_the_embedded_broker() {
    let stdout = run_demo("600");
    assert!(stdout.contains("broker: embedded mock cluster"), "{stdout}");
    assert!(stdout.contains("API: https://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("bootstrap custodian: demo.manager / demo-"), "{stdout}");
    assert!(stdout.contains("reads processed      600"), "{stdout}");
    let planted_total = every_planted_hit_found(&stdout);
    let alerts = stdout.lines().filter(|l| l.starts_with("ALERT ")).count();
    assert!(planted_total >= 10, "{stdout}");
    assert!(alerts >= planted_total, "each planted hit printed an alert: {stdout}");
    assert!(!stdout.contains("more alerts, not printed"), "{stdout}");
}

/// Checks the summary's kind lines ("<kind> <found> of <planted> planted",
/// found == planted) and dead letters; returns the hits planted.
fn every_planted_hit_found(stdout: &str) -> usize {
    assert!(
        stdout.contains("dead letters          15  (planted malformed: 15)"),
        "{stdout}"
    );
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
    planted_total
}

/// Issue 20: from about 17,000 reads on, the demo never finished (the
/// embedded broker keeps 5 MiB of a partition, and the reads streamed all at
/// once were deleted before the service read them).
#[test]
fn the_demo_at_fifty_thousand_reads_finds_every_planted_hit() {
    let started = std::time::Instant::now();
    let stdout = run_demo("50000");
    eprintln!("demo of 50,000 reads: {:?}", started.elapsed());
    assert!(stdout.contains("reads processed    50000"), "{stdout}");
    let planted = every_planted_hit_found(&stdout);
    assert!(planted > 1000, "{stdout}");
    // The first 50 alerts, then a count of the rest.
    let printed = stdout.lines().filter(|l| l.starts_with("ALERT ")).count();
    assert_eq!(printed, 50, "{stdout}");
    let alerts: usize = summary_number(&stdout, "  alerts ");
    assert!(
        stdout.contains(&format!(
            "... and {} more alerts, not printed (--all prints every one)",
            alerts - 50
        )),
        "{stdout}"
    );
    let per_second = summary_number(&stdout, "  reads per second ");
    assert!(per_second > 0, "{stdout}");
    assert!(stdout.contains("(50000 reads streamed and matched in "), "{stdout}");
    assert!(stdout.contains("progress: "), "{stdout}");
}

/// The first number on the summary line starting with `label`.
fn summary_number(stdout: &str, label: &str) -> usize {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line: {stdout}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn the_demo_serves_its_api_over_tls_to_its_bootstrap_custodian() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["demo", "--reads", "300", "--serve"])
        .env_remove("HOTLIST_BOOTSTRAP_SERVERS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut api, mut board) = (crate::common::DemoApi::default(), String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        api.read(&line);
        if let Some(rest) = line.strip_prefix("dispatch board: ") {
            board = rest.to_owned();
        }
        if line.starts_with("the API and the dispatch board stay up") {
            break;
        }
    }
    let crate::common::DemoApi { url, ca, password } = api;
    // "https://127.0.0.1:<port>/board (<n> alerts to verify); log in as demo.dispatcher / <password>"
    assert!(board.starts_with(&format!("{url}/board (")), "{board}");
    let waiting: usize = board.split(['(', ' ']).find_map(|w| w.parse().ok()).unwrap();
    assert!(waiting > 0, "the demo's alerts are on the board: {board}");
    assert!(
        board.ends_with(&format!("log in as demo.dispatcher / {password}")),
        "{board}"
    );
    assert!(
        url.starts_with("https://127.0.0.1:") && !password.is_empty(),
        "{url} {password}"
    );
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-s", "--cacert", &ca])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // The dispatcher's live feed starts with the demo's alerts.
    let body = format!(r#"{{"username":"demo.dispatcher","password":"{password}"}}"#);
    let session = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
        &format!("{url}/api/login"),
    ]);
    let token = serde_json::from_str::<serde_json::Value>(&session).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = format!("Authorization: Bearer {token}");
    let feed = curl(&[
        "-N",
        "--max-time",
        "3",
        "-H",
        &auth,
        &format!("{url}/api/alerts/events"),
    ]);
    assert!(
        feed.starts_with("event: snapshot\ndata: {\"incidents\":[{"),
        "{feed:.300}"
    );
    assert!(curl(&[&format!("{url}/board")]).contains("Verify before acting"));
    let login = |password: &str| {
        let body = format!(r#"{{"username":"demo.manager","password":"{password}"}}"#);
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", &ca])
            .args([
                "-H",
                "Content-Type: application/json",
                "-d",
                &body,
                &format!("{url}/api/login"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(login(&password), "200");
    assert_eq!(login("wrong password"), "401");
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success(), "Ctrl-C stops the demo cleanly");
}
