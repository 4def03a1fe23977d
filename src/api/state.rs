//! What every part of the API shares: the state the handlers read, the
//! errors they answer with, sessions, and the shape of a route.
//!
//! [`ApiError`] is the only way a handler fails: it maps each error to a
//! status code and a body that says what the caller can act on, never
//! internals (a store's detail is logged, not sent). [`ApiState`] holds the
//! config, the users and grants every instance follows, the sessions and
//! lockout of this instance, and the [`Stores`] behind which everything
//! beyond this process sits.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Json;
use tracing::warn;

use super::limits::{Gate, PARALLEL_UPLOADS};
use super::stores::{StoreError, Stores};
use crate::access::audit::{AuditEvent, AuditRecord};
use crate::access::auth::{Action, Role};
use crate::access::lockout::Lockout;
use crate::access::principals::Principals;
use crate::config::Config;
use crate::dispatch::board::Board;
use crate::kafka::hotlist::Lists;
use crate::metrics::Metrics;
use crate::Clock;

/// Why a request failed. The body says what the caller can act on and
/// never carries internals.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("log in first")]
    Unauthenticated,
    #[error("the session has expired; log in again")]
    SessionExpired,
    #[error("not allowed")]
    Forbidden,
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failed logins of this user from this address: the next
    /// attempt may start in this many seconds (429 with `Retry-After`).
    #[error("too many failed logins for this user from this address; try again in {0} s")]
    Delayed(u64),
    #[error("{0}")]
    BadRequest(String),
    /// Allowed to ask, but the policy refuses this request (e.g. sharing
    /// with an agency that may not receive ALPR data).
    #[error("{0}")]
    Refused(String),
    /// Well-formed, but a rule of the policy refuses what it says (an
    /// agency outside California marked a California public agency): 422.
    #[error("{0}")]
    Unprocessable(String),
    #[error("not found")]
    NotFound,
    /// Someone else changed it first (a dispatcher's decision that lost).
    #[error("{0}")]
    Conflict(String),
    #[error("the body is larger than the {limit} bytes this route takes")]
    TooLarge { limit: u64 },
    /// A store (the broker) failed; the detail is logged, never sent.
    #[error("storage is unavailable; try again")]
    Unavailable(String),
    /// A bounded resource is in use (password checks, uploads, the audit
    /// queue): 503 with `Retry-After`, and the body says which.
    #[error("busy: {0}; try again in a second")]
    Busy(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthenticated | ApiError::SessionExpired | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::Delayed(secs) => {
                let body = Json(serde_json::json!({ "error": self.to_string() }));
                let headers = [(header::RETRY_AFTER, secs.to_string())];
                return (StatusCode::TOO_MANY_REQUESTS, headers, body).into_response();
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(detail) => {
                warn!(error = %detail, "storage unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Busy(_) => {
                let body = Json(serde_json::json!({ "error": self.to_string() }));
                return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], body).into_response();
            }
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Failed(detail) => ApiError::Unavailable(detail),
            StoreError::Busy(what) => ApiError::Busy(what),
            StoreError::Conflict(what) => ApiError::Conflict(what),
        }
    }
}

/// A blocking task of a handler that panicked or was cancelled.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Unavailable(e.to_string())
    }
}

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (only the login route).
    Public,
    /// Any logged-in user.
    Session,
    /// A logged-in user whose role (or grant) allows the action.
    Action(Action),
}

/// One route: method, path, rule, handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: MethodRouter<Arc<ApiState>>,
    /// Largest body the route reads, in bytes.
    pub body_limit: usize,
}

/// The cookie that carries the session for a browser.
pub const SESSION_COOKIE: &str = "hm_session";
/// The header a browser request must echo the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A logged-in user. Its `Debug` hides the token and the CSRF token.
#[derive(Clone)]
pub struct Session {
    pub token: String,
    /// Echoed in the `X-CSRF-Token` header by browser (cookie) requests.
    pub csrf_token: String,
    pub username: String,
    pub organisation: String,
    pub role: Role,
    pub expires_at: SystemTime,
}

impl Session {
    /// The session of `token`, as its record on the principals topic says.
    pub fn of(token: &str, record: &crate::access::sessions::SessionRecord) -> Session {
        Session {
            token: token.to_owned(),
            csrf_token: crate::access::sessions::csrf_of(token),
            username: record.username.clone(),
            organisation: record.organisation.clone(),
            role: record.role,
            expires_at: record.expires_at,
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &crate::text::Redacted(&self.token))
            .field("csrf_token", &crate::text::Redacted(&self.csrf_token))
            .field("username", &self.username)
            .field("organisation", &self.organisation)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Everything the handlers share.
pub struct ApiState {
    pub config: Config,
    /// Users, grants and agencies, kept in step with the principals topic.
    pub principals: Arc<RwLock<Principals>>,
    /// Failed logins counted here; other instances' counts come with the
    /// principals ([`crate::access::sessions`]).
    pub lockout: Mutex<Lockout>,
    /// This instance's name for its failure counts on the principals topic.
    pub instance: String,
    /// Password checks (argon2id), at most one per core.
    pub passwords: Gate,
    /// Large uploads being read, at most [`PARALLEL_UPLOADS`].
    pub uploads: Gate,
    /// The principals writer, audit log, topic scan and hotlist upload.
    pub stores: Stores,
    pub metrics: Metrics,
    pub clock: Clock,
    /// The hotlists and when each was last refreshed.
    pub lists: Lists,
    /// Incidents and decisions, for the dispatch board.
    pub board: Arc<Board>,
}

impl ApiState {
    /// The state of a freshly started API: no sessions, no failed logins.
    pub fn new(
        config: Config,
        principals: Arc<RwLock<Principals>>,
        stores: Stores,
        metrics: Metrics,
        clock: Clock,
        (lists, board): (Lists, Arc<Board>),
    ) -> ApiState {
        ApiState {
            lockout: Mutex::new(Lockout::new(config.api.lockout)),
            instance: uuid::Uuid::new_v4().simple().to_string(),
            passwords: Gate::for_passwords(),
            uploads: Gate::new(PARALLEL_UPLOADS, 0, "too many uploads at once"),
            config,
            principals,
            stores,
            metrics,
            clock,
            lists,
            board,
        }
    }

    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Queues an audit event; the audit log chains and stores it. Fails
    /// (503) when the log is not keeping up: the request fails with it.
    pub async fn record(&self, event: AuditEvent) -> Result<(), ApiError> {
        Ok(self.stores.audit.record(event).await?)
    }

    /// The audit records `keep` selects, read for `session` and audited as
    /// `action` with `query_terms` and the number of records shown.
    pub async fn audited_records(
        &self,
        session: &Session,
        client: SocketAddr,
        (action, query_terms): (&str, Vec<String>),
        keep: impl Fn(&AuditRecord) -> bool,
    ) -> Result<Vec<AuditRecord>, ApiError> {
        let key = self.config.master_key.audit_key();
        let mut records: Vec<AuditRecord> = (self.stores.audit.read_all().await?)
            .into_iter()
            .map(|r| crate::kafka::audit::opened(&key, r))
            .collect();
        records.retain(|r| keep(r));
        let mut event = self.event(session, action, client, query_terms);
        event.result_count = Some(records.len() as u64);
        self.record(event).await?;
        Ok(records)
    }

    /// An audit event for `session` doing `action` with `query_terms`.
    pub fn event(&self, session: &Session, action: &str, client: SocketAddr, query_terms: Vec<String>) -> AuditEvent {
        AuditEvent {
            at: self.now().into(),
            username: session.username.clone(),
            organisation: session.organisation.clone(),
            role: Some(session.role),
            action: action.to_owned(),
            query_terms,
            purpose: None,
            result_count: None,
            client_addr: client.ip().to_string(),
            truncated: false,
            sealed_terms: None,
        }
    }

    /// Writes a principal record (`None` = tombstone) and applies it here at
    /// once; the other instances apply it when they read it.
    pub async fn publish(&self, key: &str, value: Option<&[u8]>) -> Result<(), ApiError> {
        self.stores.principals.write(key, value).await?;
        self.principals
            .write()
            .expect("principals lock")
            .apply(key, value)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}
