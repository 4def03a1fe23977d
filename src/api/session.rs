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
//! Every instance knows every session: a login is on the principals topic
//! (by the digest of its token, [`crate::access::sessions`]) before the
//! token is handed out, and a logout or a disabled user's end is a
//! tombstone there, so a token works, and stops working, on every replica.

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
use crate::access::sessions::{self, FailureRecord, SessionRecord};

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
        sealed_terms: None,
    };
    // A name that no user can have is refused before it costs a password
    // check or a lockout entry; the audit record keeps a bounded copy.
    if check_username(&username).is_err() {
        let terms = vec!["username is not a valid username".into()];
        state.metrics.login("failure");
        state.record(event("login_failed", None, String::new(), terms)).await?;
        return Err(ApiError::BadCredentials);
    }
    let turn = state.passwords.admit()?;
    let pair = sessions::pair_of(&username, addr);
    if let Err(Delayed { until }) = begin_attempt(&state, &username, addr, &pair).await {
        state.metrics.login("locked_out");
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
        state.metrics.login("failure");
        state
            .record(event("login_failed", None, String::new(), Vec::new()))
            .await?;
        return Err(ApiError::BadCredentials);
    };
    state.lockout.lock().expect("lockout lock").succeeded(&username, addr);
    forgive(&state, &pair).await;
    // The password is right, but an expired account may not log in.
    let today = chrono::DateTime::<chrono::Utc>::from(now).date_naive();
    if let Err(expired) = user.check_account(today) {
        let terms = vec!["POST /api/login".into(), expired.to_string()];
        state.metrics.login("refused");
        state
            .record(event("access_denied", Some(user.role), user.organisation, terms))
            .await?;
        return Err(ApiError::Refused(expired.to_string()));
    }
    let token = random_token();
    let record = SessionRecord {
        username: user.username.clone(),
        organisation: user.organisation.clone(),
        role: user.role,
        expires_at: now + state.config.api.session_ttl,
    };
    let session = Session::of(&token, &record);
    state.metrics.login("success");
    state
        .record(event("login", Some(user.role), user.organisation, Vec::new()))
        .await?;
    start_session(&state, &token, record).await?;
    let expired = state
        .principals
        .read()
        .expect("principals lock")
        .logins
        .expired_sessions(now, 16);
    end_sessions(&state, expired).await; // tidy the topic as we go
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
    state
        .record(state.event(&session, "logout", client, Vec::new()))
        .await?;
    end_sessions(&state, vec![sessions::digest(&session.token)]).await;
    let cleared = format!("{SESSION_COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared)]))
}

/// Counts a login attempt before its password is checked, adding what
/// the other instances counted, and shares this instance's count on the
/// principals topic. A count that cannot be shared is logged: it still
/// holds here.
async fn begin_attempt(state: &ApiState, username: &str, addr: std::net::IpAddr, pair: &str) -> Result<(), Delayed> {
    let now = state.now();
    let count = {
        let mut lockout = state.lockout.lock().expect("lockout lock");
        let mut principals = state.principals.write().expect("principals lock");
        if principals.logins.take_forgiven(pair) {
            lockout.succeeded(username, addr); // a right password elsewhere
        }
        let elsewhere = principals
            .logins
            .failures_elsewhere(pair, &state.instance, now, lockout.quiet_for());
        lockout.begin(username, addr, now, elsewhere.map(|r| (r.count, r.last)))?
    };
    let record = serde_json::to_vec(&FailureRecord { count, last: now }).expect("failure records serialize");
    let key = sessions::failures_key(pair, &state.instance);
    if let Err(e) = state.stores.principals.write(&key, Some(&record)).await {
        tracing::warn!(error = %e, "a failed-login count could not be shared on the principals topic");
    }
    Ok(())
}

/// A right password: tombstones the pair's counts of every instance, and
/// up to 16 counts that have been quiet long enough to be forgotten.
async fn forgive(state: &ApiState, pair: &str) {
    let quiet = state.lockout.lock().expect("lockout lock").quiet_for();
    let mut keys = {
        let principals = state.principals.read().expect("principals lock");
        let mut keys = principals.logins.failure_keys(pair);
        keys.extend(principals.logins.stale_failures(state.now(), quiet, 16));
        keys
    };
    keys.push(sessions::failures_key(pair, &state.instance));
    keys.sort();
    keys.dedup();
    for key in keys {
        let _ = state
            .principals
            .write()
            .expect("principals lock")
            .logins
            .apply(&key, None);
        if let Err(e) = state.stores.principals.write(&key, None).await {
            tracing::warn!(error = %e, "a failed-login count could not be cleared on the principals topic");
        }
    }
}

/// Puts a new session on the principals topic (every instance follows it)
/// and into this instance's copy, before its token is handed out.
async fn start_session(state: &ApiState, token: &str, record: SessionRecord) -> Result<(), ApiError> {
    let value = serde_json::to_vec(&record).expect("session records serialize");
    state
        .stores
        .principals
        .write(&sessions::key_of(token), Some(&value))
        .await?;
    let mut principals = state.principals.write().expect("principals lock");
    principals.logins.insert_session(sessions::digest(token), record);
    Ok(())
}

/// Ends sessions, by the digests of their tokens, here at once and on every
/// instance through a tombstone each. A tombstone that cannot be written
/// is logged: the session has ended here, and on the others it ends when
/// it expires or its user changes.
pub async fn end_sessions(state: &ApiState, digests: Vec<String>) {
    for digest in digests {
        state
            .principals
            .write()
            .expect("principals lock")
            .logins
            .remove_session(&digest);
        let key = format!("{}{digest}", sessions::PREFIX);
        if let Err(e) = state.stores.principals.write(&key, None).await {
            tracing::warn!(error = %e, "a session's end could not be written to the principals topic");
        }
    }
}

/// Ends every session of `username` (changed, disabled or deleted).
pub async fn end_sessions_of(state: &ApiState, username: &str) {
    let digests = state
        .principals
        .read()
        .expect("principals lock")
        .logins
        .sessions_of(username);
    end_sessions(state, digests).await;
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
