//! One audit chain, whatever the number of instances (issue 12): three
//! `serve` processes on the same topics take logins, searches and uploads
//! in turn; the one sealing the chain is killed with SIGKILL mid-way; the
//! other two go on. Every access made is sealed exactly once, and the
//! chain verifies, through the library and through `audit verify`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use crate::api_harness::{seed, Client, PASSWORD};
use crate::common;

/// One `serve` process and a client that reaches it.
struct Instance {
    child: Option<Child>,
    client: Client,
    log: PathBuf,
}

impl Instance {
    fn alive(&self) -> bool {
        self.child.is_some()
    }

    /// Whether this instance holds the chain now, by its log: its last
    /// sealer line is a take-over.
    fn sealing(&self) -> bool {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let last = log
            .lines()
            .rev()
            .find(|l| l.contains("audit sealer: took over") || l.contains("audit sealer: partition given up"));
        last.is_some_and(|l| l.contains("took over"))
    }
}

/// A certificate every instance serves, so one client trusts all three.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, pair.cert.pem()).unwrap();
    std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// Two ports free now (held together, so they differ).
fn free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, b) = (bind(), bind());
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

/// Starts instance `n` with `text` (the shared config) on a port of its own.
fn start(dir: &Path, text: &str, n: usize, cert: &Path) -> Instance {
    let (port, admin) = free_ports();
    let text = text
        .replace(
            "admin_listen = \"127.0.0.1:0\"",
            &format!("admin_listen = \"127.0.0.1:{admin}\""),
        )
        .replace(
            "\nlisten = \"127.0.0.1:0\"",
            &format!("\nlisten = \"127.0.0.1:{port}\""),
        );
    let path = dir.join(format!("config-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    let log = dir.join(format!("serve-{n}.log"));
    let child = common::serve_process(&path, &log, &[]);
    let client = Client {
        base: format!("https://127.0.0.1:{port}"),
        ca: cert.to_path_buf(),
    };
    Instance {
        child: Some(child),
        client,
        log,
    }
}

fn search_body() -> String {
    let purpose = serde_json::json!({"category": "stolen_vehicle", "case_number": "RSO-26-004417",
        "details": "stolen Civic reported 11/26"});
    serde_json::json!({"plate": "7ABC123", "purpose": purpose}).to_string()
}

/// Logs in, searches and (every third round) uploads on `instance`,
/// counting each access by its audit action.
fn work(instance: &Instance, round: usize, made: &mut BTreeMap<&'static str, usize>) {
    let client = &instance.client;
    let deputy = client.token("deputy");
    *made.entry("login").or_default() += 1;
    let (status, body) = client.call("POST", "/api/search/reads", Some(&deputy), Some(&search_body()));
    assert_eq!(status, 200, "{body}");
    *made.entry("search_reads").or_default() += 1;
    if round % 3 == 0 {
        let feed = client.token("doj.feed");
        *made.entry("login").or_default() += 1;
        let url = "/api/hotlists/doj-stolen?format=ncic&reason=nightly%20DOJ%20extract";
        let list = format!("LIC/ABC{round:03}.LIS/CA.NIC/V{round}\n");
        let (status, body) = client.call("POST", url, Some(&feed), Some(&list));
        assert_eq!(status, 200, "{body}");
        *made.entry("hotlist_upload").or_default() += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_one_killed_mid_way_seal_every_access_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("sealer");
    let hotlist = dir.path().join("hotlist.csv");
    std::fs::write(
        &hotlist,
        "entry_id,list_id,plate,region,category,priority,description\n",
    )
    .unwrap();
    let (cert, key) = certificate(dir.path());
    let text = common::config_text(&prefix, &hotlist, 50)
        .replace("session_timeout_ms = 45000", "session_timeout_ms = 6000")
        .replace(
            "tls_cert_path = \"\"",
            &format!("tls_cert_path = {:?}", cert.display().to_string()),
        )
        .replace(
            "tls_key_path = \"\"",
            &format!("tls_key_path = {:?}", key.display().to_string()),
        );
    let config = hotlist_matcher::config::Config::from_toml(&text, []).unwrap();
    common::create_topics(&config).await;
    seed(&config, std::time::SystemTime::now()).await;
    let mut instances: Vec<Instance> = (0..3).map(|n| start(dir.path(), &text, n, &cert)).collect();
    for instance in &instances {
        let up = common::wait_for_sync(Duration::from_secs(90), || {
            instance.client.try_login("deputy", PASSWORD)
        });
        let log = std::fs::read_to_string(&instance.log).unwrap_or_default();
        assert!(
            up,
            "instance at {} never answered; its log:\n{log}",
            instance.client.base
        );
    }
    // The logins that checked each instance is up are accesses too.
    let mut made: BTreeMap<&'static str, usize> = BTreeMap::from([("login", 3)]);

    let rounds = 12;
    let mut killed = None;
    for round in 0..rounds {
        if round == rounds / 2 {
            let holder = common::wait_for_sync(Duration::from_secs(30), || instances.iter().any(Instance::sealing));
            assert!(holder, "no instance took the chain");
            let n = instances.iter().position(Instance::sealing).unwrap();
            let mut child = instances[n].child.take().unwrap();
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed = Some(n);
        }
        for instance in instances.iter().filter(|i| i.alive()) {
            work(instance, round, &mut made);
        }
    }
    let expected: usize = made.values().sum();

    let records = common::sealed_audit(&config, |records| records.len() >= expected).await;
    let sealed: BTreeMap<&str, usize> = records.iter().fold(BTreeMap::new(), |mut by, r| {
        *by.entry(r.event.action.as_str()).or_default() += 1;
        by
    });
    let made: BTreeMap<&str, usize> = made.into_iter().collect();
    assert_eq!(sealed, made, "one sealed record per access");
    assert_eq!(records.len(), expected);
    let distinct: HashSet<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r.event.action.clone(),
                r.event.username.clone(),
                r.event.at.to_rfc3339(),
            )
        })
        .collect();
    assert_eq!(distinct.len(), expected, "no access sealed twice");
    assert_eq!(hotlist_matcher::access::audit::verify(&config.key, &records), Ok(()));
    let took_over = instances.iter().filter(|i| i.alive() && i.sealing()).count();
    assert_eq!(
        took_over, 1,
        "one surviving instance took the chain over from {killed:?}"
    );

    let config_path = dir.path().join("config-0.toml");
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout).trim(),
        format!("audit chain intact: {expected} records")
    );
    assert!(verify.status.success());
    for instance in &mut instances {
        if let Some(mut child) = instance.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

/// Write access to the topics is not enough (issue 12): a record produced
/// straight to `alpr.audit` by a client without the service key is named
/// by `verify`, and an event produced straight to `alpr.audit-events` with
/// another key is never sealed; the instance's own accesses go on being
/// sealed after the last keyed record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_events_written_without_the_key_are_named_or_refused() {
    use hotlist_matcher::access::audit::{sign_event, Chain};
    use hotlist_matcher::access::keys::ServiceKey;
    let api = crate::api_harness::Api::start("sealer-forged").await;
    let manager = api.client.token("manager");
    let sealed = common::sealed_audit(&api.config, |records| records.iter().any(|r| r.event.action == "login")).await;
    let last = sealed.last().expect("the login is sealed").clone();

    let forger_key = ServiceKey::from_bytes(&[b'f'; 32]).unwrap();
    let mut event = last.event.clone();
    event.username = "forger".into();
    event.action = "list_users".into();
    let forged = Chain::after(forger_key.clone(), &last).append(event.clone());
    common::produce(
        &api.config,
        &api.config.topics.audit,
        &[serde_json::to_vec(&forged).unwrap()],
    )
    .await;
    let forged_event = sign_event(&forger_key, &event);
    common::produce(&api.config, &api.config.topics.audit_events, &[forged_event]).await;

    assert_eq!(api.client.call("GET", "/api/users", Some(&manager), None).0, 200);
    let (verify, records) = api.audit_records(&manager);
    assert_eq!(
        verify["problem"],
        format!(
            "audit record {} is broken: not written with the service key, or changed since",
            last.seq + 1
        ),
        "{verify}"
    );
    assert_eq!(verify["intact"], false);
    let forger: Vec<u64> = records
        .iter()
        .filter(|r| r.event.username == "forger")
        .map(|r| r.seq)
        .collect();
    assert_eq!(forger, [last.seq + 1], "only the record produced straight to the topic");
    let ours: Vec<&str> = records
        .iter()
        .filter(|r| r.seq > last.seq && r.event.username == "manager")
        .map(|r| r.event.action.as_str())
        .collect();
    assert_eq!(
        ours,
        ["list_users", "audit_verified"],
        "sealed after the last keyed record"
    );
    let keyed: Vec<_> = records
        .iter()
        .filter(|r| r.event.username != "forger")
        .cloned()
        .collect();
    assert_eq!(hotlist_matcher::access::audit::verify(&api.config.key, &keyed), Ok(()));
    api.stop().await;
}
