//! The dispatch board over HTTPS: the page, its live feed, and the
//! dispatcher's decisions.
//!
//! The page (plain HTML, CSS and three JavaScript modules in `assets/`,
//! built into the binary) holds no data; everything comes after login, through the
//! session cookie. `GET /api/alerts/events` is a server-sent event stream:
//! a `snapshot` of the open incidents the user may see, then an `incident`
//! for each change and a `status` with stale hotlists every
//! [`STATUS_EVERY`]. It ends when the session ends or the service stops. A
//! decision is written to the alert-state topic and answered once this
//! instance has read it back: 200 with the incident if it won, 409 naming
//! who moved the alert first if it lost. Both are audited.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::state::{ApiError, ApiState, Session};
use crate::alert::lifecycle::{Action, AlertState, Decision, RejectReason, Transition, TRANSITION_SCHEMA};
use crate::kafka::hotlist::stale;

/// How often a live board is told which hotlists are stale.
pub const STATUS_EVERY: Duration = Duration::from_secs(30);
/// How long a decision may take to be read back from the topic.
const DECISION_WAIT: Duration = Duration::from_secs(10);

const PAGE: &str = include_str!("../../assets/board.html");
const SCRIPT: &str = include_str!("../../assets/board.js");
const RENDER_SCRIPT: &str = include_str!("../../assets/board-render.js");
const LIVE_SCRIPT: &str = include_str!("../../assets/board-live.js");
const STYLE: &str = include_str!("../../assets/board.css");
/// The page loads only its own script and style, and nothing else.
const CSP: &str = "default-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub async fn page() -> impl IntoResponse {
    asset("text/html; charset=utf-8", PAGE)
}

pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The card rendering module of the page.
pub async fn render_script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", RENDER_SCRIPT)
}

/// The live feed and alarm module of the page.
pub async fn live_script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", LIVE_SCRIPT)
}

pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Who is logged in, and the CSRF token the page must echo (so a reload
/// resumes the session without a new login).
pub async fn whoami(Extension(session): Extension<Session>) -> impl IntoResponse {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    (
        no_store,
        Json(serde_json::json!({
            "username": session.username,
            "organisation": session.organisation,
            "role": session.role,
            "csrf_token": session.csrf_token,
        })),
    )
}

fn snapshot(state: &ApiState, session: &Session) -> Event {
    let data = serde_json::json!({
        "incidents": state.board.open(&session.organisation),
        "stale_lists": stale_lists(state),
        "time_zone": state.config.dispatch.time_zone,
        "user": {"username": session.username, "organisation": session.organisation, "role": session.role},
    });
    Event::default().event("snapshot").data(data.to_string())
}

fn stale_lists(state: &ApiState) -> Vec<serde_json::Value> {
    let now = state.now().into();
    let lists = state.lists.read().expect("lists lock");
    stale(&lists, now, state.config.hotlist.max_age)
        .into_iter()
        .map(|m| serde_json::json!({"list_id": m.list_id, "age_secs": (now - m.refreshed_at).num_seconds()}))
        .collect()
}

/// The live feed of the board.
pub async fn events(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut opened = state.event(&session, "board_opened", client, Vec::new());
    opened.result_count = Some(state.board.open(&session.organisation).len() as u64);
    state.record(opened).await?;
    let feed = Feed {
        changes: state.board.subscribe(),
        status: tokio::time::interval_at(tokio::time::Instant::now() + STATUS_EVERY, STATUS_EVERY),
        first: true,
        _open: OpenStream::new(&state),
        state,
        session,
    };
    Ok(Sse::new(futures_util::stream::unfold(feed, Feed::next)).keep_alive(KeepAlive::default()))
}

/// Counts live streams for the metric while it exists.
struct OpenStream(prometheus::IntGauge);

impl OpenStream {
    fn new(state: &ApiState) -> OpenStream {
        state.metrics.board_streams.inc();
        OpenStream(state.metrics.board_streams.clone())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One board's stream.
struct Feed {
    state: Arc<ApiState>,
    session: Session,
    changes: tokio::sync::broadcast::Receiver<Uuid>,
    status: tokio::time::Interval,
    first: bool,
    _open: OpenStream,
}

impl Feed {
    /// Whether the stream's session still stands.
    fn live(&self) -> bool {
        let digest = crate::access::sessions::digest(&self.session.token);
        let principals = self.state.principals.read().expect("principals lock");
        principals.logins.session(&digest).is_some() && self.state.now() < self.session.expires_at
    }

    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        if std::mem::take(&mut self.first) {
            let event = snapshot(&self.state, &self.session);
            return Some((Ok(event), self));
        }
        loop {
            if !self.live() {
                return None; // logged out, disabled or expired: the page logs in again
            }
            let until_expiry = self
                .session
                .expires_at
                .duration_since(self.state.now())
                .unwrap_or_default();
            let event = tokio::select! {
                _ = tokio::time::sleep(until_expiry) => return None,
                _ = self.state.board.shutdown.cancelled() => return None,
                _ = self.status.tick() => {
                    let data = serde_json::json!({ "stale_lists": stale_lists(&self.state) });
                    Event::default().event("status").data(data.to_string())
                }
                changed = self.changes.recv() => match changed {
                    Ok(id) => match self.state.board.view(&id, Some(&self.session.organisation)) {
                        Some(view) => Event::default().event("incident").data(serde_json::to_string(&view).expect("serializes")),
                        None => continue, // not for this user (covert)
                    },
                    Err(RecvError::Lagged(_)) => snapshot(&self.state, &self.session),
                    Err(RecvError::Closed) => return None,
                },
            };
            if !self.live() {
                return None; // the session ended while waiting: nothing more goes out
            }
            return Some((Ok(event), self));
        }
    }
}

/// A decision's body: the reason of a rejection.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    #[serde(default)]
    reason: Option<RejectReason>,
    #[serde(default)]
    text: Option<String>,
}

fn action_of(name: &str, request: DecideRequest) -> Result<Action, ApiError> {
    Ok(match name {
        "acknowledge" => Action::Acknowledge,
        "confirm" => Action::Confirm,
        "close" => Action::Close,
        "reject" => Action::Reject {
            reason: request
                .reason
                .ok_or_else(|| ApiError::BadRequest("a rejection needs a reason".into()))?,
            text: request.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        },
        _ => return Err(ApiError::NotFound),
    })
}

/// Acknowledge, confirm, reject or close an alert. Every request is
/// audited, refused or not; once written, a decision is seen through to its
/// audit record even if the client goes away.
pub async fn decide(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path((id, action)): Path<(String, String)>,
    Json(request): Json<DecideRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let transition = match prepare(&state, &session, &id, &action, request) {
        Ok(transition) => transition,
        Err(refusal) => {
            let shown: String = id.chars().take(64).collect();
            let terms = vec![
                format!("alert={shown}"),
                format!("action={:.16}", action),
                "outcome=refused".into(),
            ];
            state
                .record(state.event(&session, "alert_decision", client, terms))
                .await?;
            return Err(refusal);
        }
    };
    // The handler may be dropped when the client disconnects; this task is not.
    let task = tokio::spawn(write_and_audit(Arc::clone(&state), session, client, transition));
    task.await?
}

/// The transition a request asks for, checked against what the user sees.
fn prepare(
    state: &ApiState,
    session: &Session,
    id: &str,
    action: &str,
    request: DecideRequest,
) -> Result<Transition, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    let action = action_of(action, request)?;
    let view = state
        .board
        .view(&id, Some(&session.organisation))
        .ok_or(ApiError::NotFound)?;
    // A closed alert takes no step (seen again, it shows as new instead).
    if view.state == AlertState::Closed || !action.allowed_from(view.state) {
        let last = view.history.last().map_or(String::new(), |s| format!(" by {}", s.by));
        let shown = view.state.name();
        return Err(ApiError::Conflict(format!(
            "cannot {}: the alert is {shown}{last}",
            action.name()
        )));
    }
    let transition = Transition {
        schema: TRANSITION_SCHEMA,
        transition_id: Uuid::new_v4(),
        alert_id: id,
        // A reopened alert shows as new but leaves `closed`.
        from: state.board.lifecycle_state(&id),
        action,
        by: session.username.clone(),
        organisation: session.organisation.clone(),
        at: state.now().into(),
    };
    transition.validate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(transition)
}

/// Writes the decision, waits to read it back, audits and counts it.
async fn write_and_audit(
    state: Arc<ApiState>,
    session: Session,
    client: SocketAddr,
    transition: Transition,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = transition.alert_id;
    let name = transition.action.name();
    let mut terms = vec![format!("alert={id}")];
    if let Action::Reject { reason, .. } = &transition.action {
        terms.push(format!("reason={}", reason.name()));
    }
    let captured_ms = (state.board.captured_ms(&id)).unwrap_or_else(|| transition.at.timestamp_millis());
    let decided = match state.stores.decisions.write(&transition, captured_ms).await {
        Ok(()) => {
            state
                .board
                .wait_decision(&transition.transition_id, DECISION_WAIT)
                .await
        }
        Err(e) => {
            terms.push("outcome=not_written".into());
            state
                .record(state.event(&session, &format!("alert_{name}"), client, terms))
                .await?;
            return Err(e.into());
        }
    };
    let outcome = match decided.as_ref().map(|d| &d.decision) {
        Some(Decision::Applied) => "applied",
        Some(Decision::Conflict { .. }) => "conflict",
        None => "written_not_read_back",
    };
    terms.push(format!("outcome={outcome}"));
    state
        .record(state.event(&session, &format!("alert_{name}"), client, terms))
        .await?;
    state.metrics.decisions.with_label_values(&[name, outcome]).inc();
    let decided = decided.ok_or_else(|| ApiError::Unavailable("decision written but not read back in time".into()))?;
    match decided.decision {
        Decision::Applied => {
            let view = state.board.view(&id, Some(&session.organisation));
            if let Some(v) = &view {
                let camera = if state.board.may_see(&v.list_id, None) {
                    &v.camera_id
                } else {
                    "covert"
                };
                state.metrics.alert_state_changed(camera, v.state.name());
            }
            if let (
                Action::Reject {
                    reason: RejectReason::Misread,
                    ..
                },
                Some(view),
            ) = (&transition.action, &view)
            {
                // A covert list's cameras are not for the metrics page.
                let camera = if state.board.may_see(&view.list_id, None) {
                    view.camera_id.as_str()
                } else {
                    "covert"
                };
                state
                    .metrics
                    .misread_rejections
                    .with_label_values(&[
                        &state.metrics.camera_label(camera),
                        view.match_kind.name(),
                        crate::alert::feedback::confusion_kind(
                            &view.read_plate,
                            &view.entry_plate,
                            view.match_kind,
                            false,
                        ),
                    ])
                    .inc();
            }
            Ok(Json(serde_json::json!({ "incident": view })))
        }
        Decision::Conflict { state: now, by } => {
            let by = by.map_or(String::new(), |b| format!(" by {b}"));
            Err(ApiError::Conflict(format!("already {}{by}", now.name())))
        }
    }
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
