//! The API test harness: a server on a test's own topics with the users
//! of the policy table, a clock the test moves, and a real TLS client
//! (curl) that trusts only the server's certificate. Used by the API
//! tests and the penetration-test regressions.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hotlist_matcher::access::audit::AuditRecord;
use hotlist_matcher::access::auth::{hash_password, Action, Grant, Role};
use hotlist_matcher::access::principals::{ListRegistration, User};
use hotlist_matcher::api::server::{self, Clock};
use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::Category;
use hotlist_matcher::kafka::hotlist::Lists;
use hotlist_matcher::metrics::Metrics;
use tokio_util::sync::CancellationToken;

use crate::common;

pub struct Client {
    pub base: String,
    pub ca: std::path::PathBuf,
}

impl Client {
    /// (status, body) of one request.
    /// The status of a live stream (server-sent events), read for 2 s.
    pub fn stream_status(&self, path: &str, token: Option<&str>) -> u16 {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            "2",
            "-w",
            "%{http_code}",
            "--cacert",
        ])
        .arg(&self.ca)
        .arg(format!("{}{}", self.base, path));
        if let Some(token) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        let out = cmd.output().expect("curl runs");
        // 28: the stream was still open when the time ran out, as it should be.
        assert!(
            matches!(out.status.code(), Some(0 | 28)),
            "curl failed: {:?}",
            out.status
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
    }

    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-S", "-w", "\n%{http_code}", "--cacert"])
            .arg(&self.ca)
            .args(["-X", method, &format!("{}{}", self.base, path)]);
        if let Some(token) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        if body.is_some() {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", "@-"]);
        }
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("curl runs");
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(body) = body {
            std::io::Write::write_all(&mut stdin, body.as_bytes()).expect("body sent");
        }
        drop(stdin);
        let out = child.wait_with_output().expect("curl ends");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Whether a login succeeds; false also when the server is not up yet.
    pub fn try_login(&self, username: &str, password: &str) -> bool {
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&self.ca)
            .args([
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &body,
            ])
            .arg(format!("{}/api/login", self.base))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).trim() == "200"
    }

    pub fn login(&self, username: &str, password: &str) -> (u16, String) {
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        self.call("POST", "/api/login", None, Some(&body))
    }

    pub fn token(&self, username: &str) -> String {
        self.token_with(username, PASSWORD)
    }

    pub fn token_with(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password);
        assert_eq!(status, 200, "login {username}: {body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

pub const PASSWORD: &str = "a long test password";

/// The users of the test, written to the principals topic before the API starts.
pub async fn seed(config: &Config, now: SystemTime) {
    let hash = hash_password(PASSWORD).unwrap();
    let mut records = Vec::new();
    let mut keys = Vec::new();
    for (name, role) in [
        ("manager", Role::Custodian),
        ("deputy", Role::Officer),
        ("dispatch", Role::Dispatcher),
        ("doj.feed", Role::AgencyFeed),
        ("ops", Role::Ops),
        ("acme", Role::Contractor),
        ("acme.nogrant", Role::Contractor),
        ("acme.expired", Role::Contractor),
        ("spare", Role::Officer),
    ] {
        let organisation = match name {
            "manager" => "City of Coachella",
            "doj.feed" => "CA DOJ",
            _ => "Test Org",
        };
        // Officers are sworn and trained today, as searching requires.
        let user = User::new(name, organisation, role, hash.clone()).unwrap();
        let trained = (role == Role::Officer).then(|| chrono::Utc::now().date_naive());
        let (key, value) = user.with_prerequisites(trained.is_some(), trained, None).record();
        keys.push(key);
        records.push(value);
    }
    for (id, grantee, expires) in [
        ("g1", "acme", now + Duration::from_secs(86_400)),
        ("g2", "acme.expired", now),
    ] {
        let grant = Grant {
            grantee: grantee.into(),
            document_ref: "CM-2026-114".into(),
            scope: vec![Action::Health],
            expires_at: expires,
            revoked: false,
        };
        keys.push(format!("grant:{id}"));
        records.push(serde_json::to_vec(&grant).unwrap());
    }
    let doj = ListRegistration {
        list_id: "doj-stolen".into(),
        organisation: "CA DOJ".into(),
        category: Category::StolenVehicle,
    };
    let (key, value) = doj.record();
    keys.push(key);
    records.push(value);
    let writer = hotlist_matcher::kafka::principals::Writer::new(config).unwrap();
    for (key, record) in keys.iter().zip(&records) {
        writer.write(key, Some(record)).await.unwrap();
    }
}

/// A server on this test's topics, with the seeded users, a clock the test
/// can move, and a client that trusts its certificate.
pub struct Api {
    pub client: Client,
    pub config: Config,
    pub offset: Arc<AtomicU64>,
    pub lists: Lists,
    pub shutdown: CancellationToken,
    pub running: server::Running,
    pub dir: tempfile::TempDir,
}

impl Api {
    pub async fn start(name: &str) -> Api {
        let (config, dir) = Api::topics(name).await;
        Api::serve(config, dir).await
    }

    /// A config on fresh topics of this test (created), and its directory.
    pub async fn topics(name: &str) -> (Config, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let prefix = common::unique(name);
        let text = common::config_text(&prefix, &dir.path().join("h.csv"), 1000);
        let config = Config::from_toml(&text, []).unwrap();
        common::create_topics(&config).await;
        (config, dir)
    }

    /// Seeds the users and starts a server on `config`'s topics.
    pub async fn serve(config: Config, dir: tempfile::TempDir) -> Api {
        let offset = Arc::new(AtomicU64::new(0));
        let clock: Clock = {
            let offset = Arc::clone(&offset);
            Arc::new(move || SystemTime::now() + Duration::from_secs(offset.load(Ordering::Relaxed)))
        };
        seed(&config, clock()).await;
        let shutdown = CancellationToken::new();
        let lists: Lists = Default::default();
        let board = hotlist_matcher::dispatch::board::Board::new(
            config.dispatch.suppression_window,
            lists.clone(),
            shutdown.clone(),
        );
        let keyring = common::keyring(&config).await;
        let running = server::start(
            &config,
            Metrics::new(),
            clock,
            (lists.clone(), board, keyring),
            shutdown.clone(),
        )
        .await
        .unwrap();
        hotlist_matcher::kafka::sealer::start(&config, Metrics::new(), shutdown.clone()).unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, running.self_signed_cert.as_ref().expect("self-signed")).unwrap();
        let client = Client {
            base: format!("https://127.0.0.1:{}", running.address.port()),
            ca,
        };
        Api {
            client,
            config,
            offset,
            lists,
            shutdown,
            running,
            dir,
        }
    }

    /// A session token for every identity of the policy table.
    pub fn tokens(&self) -> HashMap<&'static str, String> {
        IDENTITIES[1..].iter().map(|u| (*u, self.client.token(u))).collect()
    }

    /// Verifies the chain over HTTPS, then reads the audit topic once the
    /// sealer has sealed that request's own record (it seals in order, so
    /// everything before it is there too). Called once per test, at the end.
    pub fn audit_records(&self, manager: &str) -> (serde_json::Value, Vec<AuditRecord>) {
        let (status, verify) = self.client.call("GET", "/api/audit/verify", Some(manager), None);
        assert_eq!(status, 200, "{verify}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let records = common::audit_log(&self.config);
            if records.iter().any(|r| r.event.action == "audit_verified") || Instant::now() > deadline {
                return (serde_json::from_str(&verify).unwrap(), records);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running.task.await.unwrap().unwrap();
    }
}

pub const IDENTITIES: [&str; 9] = [
    "none",
    "manager",
    "deputy",
    "dispatch",
    "doj.feed",
    "ops",
    "acme",
    "acme.nogrant",
    "acme.expired",
];
