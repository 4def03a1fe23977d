//! In-memory stores and a harness that drives the router with
//! `tower::ServiceExt::oneshot`: no broker, no socket, no TLS.
//!
//! The harness seeds the identities of the policy table (one user per role,
//! a contractor with a live grant, one without, one whose grant expired) and
//! runs on a clock the test moves. The audit fake chains its records with
//! the real [`Chain`], so what a test reads back verifies like the topic.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use axum::response::Response;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::server::router;
use super::state::ApiState;
use super::stores::{
    AuditLog, BoxFuture, DecisionLog, HotlistUpload, Keep, PrincipalWriter, StoreError, Stores, TopicScan,
};
use crate::access::audit::{AuditEvent, AuditRecord, Chain};
use crate::access::auth::{hash_password, Action, Grant, Role};
use crate::access::principals::{ListRegistration, Principals, User};
use crate::alert::lifecycle::Transition;
use crate::config::Config;
use crate::dispatch::board::Board;
use crate::hotlist::plan::{PlateChanges, UploadCounts, UploadOutcome, UploadReport, Uploader};
use crate::hotlist::preview::{Preview, PreviewRow, Previewed};
use crate::hotlist::{Category, HotlistEntry};
use crate::metrics::Metrics;

/// Principal records written, or a broker that is down.
#[derive(Default)]
pub struct MemoryPrincipals {
    pub written: Mutex<Vec<(String, Option<Vec<u8>>)>>,
    pub down: AtomicBool,
}

impl MemoryPrincipals {
    /// The records written, sessions and failed-login counts left out.
    pub fn written_principals(&self) -> Vec<(String, Option<Vec<u8>>)> {
        let written = self.written.lock().unwrap();
        let principals = written.iter().filter(|(key, _)| {
            use crate::access::sessions::{FAILURES, PREFIX};
            !key.starts_with(PREFIX) && !key.starts_with(FAILURES)
        });
        principals.cloned().collect()
    }
}

impl PrincipalWriter for MemoryPrincipals {
    fn write<'a>(&'a self, key: &'a str, value: Option<&'a [u8]>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.down.load(Ordering::Relaxed) {
                return Err(StoreError::Failed("broker 10.0.0.7:9092 is down (test)".into()));
            }
            let record = (key.to_owned(), value.map(<[u8]>::to_vec));
            self.written.lock().unwrap().push(record);
            Ok(())
        })
    }
}

/// The audit chain, in memory; `behind` makes it refuse events as a log
/// that is not keeping up does.
pub struct MemoryAudit {
    chain: Mutex<(Chain, Vec<AuditRecord>)>,
    pub behind: AtomicBool,
}

impl Default for MemoryAudit {
    fn default() -> Self {
        MemoryAudit {
            chain: Mutex::new((Chain::start(crate::access::keys::ServiceKey::development()), Vec::new())),
            behind: AtomicBool::new(false),
        }
    }
}

impl MemoryAudit {
    pub fn records(&self) -> Vec<AuditRecord> {
        self.chain.lock().unwrap().1.clone()
    }

    /// How many records have `action`.
    pub fn count(&self, action: &str) -> usize {
        self.records().iter().filter(|r| r.event.action == action).count()
    }

    /// The action of the last record.
    pub fn last(&self) -> Option<AuditEvent> {
        self.records().pop().map(|r| r.event)
    }
}

impl AuditLog for MemoryAudit {
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, Result<(), StoreError>> {
        if self.behind.load(Ordering::Relaxed) {
            return Box::pin(async { Err(StoreError::Busy("the audit log is not keeping up".into())) });
        }
        let mut chain = self.chain.lock().unwrap();
        let record = chain.0.append(event);
        chain.1.push(record);
        Box::pin(async { Ok(()) })
    }

    fn read_all(&self) -> BoxFuture<'_, Result<Vec<AuditRecord>, StoreError>> {
        let records = self.records();
        Box::pin(async move { Ok(records) })
    }
}

/// Topics as lists of payloads; `down` makes every scan fail as an
/// unreachable broker does.
#[derive(Default)]
pub struct MemoryScan {
    pub topics: Mutex<HashMap<String, Vec<Vec<u8>>>>,
    pub down: AtomicBool,
}

impl TopicScan for MemoryScan {
    fn scan<'a>(
        &'a self,
        topic: &'a str,
        limit: usize,
        mut keep: Keep,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, StoreError>> {
        if self.down.load(Ordering::Relaxed) {
            return Box::pin(async { Err(StoreError::Failed("broker 10.0.0.7:9092 is down (test)".into())) });
        }
        let payloads = self.topics.lock().unwrap().get(topic).cloned().unwrap_or_default();
        let found = payloads.into_iter().filter(|p| keep(p)).take(limit).collect();
        Box::pin(async move { Ok(found) })
    }
}

/// Lists, their owners and plates; an upload replaces a list's plates
/// (every entry counts as added; the plates it no longer has as removed).
#[derive(Default)]
pub struct MemoryHotlists {
    pub owners: Mutex<HashMap<String, String>>,
    pub plates: Mutex<HashMap<String, Vec<String>>>,
    /// Set: every upload is fenced by another upload of its list.
    pub superseded: std::sync::atomic::AtomicBool,
}

impl HotlistUpload for MemoryHotlists {
    fn upload<'a>(
        &'a self,
        list_id: &'a str,
        entries: &'a [Arc<HotlistEntry>],
        uploader: Uploader<'a>,
    ) -> BoxFuture<'a, Result<UploadOutcome, StoreError>> {
        if self.superseded.load(std::sync::atomic::Ordering::Relaxed) {
            let fenced = crate::kafka::KafkaError::Superseded {
                list: list_id.to_owned(),
            };
            return Box::pin(async move { Err(fenced.into()) });
        }
        let mut owners = self.owners.lock().unwrap();
        let owner = owners
            .entry(list_id.to_owned())
            .or_insert_with(|| uploader.organisation.to_owned());
        let outcome = if uploader.enforce_owner && owner.as_str() != uploader.organisation {
            UploadOutcome::NotOwner { owner: owner.clone() }
        } else {
            let new: Vec<String> = entries.iter().map(|e| e.plate.to_string()).collect();
            let old = self
                .plates
                .lock()
                .unwrap()
                .insert(list_id.to_owned(), new.clone())
                .unwrap_or_default();
            let removed: Vec<String> = old.into_iter().filter(|p| !new.contains(p)).collect();
            // As if each upload's new entries matched one retained read.
            UploadOutcome::Done(UploadReport {
                added: entries.len(),
                removed: removed.len(),
                historical_alerts: 1,
                plates: PlateChanges { added: new, removed },
                ..UploadReport::default()
            })
        };
        Box::pin(async move { Ok(outcome) })
    }

    /// By plate: a plate not on the list yet is added, one no longer in
    /// the upload removed, the rest unchanged.
    fn preview<'a>(
        &'a self,
        list_id: &'a str,
        entries: &'a [Arc<HotlistEntry>],
        uploader: Uploader<'a>,
        show: usize,
    ) -> BoxFuture<'a, Result<Previewed, StoreError>> {
        let owner = self.owners.lock().unwrap().get(list_id).cloned();
        if let Some(owner) = owner.filter(|o| uploader.enforce_owner && o != uploader.organisation) {
            return Box::pin(async move { Ok(Previewed::NotOwner { owner }) });
        }
        let old = self.plates.lock().unwrap().get(list_id).cloned().unwrap_or_default();
        let row = |entry_id: &str, plate: &str| PreviewRow {
            entry_id: entry_id.into(),
            plate: plate.into(),
            fields: Vec::new(),
        };
        let new: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.entry_id.clone(), e.plate.to_string()))
            .collect();
        let added: Vec<PreviewRow> = new
            .iter()
            .filter(|(_, p)| !old.contains(p))
            .map(|(i, p)| row(i, p))
            .collect();
        let removed: Vec<PreviewRow> = old
            .iter()
            .filter(|p| !new.iter().any(|(_, n)| n == *p))
            .map(|p| row("-", p))
            .collect();
        let counts = UploadCounts {
            added: added.len(),
            changed: 0,
            removed: removed.len(),
            unchanged: new.len() - added.len(),
        };
        let preview = Preview {
            list: list_id.to_owned(),
            counts,
            added: added.into_iter().take(show).collect(),
            changed: Vec::new(),
            removed: removed.into_iter().take(show).collect(),
        };
        Box::pin(async move { Ok(Previewed::Preview(preview)) })
    }

    fn remove<'a>(&'a self, list_id: &'a str) -> BoxFuture<'a, Result<usize, StoreError>> {
        self.owners.lock().unwrap().remove(list_id);
        let removed = self.plates.lock().unwrap().remove(list_id).unwrap_or_default().len();
        Box::pin(async move { Ok(removed) })
    }
}

/// Decisions go straight onto the board, as if read back from the topic.
pub struct MemoryDecisions {
    pub board: Arc<Board>,
    next_offset: AtomicU64,
}

impl DecisionLog for MemoryDecisions {
    fn write<'a>(&'a self, transition: &'a Transition, _captured_ms: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        let offset = self.next_offset.fetch_add(1, Ordering::Relaxed) as i64;
        self.board.add_transitions(&[(0, offset, &transition.encode())]);
        Box::pin(async { Ok(()) })
    }
}

/// The password of every seeded user.
pub const PASSWORD: &str = "a long test password";

/// Every identity of the policy table; `none` has no session.
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

/// The harness's clock starts here; tests move it with [`Harness::advance`].
pub fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The day the seeded officers were trained: about half a year before
/// [`start_time`] (2027-01-15).
pub fn trained_on() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 7, 1).expect("a date")
}

fn seeded_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hashes")).clone()
}

/// The seeded users (a spare officer too), grants (`acme` may check
/// health for a day, `acme.expired`'s grant has just expired) and list
/// `doj-stolen`, registered to CA DOJ as stolen vehicles.
fn seeded_principals() -> Principals {
    let mut principals = Principals::default();
    let users = [
        ("manager", Role::Custodian),
        ("deputy", Role::Officer),
        ("dispatch", Role::Dispatcher),
        ("doj.feed", Role::AgencyFeed),
        ("ops", Role::Ops),
        ("acme", Role::Contractor),
        ("acme.nogrant", Role::Contractor),
        ("acme.expired", Role::Contractor),
        ("spare", Role::Officer),
    ];
    for (name, role) in users {
        let organisation = match name {
            "manager" => "City of Coachella",
            "doj.feed" => "CA DOJ",
            _ => "Test Org",
        };
        let user = User::new(name, organisation, role, seeded_hash()).unwrap();
        // Officers are sworn and were trained half a year before the clock starts.
        let user = match role {
            Role::Officer => user.with_prerequisites(true, Some(trained_on()), None),
            _ => user,
        };
        let (key, value) = user.record();
        principals.apply(&key, Some(&value)).unwrap();
    }
    for (id, grantee, expires_at) in [
        ("g1", "acme", start_time() + Duration::from_secs(86_400)),
        ("g2", "acme.expired", start_time()),
    ] {
        let grant = Grant {
            grantee: grantee.into(),
            document_ref: "CM-2026-114".into(),
            scope: vec![Action::Health],
            expires_at,
            revoked: false,
        };
        let value = serde_json::to_vec(&grant).unwrap();
        principals.apply(&format!("grant:{id}"), Some(&value)).unwrap();
    }
    let doj = ListRegistration {
        list_id: "doj-stolen".into(),
        organisation: "CA DOJ".into(),
        category: Category::StolenVehicle,
    };
    let (key, value) = doj.record();
    principals.apply(&key, Some(&value)).unwrap();
    principals
}

/// The router over in-memory stores, with the seeded identities.
pub struct Harness {
    pub router: Router,
    pub state: Arc<ApiState>,
    pub principals: Arc<MemoryPrincipals>,
    pub audit: Arc<MemoryAudit>,
    pub scan: Arc<MemoryScan>,
    pub hotlists: Arc<MemoryHotlists>,
    pub board: Arc<Board>,
    offset: Arc<AtomicU64>,
}

/// Where every request of the harness comes from.
pub const CLIENT: &str = "127.0.0.1:50000";

impl Harness {
    pub fn new() -> Harness {
        let config =
            Config::from_toml(&crate::config::development_toml(), std::iter::empty()).expect("the default config");
        let principals = Arc::new(MemoryPrincipals::default());
        let audit = Arc::new(MemoryAudit::default());
        let scan = Arc::new(MemoryScan::default());
        let hotlists = Arc::new(MemoryHotlists::default());
        let lists: crate::kafka::hotlist::Lists = Default::default();
        let board = Board::new(
            config.dispatch.suppression_window,
            Arc::clone(&lists),
            CancellationToken::new(),
        );
        let stores = Stores {
            principals: principals.clone(),
            audit: audit.clone(),
            scan: scan.clone(),
            hotlists: hotlists.clone(),
            decisions: Arc::new(MemoryDecisions {
                board: Arc::clone(&board),
                next_offset: AtomicU64::new(0),
            }),
        };
        let offset = Arc::new(AtomicU64::new(0));
        let clock: crate::Clock = {
            let offset = Arc::clone(&offset);
            Arc::new(move || start_time() + Duration::from_secs(offset.load(Ordering::Relaxed)))
        };
        let state = Arc::new(ApiState::new(
            config,
            Arc::new(RwLock::new(seeded_principals())),
            stores,
            Metrics::new(),
            clock,
            (lists, Arc::clone(&board)),
        ));
        Harness {
            router: router(Arc::clone(&state)),
            state,
            principals,
            audit,
            scan,
            hotlists,
            board,
            offset,
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.offset.fetch_add(by.as_secs(), Ordering::Relaxed);
    }

    /// The response to one request, from [`CLIENT`].
    pub async fn respond(&self, request: Request<Body>) -> Response {
        self.respond_from(CLIENT, request).await
    }

    /// The response to one request from `client` (`address:port`).
    pub async fn respond_from(&self, client: &str, mut request: Request<Body>) -> Response {
        let client: SocketAddr = client.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(client));
        self.router.clone().oneshot(request).await.expect("infallible")
    }

    /// (status, body) of one request, from [`CLIENT`].
    pub async fn send(&self, request: Request<Body>) -> (u16, String) {
        let response = self.respond(request).await;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A request as curl sends it: a bearer token if given, and a body
    /// with its length and the JSON content type if given.
    pub fn request(method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Request<Body> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::CONTENT_LENGTH, body.len());
                Body::from(body.to_owned())
            }
            None => Body::empty(),
        };
        request.body(body).unwrap()
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        self.send(Self::request(method, path, token, body)).await
    }

    pub async fn login(&self, username: &str, password: &str) -> (u16, String) {
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        self.call("POST", "/api/login", None, Some(&body)).await
    }

    /// A session token for a seeded user.
    pub async fn token(&self, username: &str) -> String {
        self.token_with(username, PASSWORD).await
    }

    /// A session token for `username` logging in with `password`.
    pub async fn token_with(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, 200, "login {username}: {body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A session token for every identity but `none`.
    pub async fn tokens(&self) -> HashMap<&'static str, String> {
        let mut tokens = HashMap::new();
        for who in &IDENTITIES[1..] {
            tokens.insert(*who, self.token(who).await);
        }
        tokens
    }
}

/// A purpose that passes the rules.
pub const PURPOSE: &str = r#"{"category":"stolen_vehicle","case_number":"RSO-26-004417","details":"stolen Civic reported 11/26, checking Hwy 111"}"#;
