//! The API's routes and their handlers, each with the access it requires.
//!
//! [`all`] is the only place routes are declared; the router and the
//! authorization middleware both read it. Handlers receive an already
//! authorized [`Session`]. Login is the one public route: it applies the
//! lockout, verifies the argon2id hash, and audits success and failure.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, Method, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use rdkafka::producer::FutureRecord;
use serde::{Deserialize, Serialize};

use super::audit::{self, AuditEvent};
use super::auth::{self, Action, Grant, Role};
use super::principals::{Agency, User};
use super::server::{Access, ApiError, ApiState, Route, Session, SESSION_COOKIE};
use crate::alert::Alert;
use crate::hotlist::feed::{self, FeedOptions, Format};
use crate::hotlist::Category;
use crate::kafka::hotlist::UploadOutcome;
use crate::normalize::{normalize, Plate};

/// The rule and body limit of every route, computed once for the middleware.
pub fn rules() -> &'static [(Method, &'static str, Access, usize)] {
    static RULES: std::sync::OnceLock<Vec<(Method, &'static str, Access, usize)>> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        all()
            .into_iter()
            .map(|r| (r.method, r.path, r.access, r.body_limit))
            .collect()
    })
}

/// Every route, with the access it requires.
pub fn all() -> Vec<Route> {
    let route = |method: Method, path, access, handler| Route {
        method,
        path,
        access,
        handler,
        body_limit: JSON_BODY_LIMIT,
    };
    vec![
        route(Method::POST, "/api/login", Access::Public, post(login)),
        route(Method::POST, "/api/logout", Access::Session, post(logout)),
        route(Method::GET, "/api/health", Access::Action(Action::Health), get(health)),
        route(Method::GET, "/metrics", Access::Action(Action::Metrics), get(metrics)),
        route(
            Method::GET,
            "/api/users",
            Access::Action(Action::ManageUsers),
            get(list_users),
        ),
        route(
            Method::POST,
            "/api/users",
            Access::Action(Action::ManageUsers),
            post(add_user),
        ),
        route(
            Method::DELETE,
            "/api/users/{username}",
            Access::Action(Action::ManageUsers),
            delete(disable_user),
        ),
        route(
            Method::POST,
            "/api/grants",
            Access::Action(Action::ManageGrants),
            post(add_grant),
        ),
        route(
            Method::DELETE,
            "/api/grants/{id}",
            Access::Action(Action::ManageGrants),
            delete(revoke_grant),
        ),
        route(
            Method::POST,
            "/api/search/alerts",
            Access::Action(Action::SearchAlerts),
            post(search_alerts),
        ),
        route(
            Method::POST,
            "/api/search/reads",
            Access::Action(Action::SearchReads),
            post(search_reads),
        ),
        route(
            Method::GET,
            "/api/agencies",
            Access::Action(Action::ManageSharing),
            get(list_agencies),
        ),
        route(
            Method::POST,
            "/api/agencies",
            Access::Action(Action::ManageSharing),
            post(add_agency),
        ),
        route(
            Method::POST,
            "/api/exports",
            Access::Action(Action::Export),
            post(export),
        ),
        Route {
            body_limit: UPLOAD_LIMIT,
            ..route(
                Method::POST,
                "/api/hotlists/{list_id}",
                Access::Action(Action::UploadOwnHotlist),
                post(upload_hotlist).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
            )
        },
        route(
            Method::GET,
            "/api/sharing",
            Access::Action(Action::ManageSharing),
            get(sharing_register),
        ),
        route(
            Method::GET,
            "/api/audit/verify",
            Access::Action(Action::ReadAudit),
            get(audit_verify),
        ),
        route(
            Method::GET,
            "/api/audit/report",
            Access::Action(Action::ReadAudit),
            get(audit_report),
        ),
    ]
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    /// For browsers using the session cookie: send it back in `X-CSRF-Token`.
    csrf_token: String,
    role: Role,
    expires_at: DateTime<Utc>,
}

fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// A hash of a password nobody has, so unknown users cost as much time as known ones.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| auth::hash_password("decoy password that matches nothing").expect("hashes"))
}

async fn login(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Json(request): Json<LoginRequest>,
) -> Result<([(header::HeaderName, String); 1], Json<LoginResponse>), ApiError> {
    let now = state.now();
    let addr = client.ip();
    let username = request.username.trim().to_owned();
    let security_event = |action: &str, role: Role, organisation: String| AuditEvent {
        at: now.into(),
        username: username.clone(),
        organisation,
        role,
        action: action.to_owned(),
        query_terms: Vec::new(),
        purpose: None,
        result_count: None,
        client_addr: addr.to_string(),
    };
    if state
        .lockout
        .lock()
        .expect("lockout lock")
        .check(&username, addr, now)
        .is_err()
    {
        state
            .record(security_event("login_refused_locked", Role::Ops, String::new()))
            .await;
        return Err(ApiError::Locked);
    }
    let user = state
        .principals
        .read()
        .expect("principals lock")
        .user(&username)
        .cloned();
    let (hash, known) = match &user {
        Some(u) if !u.disabled => (u.password_hash.clone(), true),
        _ => (decoy_hash().to_owned(), false),
    };
    let password = request.password;
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash).is_ok())
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| known && verified) else {
        let locked = state
            .lockout
            .lock()
            .expect("lockout lock")
            .record_failure(&username, addr, now);
        state
            .record(security_event("login_failed", Role::Ops, String::new()))
            .await;
        if locked {
            state.record(security_event("lockout", Role::Ops, String::new())).await;
        }
        return Err(ApiError::BadCredentials);
    };
    state.lockout.lock().expect("lockout lock").record_success(&username);
    state.sessions.retain(|_, s| s.expires_at > now); // forget expired sessions
    let session = Session {
        token: random_token(),
        csrf_token: random_token(),
        username: user.username.clone(),
        organisation: user.organisation.clone(),
        role: user.role,
        expires_at: now + state.config.api.session_ttl,
    };
    state.sessions.insert(session.token.clone(), session.clone());
    state
        .record(security_event("login", user.role, user.organisation))
        .await;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        session.token,
        state.config.api.session_ttl.as_secs()
    );
    let body = Json(LoginResponse {
        token: session.token,
        csrf_token: session.csrf_token,
        role: session.role,
        expires_at: session.expires_at.into(),
    });
    Ok(([(header::SET_COOKIE, cookie)], body))
}

async fn logout(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> StatusCode {
    state.sessions.remove(&session.token);
    state.record(state.event(&session, "logout", client, Vec::new())).await;
    StatusCode::NO_CONTENT
}

/// Lists not refreshed within the configured age; also sets the metric.
fn stale_lists(state: &ApiState) -> Vec<crate::kafka::hotlist::ListMeta> {
    let lists = state.lists.read().expect("lists lock");
    let stale = crate::kafka::hotlist::stale(&lists, state.now().into(), state.config.hotlist.max_age);
    state.metrics.stale_lists.set(stale.len() as i64);
    stale
}

async fn health(State(state): State<Arc<ApiState>>) -> Json<serde_json::Value> {
    let stale = stale_lists(&state);
    let principals = state.principals.read().expect("principals lock");
    // An instance holding no reads partition for long matches nothing.
    let unassigned = state.metrics.unassigned_seconds.get() as u64;
    let matching = unassigned <= state.config.kafka.unassigned_grace.as_secs();
    let status = match (matching, stale.is_empty()) {
        (false, _) => "not_ready",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    Json(serde_json::json!({
        "status": status,
        "reads_partitions": state.metrics.assigned_partitions.get(),
        "unassigned_seconds": unassigned,
        "stale_lists": stale,
        "custodian_exists": principals.has_custodian(),
        "sessions": state.sessions.len(),
    }))
}

async fn metrics(State(state): State<Arc<ApiState>>) -> String {
    stale_lists(&state);
    state.metrics.render()
}

#[derive(Serialize)]
struct UserView {
    username: String,
    organisation: String,
    role: Role,
    disabled: bool,
}

async fn list_users(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Json<Vec<UserView>> {
    let users: Vec<UserView> = state
        .principals
        .read()
        .expect("principals lock")
        .users()
        .map(|u| UserView {
            username: u.username.clone(),
            organisation: u.organisation.clone(),
            role: u.role,
            disabled: u.disabled,
        })
        .collect();
    let mut event = state.event(&session, "list_users", client, Vec::new());
    event.result_count = Some(users.len() as u64);
    state.record(event).await;
    Json(users)
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    organisation: String,
    role: Role,
    password: String,
}

async fn add_user(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(new): Json<NewUser>,
) -> Result<StatusCode, ApiError> {
    let password = new.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let user =
        User::new(&new.username, &new.organisation, new.role, hash).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (key, value) = user.record();
    publish(&state, &key, Some(&value)).await?;
    let terms = vec![format!("username={}", user.username), format!("role={:?}", user.role)];
    state.record(state.event(&session, "user_added", client, terms)).await;
    Ok(StatusCode::CREATED)
}

/// Disables a user (kept for the audit trail) and ends their sessions.
async fn disable_user(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut user = state
        .principals
        .read()
        .expect("principals lock")
        .user(&username)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    user.disabled = true;
    let (key, value) = user.record();
    publish(&state, &key, Some(&value)).await?;
    state.sessions.retain(|_, s| s.username != username);
    let terms = vec![format!("username={username}")];
    state
        .record(state.event(&session, "user_disabled", client, terms))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewGrant {
    grantee: String,
    document_ref: String,
    scope: Vec<Action>,
    expires_at: DateTime<Utc>,
}

async fn add_grant(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(new): Json<NewGrant>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if new.document_ref.trim().len() < 3 || new.scope.is_empty() {
        return Err(ApiError::BadRequest(
            "a grant names its permission document and a scope".into(),
        ));
    }
    if new.expires_at <= DateTime::<Utc>::from(state.now()) {
        return Err(ApiError::BadRequest("a grant must expire in the future".into()));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let grant = Grant {
        grantee: new.grantee,
        document_ref: new.document_ref,
        scope: new.scope,
        expires_at: new.expires_at.into(),
        revoked: false,
    };
    let value = serde_json::to_vec(&grant).expect("grants serialize");
    publish(&state, &format!("grant:{id}"), Some(&value)).await?;
    let terms = vec![
        format!("grantee={}", grant.grantee),
        format!("document={}", grant.document_ref),
    ];
    state.record(state.event(&session, "grant_issued", client, terms)).await;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

async fn revoke_grant(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut grant = state
        .principals
        .read()
        .expect("principals lock")
        .grant(&id)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    grant.revoked = true;
    let value = serde_json::to_vec(&grant).expect("grants serialize");
    publish(&state, &format!("grant:{id}"), Some(&value)).await?;
    let terms = vec![format!("grant={id}")];
    state
        .record(state.event(&session, "grant_revoked", client, terms))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit_verify(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let records = read_audit(&state).await?;
    state
        .record(state.event(&session, "audit_verified", client, Vec::new()))
        .await;
    Ok(Json(match audit::verify(&records) {
        Ok(()) => serde_json::json!({ "intact": true, "records": records.len() }),
        Err(e) => serde_json::json!({ "intact": false, "records": records.len(), "problem": e.to_string() }),
    }))
}

#[derive(Deserialize)]
struct Period {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

async fn audit_report(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Query(period): Query<Period>,
) -> Result<Json<Vec<audit::AuditRecord>>, ApiError> {
    let records: Vec<_> = read_audit(&state)
        .await?
        .into_iter()
        .filter(|r| r.event.at >= period.from && r.event.at <= period.to)
        .collect();
    let mut event = state.event(
        &session,
        "audit_report",
        client,
        vec![format!("from={}", period.from), format!("to={}", period.to)],
    );
    event.result_count = Some(records.len() as u64);
    state.record(event).await;
    Ok(Json(records))
}

/// Largest hotlist upload over HTTPS; the config's file limit applies too.
const UPLOAD_LIMIT: usize = 256 << 20;
/// Largest JSON body a route takes (axum's default, made explicit).
const JSON_BODY_LIMIT: usize = 2 << 20;

#[derive(Deserialize)]
struct UploadParams {
    format: String,
    #[serde(default)]
    category: Option<String>,
    reason: String,
}

/// Replaces a list with the uploaded file: validated whole first; refused
/// with every bad line listed; an agency may only replace its own lists.
async fn upload_hotlist(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(list_id): Path<String>,
    Query(params): Query<UploadParams>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let format = Format::parse(&params.format).ok_or_else(|| ApiError::BadRequest("unknown format".into()))?;
    let category = match params.category.as_deref() {
        None => Category::StolenVehicle,
        Some(name) => Category::parse(name).ok_or_else(|| ApiError::BadRequest("unknown category".into()))?,
    };
    if params.reason.trim().len() < 5 {
        return Err(ApiError::BadRequest("give a reason of at least 5 characters".into()));
    }
    let options = FeedOptions {
        list_id: list_id.clone(),
        category,
        limits: state.config.hotlist.limits,
    };
    let mut event = state.event(
        &session,
        "hotlist_upload",
        client,
        vec![format!("list={list_id}"), format!("reason={}", params.reason.trim())],
    );
    let entries = match feed::parse(&body, &format, &options) {
        Ok(entries) => entries,
        Err(e) => {
            event.action = "hotlist_upload_refused".into();
            state.record(event).await;
            return Err(ApiError::BadRequest(format!("nothing uploaded: {e}")));
        }
    };
    let enforce_owner = session.role != Role::Custodian;
    let outcome =
        crate::kafka::hotlist::upload(&state.config, &list_id, &entries, &session.organisation, enforce_owner)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    match outcome {
        UploadOutcome::Done(report) => {
            event.query_terms.push(format!(
                "added={} changed={} removed={}",
                report.added, report.changed, report.removed
            ));
            event.result_count = Some(entries.len() as u64);
            state.record(event).await;
            Ok(Json(serde_json::json!({ "list": list_id, "report": report })))
        }
        UploadOutcome::NotOwner { .. } => {
            event.action = "hotlist_upload_refused".into();
            state.record(event).await;
            Err(ApiError::Refused("this list belongs to another organisation".into()))
        }
    }
}

/// Most records one search or export returns.
const SEARCH_LIMIT: usize = 1000;

#[derive(Deserialize)]
struct SearchRequest {
    plate: String,
    purpose: Option<audit::Purpose>,
}

/// Refuses (and audits the refusal of) a search or export without a valid purpose.
async fn check_purpose(
    state: &ApiState,
    session: &Session,
    client: SocketAddr,
    action: Action,
    purpose: Option<&audit::Purpose>,
) -> Result<(), ApiError> {
    if let Err(e) = audit::require_purpose(action, purpose) {
        state
            .record(state.event(session, "refused_without_purpose", client, Vec::new()))
            .await;
        return Err(ApiError::BadRequest(e.to_string()));
    }
    Ok(())
}

/// Runs a topic scan off the async threads.
async fn scan(
    state: &ApiState,
    topic: String,
    keep: impl FnMut(&[u8]) -> bool + Send + 'static,
) -> Result<Vec<Vec<u8>>, ApiError> {
    let config = state.config.clone();
    tokio::task::spawn_blocking(move || crate::kafka::scan::scan(&config, &topic, SEARCH_LIMIT, keep))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))
}

/// The alerts on the alerts topic whose read or entry plate is `plate`.
async fn alerts_for(state: &ApiState, plate: Plate) -> Result<Vec<Alert>, ApiError> {
    let wanted = plate.to_string();
    let found = scan(state, state.config.topics.alerts.clone(), move |bytes| {
        Alert::decode(bytes).is_ok_and(|a| a.read.plate == wanted || a.entry.plate == wanted)
    })
    .await?;
    Ok(found.iter().filter_map(|b| Alert::decode(b).ok()).collect())
}

fn plate_of(text: &str) -> Result<Plate, ApiError> {
    normalize(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A search or export, in the audit log with its terms, purpose and count.
fn searched(
    state: &ApiState,
    session: &Session,
    client: SocketAddr,
    action: &str,
    terms: Vec<String>,
    purpose: Option<audit::Purpose>,
    count: usize,
) -> AuditEvent {
    let mut event = state.event(session, action, client, terms);
    event.purpose = purpose;
    event.result_count = Some(count as u64);
    event
}

async fn search_alerts(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(request): Json<SearchRequest>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    check_purpose(&state, &session, client, Action::SearchAlerts, request.purpose.as_ref()).await?;
    let plate = plate_of(&request.plate)?;
    let alerts = alerts_for(&state, plate).await?;
    let terms = vec![format!("plate={plate}")];
    let event = searched(
        &state,
        &session,
        client,
        "search_alerts",
        terms,
        request.purpose,
        alerts.len(),
    );
    state.record(event).await;
    Ok(Json(alerts))
}

async fn search_reads(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(request): Json<SearchRequest>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    check_purpose(&state, &session, client, Action::SearchReads, request.purpose.as_ref()).await?;
    let plate = plate_of(&request.plate)?;
    let limit = state.config.pipeline.max_record_bytes;
    let found = scan(&state, state.config.topics.reads.clone(), move |bytes| {
        crate::read::parse(bytes, limit).is_ok_and(|r| normalize(&r.plate).is_ok_and(|p| p == plate))
    })
    .await?;
    let reads: Vec<serde_json::Value> = found.iter().filter_map(|b| serde_json::from_slice(b).ok()).collect();
    let terms = vec![format!("plate={plate}")];
    let event = searched(
        &state,
        &session,
        client,
        "search_reads",
        terms,
        request.purpose,
        reads.len(),
    );
    state.record(event).await;
    Ok(Json(reads))
}

async fn list_agencies(State(state): State<Arc<ApiState>>) -> Json<Vec<Agency>> {
    Json(
        state
            .principals
            .read()
            .expect("principals lock")
            .agencies()
            .cloned()
            .collect(),
    )
}

async fn add_agency(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(agency): Json<Agency>,
) -> Result<StatusCode, ApiError> {
    agency.validate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let value = serde_json::to_vec(&agency).expect("agencies serialize");
    publish(&state, &format!("agency:{}", agency.ori), Some(&value)).await?;
    let terms = vec![
        format!("ori={}", agency.ori),
        format!("california_public_agency={}", agency.california_public_agency),
    ];
    state
        .record(state.event(&session, "agency_registered", client, terms))
        .await;
    Ok(StatusCode::CREATED)
}

#[derive(Deserialize)]
struct ExportRequest {
    agency_ori: String,
    plate: String,
    purpose: Option<audit::Purpose>,
}

#[derive(Serialize)]
struct ExportResponse {
    agency: Agency,
    alerts: Vec<Alert>,
}

/// Shares the alerts for a plate with a registered California public agency.
async fn export(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(request): Json<ExportRequest>,
) -> Result<Json<ExportResponse>, ApiError> {
    check_purpose(&state, &session, client, Action::Export, request.purpose.as_ref()).await?;
    let agency = state
        .principals
        .read()
        .expect("principals lock")
        .agency(&request.agency_ori)
        .cloned();
    let Some(agency) = agency.filter(|a| a.california_public_agency) else {
        let mut event = state.event(
            &session,
            "export_refused",
            client,
            vec![format!("agency={}", request.agency_ori)],
        );
        event.purpose = request.purpose;
        state.record(event).await;
        return Err(ApiError::Refused(
            "ALPR data is shared only with registered California public agencies".into(),
        ));
    };
    let plate = plate_of(&request.plate)?;
    let alerts = alerts_for(&state, plate).await?;
    let terms = vec![format!("agency={}", agency.ori), format!("plate={plate}")];
    let event = searched(&state, &session, client, "export", terms, request.purpose, alerts.len());
    state.record(event).await;
    Ok(Json(ExportResponse { agency, alerts }))
}

/// The sharing register: every export and refused export, from the audit log.
async fn sharing_register(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<Vec<audit::AuditRecord>>, ApiError> {
    let records: Vec<_> = read_audit(&state)
        .await?
        .into_iter()
        .filter(|r| r.event.action == "export" || r.event.action == "export_refused")
        .collect();
    let mut event = state.event(&session, "sharing_register", client, Vec::new());
    event.result_count = Some(records.len() as u64);
    state.record(event).await;
    Ok(Json(records))
}

async fn read_audit(state: &ApiState) -> Result<Vec<audit::AuditRecord>, ApiError> {
    let config = state.config.clone();
    tokio::task::spawn_blocking(move || crate::kafka::audit::read_all(&config))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))
}

/// Writes a principal record to the topic and applies it here at once (the
/// other instances apply it when they read it).
async fn publish(state: &ApiState, key: &str, value: Option<&[u8]>) -> Result<(), ApiError> {
    let mut record = FutureRecord::<str, [u8]>::to(&state.config.topics.principals).key(key);
    if let Some(value) = value {
        record = record.payload(value);
    }
    state
        .producer
        .send(record, std::time::Duration::from_secs(15))
        .await
        .map_err(|(e, _)| ApiError::Unavailable(e.to_string()))?;
    state
        .principals
        .write()
        .expect("principals lock")
        .apply(key, value)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}
