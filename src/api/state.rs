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

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Json;
use dashmap::DashMap;
use tracing::warn;

use super::stores::{StoreError, Stores};
use crate::access::audit::{AuditEvent, AuditRecord};
use crate::access::auth::{Action, Lockout, Role};
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
    #[error("too many failed logins; try again later")]
    Locked,
    #[error("{0}")]
    BadRequest(String),
    /// Allowed to ask, but the policy refuses this request (e.g. sharing
    /// with an agency that may not receive ALPR data).
    #[error("{0}")]
    Refused(String),
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
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthenticated | ApiError::SessionExpired | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::Locked => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(detail) => {
                warn!(error = %detail, "storage unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Unavailable(e.to_string())
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

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    /// Echoed in the `X-CSRF-Token` header by browser (cookie) requests.
    pub csrf_token: String,
    pub username: String,
    pub organisation: String,
    pub role: Role,
    pub expires_at: SystemTime,
}

/// Everything the handlers share.
pub struct ApiState {
    pub config: Config,
    /// Users, grants and agencies, kept in step with the principals topic.
    pub principals: Arc<RwLock<Principals>>,
    pub sessions: DashMap<String, Session>,
    pub lockout: Mutex<Lockout>,
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
            config,
            principals,
            sessions: DashMap::new(),
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

    /// Queues an audit event; the audit log chains and stores it.
    pub async fn record(&self, event: AuditEvent) {
        self.stores.audit.record(event).await;
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
        let mut records = self.stores.audit.read_all().await?;
        records.retain(|r| keep(r));
        let mut event = self.event(session, action, client, query_terms);
        event.result_count = Some(records.len() as u64);
        self.record(event).await;
        Ok(records)
    }

    /// An audit event for `session` doing `action` with `query_terms`.
    pub fn event(&self, session: &Session, action: &str, client: SocketAddr, query_terms: Vec<String>) -> AuditEvent {
        AuditEvent {
            at: self.now().into(),
            username: session.username.clone(),
            organisation: session.organisation.clone(),
            role: session.role,
            action: action.to_owned(),
            query_terms,
            purpose: None,
            result_count: None,
            client_addr: client.ip().to_string(),
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
