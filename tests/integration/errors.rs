//! The common failures a new user meets, each reported once, on one line,
//! with what to check (issue 20): no broker at the address, a config file
//! that is missing, broken or has an unknown key, a topic that does not
//! exist, a port in use, a certificate file that is missing. (A password
//! the broker refuses is in `secure.rs`.)

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::common;

fn matcher() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"));
    for name in ["HOTLIST_BOOTSTRAP_SERVERS", "HOTLIST_CONFIG", "HOTLIST_LOG"] {
        command.env_remove(name);
    }
    command.env("HOTLIST_LOG", "off");
    command
}

/// Runs `command` (killed after `limit`): its exit code, stderr, and time.
fn run(mut command: Command, limit: Duration) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, reader.join().unwrap(), started.elapsed())
}

/// Asserts the run exited 1 printing exactly `expected` as its error,
/// once, and nothing else on stderr.
fn fails_once_with(command: Command, limit: Duration, expected: &str) -> Duration {
    let (code, stderr, took) = run(command, limit);
    assert_eq!(
        code,
        Some(1),
        "exits 1 within {limit:?} (took {took:?}); stderr:\n{stderr}"
    );
    assert_eq!(stderr, format!("error: {expected}\n"));
    took
}

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn no_broker_at_the_address_is_named_within_seconds_for_every_command() {
    let port = closed_port();
    let address = format!("127.0.0.1:{port}");
    let expected = format!(
        "cannot reach Kafka at {address}: nothing listens there (connection refused): check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS"
    );
    let dir = tempfile::tempdir().unwrap();
    // A config file of two keys: the address comes from it.
    let config = write(
        dir.path(),
        "c.toml",
        &format!("[kafka]\nbootstrap_servers = \"{address}\"\n[security]\ndevelopment_key = true\n"),
    );
    for args in [
        &["topics", "--check"][..],
        &["topics"],
        &["serve"],
        &["audit", "verify"],
        &["retention", "verify"],
    ] {
        let mut command = matcher();
        command.args(["--config", &config]).args(args);
        let took = fails_once_with(command, Duration::from_secs(15), &expected);
        assert!(took < Duration::from_secs(6), "{args:?} took {took:?}");
    }
    let mut command = matcher();
    command.args(["demo", "--reads", "100", "--bootstrap-servers", &address]);
    let took = fails_once_with(command, Duration::from_secs(15), &expected);
    assert!(took < Duration::from_secs(6), "demo took {took:?}");
    // The environment variable the message names overrides the file.
    let mut command = matcher();
    command
        .args(["--config", &config, "topics", "--check"])
        .env("HOTLIST_BOOTSTRAP_SERVERS", format!("127.0.0.1:{}", closed_port()));
    let (_, stderr, _) = run(command, Duration::from_secs(15));
    assert!(!stderr.contains(&address), "{stderr}");
}

#[test]
fn config_files_that_are_missing_broken_or_mistyped_are_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml").display().to_string();
    let mut command = matcher();
    command.args(["--config", &missing, "topics", "--check"]);
    fails_once_with(
        command,
        Duration::from_secs(10),
        &format!(
            "cannot read config file {missing}: No such file or directory (os error 2): check --config / HOTLIST_CONFIG"
        ),
    );

    let typo = write(dir.path(), "typo.toml", "[pipeline]\nbatch_sise = 100\n");
    let mut command = matcher();
    command.args(["--config", &typo, "topics", "--check"]);
    fails_once_with(
        command,
        Duration::from_secs(10),
        "unknown config key pipeline.batch_sise: did you mean pipeline.batch_size?",
    );

    let broken = write(dir.path(), "broken.toml", "[pipeline\n");
    let mut command = matcher();
    command.args(["--config", &broken, "topics", "--check"]);
    fails_once_with(
        command,
        Duration::from_secs(10),
        "config is not valid: TOML parse error at line 1, column 10\n  |\n1 | [pipeline\n  |          ^\nunclosed table, expected `]`\n",
    );
}

/// The config text of `prefix` (the test broker, its own topics, the
/// development key), with `[api]` keys replaced by `api`.
fn serve_config(dir: &Path, prefix: &str, api: &[(&str, String)]) -> String {
    let hotlist = dir.join("h.csv");
    common::write_hotlist(&hotlist, &[]);
    let mut text = common::config_text(prefix, &hotlist, 100);
    for (key, value) in api {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in the config"))
            .to_owned();
        text = text.replace(&format!("\n{line}\n"), &format!("\n{key} = {value:?}\n"));
    }
    write(dir, "config.toml", &text)
}

#[tokio::test]
async fn a_missing_topic_a_port_in_use_and_a_missing_certificate_are_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("errors");
    let config = serve_config(dir.path(), &prefix, &[]);
    let mut command = matcher();
    command.args(["--config", &config, "serve"]).current_dir(dir.path());
    let reads = format!("{prefix}.alpr.reads");
    let (code, stderr, _) = run(command, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    let line = stderr.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!("error: topic {prefix}.alpr.")) && line.ends_with(
            " does not exist: run `hotlist-matcher topics` to create the topics, or check the names under [topics] in the config"
        ),
        "{stderr} ({reads})"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    common::create_topics(&common::config(&prefix, &dir.path().join("h.csv"), 100)).await;
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap();
    for (key, says) in [
        ("listen", format!("the API: cannot listen on {taken}: Address already in use (os error 98): check that no other process holds the port, or set api.listen")),
        ("admin_listen", format!("cannot listen on the admin port {taken}: Address already in use (os error 98): check that no other process holds the port, or set api.admin_listen")),
    ] {
        let config = serve_config(dir.path(), &prefix, &[(key, taken.to_string())]);
        let mut command = matcher();
        command.args(["--config", &config, "serve"]).current_dir(dir.path());
        fails_once_with(command, Duration::from_secs(60), &says);
    }

    let cert = dir.path().join("no-such-cert.pem").display().to_string();
    let key = dir.path().join("no-such-key.pem").display().to_string();
    let config = serve_config(
        dir.path(),
        &prefix,
        &[("tls_cert_path", cert.clone()), ("tls_key_path", key)],
    );
    let mut command = matcher();
    command.args(["--config", &config, "serve"]).current_dir(dir.path());
    fails_once_with(
        command,
        Duration::from_secs(60),
        &format!("the API: cannot read the TLS certificate {cert}: No such file or directory (os error 2): check api.tls_cert_path and api.tls_key_path"),
    );
    drop(held);
}
