//! The HTTPS API: state shared by the handlers, the route table, the
//! authorization middleware, and serving over TLS.
//!
//! Every route is declared once in [`routes`] together with the access it
//! requires, and the router is built only from that list, so no route can
//! exist without a rule. The middleware resolves the session, checks the
//! rule with [`authorize`], records every authenticated request and every
//! refusal in the audit log, and only then calls the handler. TLS is on
//! unless the development flag says otherwise, and that is logged loudly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use dashmap::DashMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::audit::{AuditEvent, Chain};
use super::auth::{authorize, Action, Lockout, Role};
use super::principals::Principals;
use super::routes;
use crate::config::{ApiSettings, Config};
use crate::metrics::Metrics;

pub use crate::Clock;

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
    #[error("the body is larger than the {limit} bytes this route takes")]
    TooLarge { limit: u64 },
    #[error("storage is unavailable; try again")]
    Unavailable(String),
    #[error("cannot serve: {0}")]
    Serve(#[from] std::io::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthenticated | ApiError::SessionExpired | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::Locked => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(detail) => {
                warn!(error = %detail, "storage unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Serve(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
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
    pub principals: Arc<RwLock<Principals>>,
    pub sessions: DashMap<String, Session>,
    pub lockout: Mutex<Lockout>,
    pub audit: mpsc::Sender<AuditEvent>,
    pub metrics: Metrics,
    pub clock: Clock,
    /// The hotlists and when each was last refreshed.
    pub lists: crate::kafka::hotlist::Lists,
    /// Writes principal records (users, grants, agencies).
    pub producer: rdkafka::producer::FutureProducer,
}

impl ApiState {
    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Queues an audit event; the writer task chains and stores it.
    pub async fn record(&self, event: AuditEvent) {
        if self.audit.send(event).await.is_err() {
            warn!("audit writer stopped; event not recorded");
        }
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
}

/// The router: every route of [`routes::all`] behind the authorization layer.
pub fn router(state: Arc<ApiState>) -> Router {
    let mut router = Router::new();
    for route in routes::all() {
        router = router.route(route.path, route.handler);
    }
    router
        .layer(middleware::from_fn_with_state(Arc::clone(&state), authorize_request))
        .layer(middleware::from_fn(refuse_declared_oversize))
        .with_state(state)
}

/// Answers 413 to a body declared larger than the route reads, before
/// reading any of it: a client that waits for `100 Continue` never sends
/// it, and none is cut off mid-upload by a closed connection.
async fn refuse_declared_oversize(request: Request, next: Next) -> Result<Response, ApiError> {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let limit = request.extensions().get::<MatchedPath>().and_then(|path| {
        routes::rules()
            .iter()
            .find(|(method, route, _, _)| *route == path.as_str() && method == request.method())
            .map(|(_, _, _, limit)| *limit as u64)
    });
    match (declared, limit) {
        (Some(declared), Some(limit)) if declared > limit => Err(ApiError::TooLarge { limit }),
        _ => Ok(next.run(request).await),
    }
}

/// Resolves the session and applies the route's rule before the handler runs.
async fn authorize_request(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .ok_or(ApiError::NotFound)?;
    let access = routes::rules()
        .iter()
        .find(|(method, route, _, _)| *route == path && method == request.method())
        .map(|(_, _, access, _)| *access)
        .ok_or(ApiError::Forbidden)?; // deny by default
    if access == Access::Public {
        return Ok(next.run(request).await);
    }
    let session = session_of(&state, &request)?;
    if let Access::Action(action) = access {
        let grants = state
            .principals
            .read()
            .expect("principals lock")
            .grants_for(&session.username);
        if authorize(session.role, &grants, action, state.now()).is_err() {
            let terms = vec![format!("{} {}", request.method(), path)];
            state
                .record(state.event(&session, "access_denied", client, terms))
                .await;
            return Err(ApiError::Forbidden);
        }
    }
    request.extensions_mut().insert(session);
    Ok(next.run(request).await)
}

/// The cookie that carries the session for a browser.
pub const SESSION_COOKIE: &str = "hm_session";
/// The header a browser request must echo the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The live session named by the `Authorization: Bearer` header, or by the
/// session cookie; a cookie session must also present its CSRF token on
/// every request that changes something.
fn session_of(state: &ApiState, request: &Request) -> Result<Session, ApiError> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let (token, from_cookie) = match bearer {
        Some(token) => (token.to_owned(), false),
        None => (cookie(request, SESSION_COOKIE).ok_or(ApiError::Unauthenticated)?, true),
    };
    let session = state
        .sessions
        .get(&token)
        .map(|s| s.clone())
        .ok_or(ApiError::Unauthenticated)?;
    if state.now() >= session.expires_at {
        state.sessions.remove(&token);
        return Err(ApiError::SessionExpired);
    }
    if from_cookie && request.method() != Method::GET {
        let presented = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), session.csrf_token.as_bytes())) {
            return Err(ApiError::Forbidden);
        }
    }
    Ok(session)
}

/// The value of cookie `name`, if the request carries it.
fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Compares secrets without an early exit that would leak their prefix.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The audit chain as found in the topic, ready to be continued by one writer.
pub struct AuditWriter {
    config: Config,
    chain: Chain,
    producer: rdkafka::producer::FutureProducer,
}

/// Reads the audit topic (blocking) to continue its chain.
fn spawn_audit_writer_blocking(config: &Config) -> Result<AuditWriter, crate::kafka::KafkaError> {
    let records = crate::kafka::audit::read_all(config)?;
    Ok(AuditWriter {
        config: config.clone(),
        chain: records.last().map(Chain::after).unwrap_or_default(),
        producer: crate::kafka::audit::producer(config)?,
    })
}

impl AuditWriter {
    /// Starts the single writer task: it chains and stores each queued event in order.
    pub fn start(mut self) -> mpsc::Sender<AuditEvent> {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(1024);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let record = self.chain.append(event);
                // A lost record would break the chain for every later one:
                // keep trying, in order, until the broker takes it.
                let mut backoff = Duration::from_millis(100);
                while let Err(e) = crate::kafka::audit::store(&self.producer, &self.config, &record).await {
                    warn!(error = %e, seq = record.seq, "audit record not stored yet; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        });
        tx
    }
}

/// Serves the router until `shutdown`, over TLS unless the settings say
/// plain HTTP for development.
pub async fn serve(
    settings: &ApiSettings,
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    shutdown: CancellationToken,
) -> Result<(), ApiError> {
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => {
            info!(address = %listener.local_addr()?, "API listening (HTTPS)");
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(service)
                .await?
        }
        None => {
            debug_assert!(settings.plain_http);
            warn!(address = %listener.local_addr()?, "API listening over PLAIN HTTP: development only, never with real data");
            axum_server::from_tcp(listener)?.handle(handle).serve(service).await?
        }
    }
    Ok(())
}

/// The TLS settings: the configured PEM files, or a fresh self-signed pair
/// (returned too, so a demo or test can trust it).
pub async fn tls_config(
    settings: &ApiSettings,
) -> Result<(axum_server::tls_rustls::RustlsConfig, Option<String>), ApiError> {
    let (cert, key, self_signed) = match &settings.tls {
        Some((cert, key)) => (std::fs::read(cert)?, std::fs::read(key)?, None),
        None => {
            warn!("no TLS certificate configured: using a self-signed one");
            let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            let pair = rcgen::generate_simple_self_signed(names).map_err(std::io::Error::other)?;
            let cert = pair.cert.pem();
            (
                cert.clone().into_bytes(),
                pair.signing_key.serialize_pem().into_bytes(),
                Some(cert),
            )
        }
    };
    let config = rustls_config(&cert, &key).map_err(std::io::Error::other)?;
    Ok((
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)),
        self_signed,
    ))
}

/// A rustls server config for a PEM chain and key, offering HTTP/1.1 only
/// (the server speaks HTTP/1.1; offering h2 would break h2 clients).
fn rustls_config(cert: &[u8], key: &[u8]) -> Result<rustls::ServerConfig, Box<dyn std::error::Error + Send + Sync>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A started API.
pub struct Running {
    pub address: SocketAddr,
    /// The PEM certificate when a self-signed one was made, for clients to trust.
    pub self_signed_cert: Option<String>,
    pub task: tokio::task::JoinHandle<Result<(), ApiError>>,
    pub state: Arc<ApiState>,
}

/// Loads users and grants, starts the audit writer, binds and serves until
/// `shutdown`. Returns once it is listening.
pub async fn start(
    config: &Config,
    metrics: Metrics,
    clock: Clock,
    lists: crate::kafka::hotlist::Lists,
    shutdown: CancellationToken,
) -> Result<Running, ApiError> {
    let unavailable = |e: crate::kafka::KafkaError| ApiError::Unavailable(e.to_string());
    let loaded = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || crate::kafka::principals::load(&config))
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?
            .map_err(unavailable)?
    };
    let (principals, end) = loaded;
    let principals = Arc::new(RwLock::new(principals));
    crate::kafka::principals::follow(config, end, Arc::clone(&principals), shutdown.clone()).map_err(unavailable)?;
    let audit = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || spawn_audit_writer_blocking(&config))
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?
            .map_err(unavailable)?
    };
    let audit = audit.start();
    let state = Arc::new(ApiState {
        config: config.clone(),
        principals,
        sessions: DashMap::new(),
        lockout: Mutex::new(Lockout::new(config.api.lockout)),
        audit,
        metrics,
        clock,
        lists,
        producer: crate::kafka::client_config(&config.kafka)
            .set("acks", "all")
            .create()
            .map_err(|e| ApiError::Unavailable(e.to_string()))?,
    });
    let listener = std::net::TcpListener::bind(config.api.listen)?;
    let address = listener.local_addr()?;
    let (tls, self_signed_cert) = if config.api.plain_http {
        (None, None)
    } else {
        let (tls, cert) = tls_config(&config.api).await?;
        (Some(tls), cert)
    };
    let router = router(Arc::clone(&state));
    let settings = config.api.clone();
    let task = tokio::spawn(async move { serve(&settings, listener, router, tls, shutdown).await });
    Ok(Running {
        address,
        self_signed_cert,
        task,
        state,
    })
}
