//! The pipeline through the broker's SASL_SSL listener (SCRAM-SHA-512 over
//! TLS), configured only as the README documents: the bootstrap address in
//! the config file, everything about security in `HOTLIST_KAFKA_PROPERTY_*`
//! variables. A wrong password or an untrusted broker certificate stops
//! `serve` and `topics` at once, naming the cause and never the password.
//!
//! The listener: `HOTLIST_TEST_SASL_BOOTSTRAP` (127.0.0.1:9094), its CA
//! `HOTLIST_TEST_CA` (.kafka/tls/ca.pem), an unrelated CA
//! `HOTLIST_TEST_OTHER_CA` (.kafka/tls/other-ca.pem), the password of user
//! `hotlist` `HOTLIST_TEST_SCRAM_PASSWORD`, all as `scripts/broker.sh start`
//! sets them up. Without the listener these tests fail, saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::LiveMatcher;
use hotlist_matcher::sample::{self, Rng};

use crate::common;

const USERNAME: &str = "hotlist";

/// The SASL_SSL listener under test and what a client needs for it.
struct Listener {
    bootstrap: String,
    ca: PathBuf,
    other_ca: PathBuf,
    password: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The listener, after checking that it answers: a test that cannot reach
/// it fails (it never passes without having run).
fn listener() -> Listener {
    let tls = concat!(env!("CARGO_MANIFEST_DIR"), "/.kafka/tls");
    let listener = Listener {
        bootstrap: env_or("HOTLIST_TEST_SASL_BOOTSTRAP", "127.0.0.1:9094"),
        ca: env_or("HOTLIST_TEST_CA", &format!("{tls}/ca.pem")).into(),
        other_ca: env_or("HOTLIST_TEST_OTHER_CA", &format!("{tls}/other-ca.pem")).into(),
        password: env_or("HOTLIST_TEST_SCRAM_PASSWORD", "hotlist-test-secret"),
    };
    let start =
        "run scripts/broker.sh start (or set HOTLIST_TEST_SASL_BOOTSTRAP, HOTLIST_TEST_CA and HOTLIST_TEST_OTHER_CA)";
    let answered = std::net::ToSocketAddrs::to_socket_addrs(listener.bootstrap.as_str())
        .map_err(|e| e.to_string())
        .and_then(|mut addresses| addresses.next().ok_or_else(|| "no address".to_owned()))
        .and_then(|address| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_secs(3)).map_err(|e| e.to_string())
        });
    if let Err(e) = answered {
        panic!(
            "the SASL_SSL listener {} does not answer ({e}): {start}",
            listener.bootstrap
        );
    }
    for ca in [&listener.ca, &listener.other_ca] {
        assert!(ca.is_file(), "the test CA {} is missing: {start}", ca.display());
    }
    listener
}

/// The documented security settings, as environment variables.
fn security_env(password: &str, ca: &Path) -> Vec<(String, String)> {
    [
        ("HOTLIST_KAFKA_PROPERTY_SECURITY_PROTOCOL", "SASL_SSL"),
        ("HOTLIST_KAFKA_PROPERTY_SASL_MECHANISMS", "SCRAM-SHA-512"),
        ("HOTLIST_KAFKA_PROPERTY_SASL_USERNAME", USERNAME),
        ("HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD", password),
        (
            "HOTLIST_KAFKA_PROPERTY_SSL_CA_LOCATION",
            ca.to_str().expect("utf-8 path"),
        ),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .into()
}

/// This test's config file (see [`common::config_file`]) with the SASL_SSL
/// listener as its bootstrap; returns its path and text. The file holds no
/// secret.
fn secured_config_file(dir: &Path, prefix: &str, bootstrap: &str) -> (PathBuf, String) {
    let (path, _) = common::config_file(dir, prefix);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut replaced = 0;
    let text: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("bootstrap_servers") {
                replaced += 1;
                format!("bootstrap_servers = {bootstrap:?}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_eq!(replaced, 1, "one bootstrap_servers line in {text}");
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

/// The binary with `config` and `env`, and no other `HOTLIST_*` variable
/// from the test's own environment.
fn matcher(config: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HOTLIST_") {
            command.env_remove(name);
        }
    }
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().cloned())
        .env("HOTLIST_LOG", "info");
    command
}

/// What a run that was expected to stop by itself did.
struct Run {
    /// `None`: still running at the limit, and killed.
    status: Option<ExitStatus>,
    took: Duration,
    stdout: String,
    stderr: String,
}

/// Runs `command` for at most `limit`.
fn run_for(mut command: Command, dir: &Path, limit: Duration) -> Run {
    let (out, err) = (dir.join("run.out"), dir.join("run.err"));
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("matcher started");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        took: started.elapsed(),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
    }
}

/// The lines the binary printed as its error (`error: ...`).
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("error: ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_through_the_sasl_ssl_listener_with_settings_from_the_environment() {
    let listener = listener();
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("secure");
    let (config_path, text) = secured_config_file(dir.path(), &prefix, &listener.bootstrap);
    assert!(!text.contains(&listener.password), "no secret in the file");
    let env = security_env(&listener.password, &listener.ca);
    // The test's own clients: the same file and variables, so the same listener.
    let config = Config::from_toml(&text, env.clone()).expect("valid config");
    assert_eq!(config.kafka.bootstrap_servers, listener.bootstrap);
    assert_eq!(
        config.kafka.properties.get("security.protocol").map(String::as_str),
        Some("SASL_SSL")
    );
    common::create_topics(&config).await;

    let mut rng = Rng::new(94);
    let entries = sample::hotlist(&mut rng, 300, "it-secure");
    common::write_hotlist(&dir.path().join("h.csv"), &entries);
    let hotlist = LiveMatcher::new(entries.clone(), config.matching.clone());
    let stream = common::stream(&mut rng, &entries, &hotlist, 2_000, 40);
    assert_eq!(stream.expected_alerts.len(), 40);
    common::produce(&config, &config.topics.reads, &stream.records).await;

    let reader = common::reader(&config, &config.topics.alerts);
    let mut alerts = Vec::new();
    let log_path = dir.path().join("serve.log");
    let mut serve = matcher(&config_path, &env, &["serve"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("serve started");
    let started = Instant::now();
    let complete = common::drain_until(&reader, &mut alerts, Duration::from_secs(90), |m| {
        stream.expected_alerts.is_subset(&common::alert_ids(m))
    })
    .await;
    let all_alerts_after = started.elapsed();
    let early_exit = serve.try_wait().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    let exit = serve.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    eprintln!("all 40 alerts {all_alerts_after:?} after serve started");

    assert_eq!(early_exit, None, "serve was still running at SIGTERM:\n{log}");
    assert!(status.success());
    assert!(complete, "every planted hit alerted over SASL_SSL; serve's log:\n{log}");
    assert_eq!(common::alert_ids(&alerts), stream.expected_alerts);
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}\n{log}");
    assert!(
        !log.contains(&listener.password),
        "the password is in serve's log:\n{log}"
    );
    assert_eq!(error_lines(&log), Vec::<&str>::new(), "{log}");
    assert_eq!(common::lag(&config, &config.kafka.group_id, &config.topics.reads), 0);
}

/// Runs `serve` and `topics` with `password` and the CA at `ca`: each must
/// exit 1 within 15 s with exactly one error line naming `cause`, print
/// nothing on stdout, and show none of `secrets`.
fn both_commands_are_refused(listener: &Listener, password: &str, ca: &Path, cause: &str, secrets: &[&str]) {
    for command in ["serve", "topics"] {
        let dir = tempfile::tempdir().unwrap();
        let prefix = common::unique("refused");
        let (config_path, _) = secured_config_file(dir.path(), &prefix, &listener.bootstrap);
        common::write_hotlist(&dir.path().join("h.csv"), &[]);
        let env = security_env(password, ca);
        let run = run_for(
            matcher(&config_path, &env, &[command]),
            dir.path(),
            Duration::from_secs(15),
        );
        eprintln!("{command} refused ({cause}) after {:?}", run.took);
        assert_eq!(
            run.status.map(|s| s.code()),
            Some(Some(1)),
            "{command} exits 1 within 15 s (took {:?}); stderr:\n{}",
            run.took,
            run.stderr
        );
        assert_eq!(
            error_lines(&run.stderr),
            [format!("error: cannot reach Kafka at {}: {cause}", listener.bootstrap)],
            "{command} stderr:\n{}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "{command}");
        for secret in secrets {
            assert!(
                !run.stderr.contains(secret),
                "{command} shows a password:\n{}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_wrong_password_stops_serve_and_topics_at_once_naming_authentication_not_the_password() {
    let listener = listener();
    let wrong = format!("wrong-{}", common::unique("pw"));
    assert!(!wrong.contains(&listener.password) && !listener.password.contains(&wrong));
    both_commands_are_refused(
        &listener,
        &wrong,
        &listener.ca,
        "authentication failed (SASL/SCRAM-SHA-512): check sasl.username and HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD",
        &[&wrong, &listener.password],
    );
}

#[test]
fn a_client_that_does_not_trust_the_brokers_ca_is_refused_naming_the_certificate() {
    let listener = listener();
    both_commands_are_refused(
        &listener,
        &listener.password,
        &listener.other_ca,
        "TLS handshake failed, the broker's certificate is not trusted: check ssl.ca.location and that the certificate covers the broker's address",
        &[&listener.password],
    );
}
