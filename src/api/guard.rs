//! The authorization middleware: every request passes here before any
//! handler runs.
//!
//! It looks the matched route up in [`routes::rules`] (a route without a
//! rule is refused: deny by default), answers 413 to a body declared larger
//! than the route reads, resolves the session from the bearer token or the
//! cookie (whose CSRF token must come back on every change), checks the
//! rule with [`authorize`], records every refusal in the audit log (with
//! the session's user, or anonymous for a missing, expired or ended
//! session), admits a large upload only while an upload slot is free
//! ([`super::limits`]), and only then calls the handler with the
//! [`Session`]. A session is checked against the user as the principals
//! are now on every request: a deleted, disabled, demoted or moved user's
//! session ends, an expired account's too (403), and an officer who is not
//! sworn or not currently trained is refused searches and exports (403,
//! [`crate::access::prerequisites`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::state::{Access, ApiError, ApiState, Session, CSRF_HEADER, SESSION_COOKIE};
use super::{routes, session};
use crate::access::auth::{authorize, Action};
use crate::access::prerequisites::PrerequisiteError;
use crate::access::sessions;

/// Security headers on every response, whatever route or error made it:
/// no caching of anything unless the route says otherwise (ALPR data must
/// not sit in a browser or proxy cache), HSTS, no MIME sniffing, no
/// framing, no referrer, and a content security policy that allows
/// nothing unless the route sets its own (the board page does).
pub async fn security_headers(request: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let defaults = [
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    let always = [
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in always {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Answers 413 to a body declared larger than the route reads, before
/// reading any of it: a client that waits for `100 Continue` never sends
/// it, and none is cut off mid-upload by a closed connection.
pub async fn refuse_declared_oversize(request: Request, next: Next) -> Result<Response, ApiError> {
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
pub async fn authorize_request(
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
    let (session, from_cookie) = match session_of(&state, token_of(&request)).await {
        Ok(found) => found,
        Err(refusal) => {
            let terms = vec![format!("{} {}", request.method(), path), refusal.to_string()];
            state.record(anonymous_refusal(&state, client, terms)).await?;
            return Err(refusal);
        }
    };
    if from_cookie && request.method() != Method::GET && !csrf_echoed(&request, &session) {
        let terms = vec![
            format!("{} {}", request.method(), path),
            "csrf token missing or wrong".into(),
        ];
        state
            .record(state.event(&session, "access_denied", client, terms))
            .await?;
        return Err(ApiError::Forbidden);
    }
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
                .await?;
            return Err(ApiError::Forbidden);
        }
    }
    let action = match access {
        Access::Action(action) => Some(action),
        _ => None,
    };
    if let Err(unmet) = prerequisites(&state, &session, action) {
        if matches!(unmet, PrerequisiteError::AccountExpired(_)) {
            session::end_sessions(&state, vec![sessions::digest(&session.token)]).await;
        }
        let terms = vec![format!("{} {}", request.method(), path), unmet.to_string()];
        state
            .record(state.event(&session, "access_denied", client, terms))
            .await?;
        return Err(ApiError::Refused(unmet.to_string()));
    }
    request.extensions_mut().insert(session);
    // A large upload is read whole: only a few at once.
    let _slot = match routes::rules()
        .iter()
        .find(|(m, route, _, _)| *route == path && m == request.method())
    {
        Some((_, _, _, limit)) if *limit > routes::JSON_BODY_LIMIT => Some(state.uploads.admit()?),
        _ => None,
    };
    Ok(next.run(request).await)
}

/// The session's user's prerequisites for `action` as the principals are
/// now: an account not expired; for an officer's search or export, sworn
/// and currently trained.
fn prerequisites(state: &ApiState, session: &Session, action: Option<Action>) -> Result<(), PrerequisiteError> {
    let today = chrono::DateTime::<chrono::Utc>::from(state.now()).date_naive();
    let principals = state.principals.read().expect("principals lock");
    match principals.user(&session.username) {
        Some(user) => user.check_prerequisites(action, today, state.config.access.training_valid_days),
        None => Ok(()), // a deleted user's session has already ended in session_of
    }
}

/// The audit event of a request refused for want of a live session.
fn anonymous_refusal(state: &ApiState, client: SocketAddr, terms: Vec<String>) -> crate::access::audit::AuditEvent {
    crate::access::audit::AuditEvent {
        at: state.now().into(),
        username: String::new(),
        organisation: String::new(),
        role: None,
        action: "access_denied".into(),
        query_terms: terms,
        purpose: None,
        result_count: None,
        client_addr: client.ip().to_string(),
        truncated: false,
        sealed_terms: None,
    }
}

/// Whether a request presents its session's CSRF token (a cookie session
/// must, on every request that changes something).
fn csrf_echoed(request: &Request, session: &Session) -> bool {
    let presented = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    presented.is_some_and(|p| constant_time_eq(p.as_bytes(), session.csrf_token.as_bytes()))
}

/// How long a request with a token this instance does not know waits for
/// the principals topic to bring it (a login a moment ago on another
/// replica), checking every [`SESSION_POLL`].
const SESSION_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
const SESSION_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The live session named by the `Authorization: Bearer` header, or by the
/// session cookie, and whether it came by cookie. Sessions are known to
/// every instance from the principals topic ([`crate::access::sessions`]).
async fn session_of(state: &ApiState, token: Result<(String, bool), ApiError>) -> Result<(Session, bool), ApiError> {
    let (token, from_cookie) = token?;
    let digest = sessions::digest(&token);
    let known = || {
        state
            .principals
            .read()
            .expect("principals lock")
            .logins
            .session(&digest)
            .cloned()
    };
    let mut record = known();
    let deadline = tokio::time::Instant::now() + SESSION_WAIT;
    while record.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(SESSION_POLL).await;
        record = known();
    }
    let record = record.ok_or(ApiError::Unauthenticated)?;
    if !record.live_at(state.now()) {
        session::end_sessions(state, vec![digest]).await;
        return Err(ApiError::SessionExpired);
    }
    // The user as the principals are now: a session of a user since
    // deleted, disabled, or given another role or organisation ends.
    let unchanged = state
        .principals
        .read()
        .expect("principals lock")
        .user(&record.username)
        .is_some_and(|u| !u.disabled && u.role == record.role && u.organisation == record.organisation);
    if !unchanged {
        session::end_sessions(state, vec![digest]).await;
        return Err(ApiError::SessionExpired);
    }
    Ok((Session::of(&token, &record), from_cookie))
}

/// The token of the `Authorization: Bearer` header, or else of the
/// session cookie, and whether it came by cookie.
fn token_of(request: &Request) -> Result<(String, bool), ApiError> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(token) => Ok((token.to_owned(), false)),
        None => Ok((cookie(request, SESSION_COOKIE).ok_or(ApiError::Unauthenticated)?, true)),
    }
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
