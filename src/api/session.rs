//! Logging in and out: the one public route, and the end of a session.
//!
//! Login applies the lockout, verifies the argon2id hash (an unknown user
//! costs as much as a known one), and audits success and failure. A session
//! is a random bearer token, also set as a Secure, HttpOnly, SameSite=Strict
//! cookie for browsers, which must echo its CSRF token on every change.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::{ApiError, ApiState, Session, SESSION_COOKIE};
use crate::access::audit::AuditEvent;
use crate::access::auth::{self, Role};

#[derive(Deserialize)]
pub struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize)]
pub struct LoginResponse {
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

pub async fn login(
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

pub async fn logout(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> StatusCode {
    state.sessions.remove(&session.token);
    state.record(state.event(&session, "logout", client, Vec::new())).await;
    StatusCode::NO_CONTENT
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
