//! Logging in and out: the one public route, and the end of a session.
//!
//! Login refuses a name no user can have at once, counts the attempt
//! against its (username, address) pair before checking the password
//! ([`crate::access::lockout`]), checks the argon2id hash through the
//! bounded password gate ([`super::limits`]; an unknown user costs as much
//! as a known one), refuses an expired account (403) even with the right
//! password, and audits success, failure, refusal and delay. A session
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
use crate::access::lockout::Delayed;
use crate::access::principals::check_username;

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
    let event = |action: &str, role: Option<Role>, organisation: String, terms: Vec<String>| AuditEvent {
        at: now.into(),
        username: username.clone(),
        organisation,
        role,
        action: action.to_owned(),
        query_terms: terms,
        purpose: None,
        result_count: None,
        client_addr: addr.to_string(),
        truncated: false,
    };
    // A name that no user can have is refused before it costs a password
    // check or a lockout entry; the audit record keeps a bounded copy.
    if check_username(&username).is_err() {
        let terms = vec!["username is not a valid username".into()];
        state.record(event("login_failed", None, String::new(), terms)).await?;
        return Err(ApiError::BadCredentials);
    }
    let turn = state.passwords.admit()?;
    let begun = state.lockout.lock().expect("lockout lock").begin(&username, addr, now);
    if let Err(Delayed { until }) = begun {
        state
            .record(event("login_delayed", None, String::new(), Vec::new()))
            .await?;
        let secs = until.duration_since(now).unwrap_or_default().as_secs().max(1);
        return Err(ApiError::Delayed(secs));
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
    let verified = turn
        .run(move || auth::verify_password(&password, &hash).is_ok())
        .await?;
    let Some(user) = user.filter(|_| known && verified) else {
        state
            .record(event("login_failed", None, String::new(), Vec::new()))
            .await?;
        return Err(ApiError::BadCredentials);
    };
    state.lockout.lock().expect("lockout lock").succeeded(&username, addr);
    // The password is right, but an expired account may not log in.
    let today = chrono::DateTime::<chrono::Utc>::from(now).date_naive();
    if let Err(expired) = user.check_account(today) {
        let terms = vec!["POST /api/login".into(), expired.to_string()];
        state
            .record(event("access_denied", Some(user.role), user.organisation, terms))
            .await?;
        return Err(ApiError::Refused(expired.to_string()));
    }
    state.sessions.retain(|_, s| s.expires_at > now); // forget expired sessions
    let session = Session {
        token: random_token(),
        csrf_token: random_token(),
        username: user.username.clone(),
        organisation: user.organisation.clone(),
        role: user.role,
        expires_at: now + state.config.api.session_ttl,
    };
    state
        .record(event("login", Some(user.role), user.organisation, Vec::new()))
        .await?;
    state.sessions.insert(session.token.clone(), session.clone());
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

/// Ends the session and clears its cookie in the browser.
pub async fn logout(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1]), ApiError> {
    state.sessions.remove(&session.token);
    state
        .record(state.event(&session, "logout", client, Vec::new()))
        .await?;
    let cleared = format!("{SESSION_COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared)]))
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
