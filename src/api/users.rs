//! Users and contractor grants: the custodian's routes.
//!
//! Each change is a principal record ([`ApiState::publish`]), applied here
//! at once and by every other instance when it reads it, and an audit
//! record. A user is added once (an existing name is a conflict) and
//! changed explicitly; disabled, never deleted, so the audit trail keeps a
//! name; a change or disabling ends their sessions. A grant is checked by
//! [`crate::access::principals::Principals::check_new_grant`]: contractor
//! actions only, at most 30 days, to an existing contractor. Secrets never
//! come back. A user carries the policy's prerequisites (`sworn`,
//! `trained_on`, `expires_on`; [`crate::access::prerequisites`]), set when
//! added and kept by a change that does not name them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::state::{ApiError, ApiState, Session};
use crate::access::auth::{self, Action, Grant, Role};
use crate::access::prerequisites;
use crate::access::principals::{check_username, User};

#[derive(Serialize)]
pub struct UserView {
    username: String,
    organisation: String,
    role: Role,
    disabled: bool,
    sworn: bool,
    trained_on: Option<NaiveDate>,
    expires_on: Option<NaiveDate>,
}

pub async fn list_users(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<Vec<UserView>>, ApiError> {
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
            sworn: u.sworn,
            trained_on: u.trained_on,
            expires_on: u.expires_on,
        })
        .collect();
    let mut event = state.event(&session, "list_users", client, Vec::new());
    event.result_count = Some(users.len() as u64);
    state.record(event).await?;
    Ok(Json(users))
}

#[derive(Deserialize)]
pub struct NewUser {
    username: String,
    organisation: String,
    role: Role,
    password: String,
    /// A sworn officer (an officer searches only if sworn and trained).
    #[serde(default)]
    sworn: bool,
    /// The day of the last ALPR training, not in the future.
    #[serde(default)]
    trained_on: Option<NaiveDate>,
    /// The last day the account may be used; absent: no expiry.
    #[serde(default)]
    expires_on: Option<NaiveDate>,
}

/// Adds a user; an existing name is a conflict (changes go through
/// [`change_user`], so nothing is overwritten by accident).
pub async fn add_user(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(new): Json<NewUser>,
) -> Result<StatusCode, ApiError> {
    check_username(&new.username).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if state
        .principals
        .read()
        .expect("principals lock")
        .user(&new.username)
        .is_some()
    {
        return Err(ApiError::Conflict(format!(
            "user {} exists; change it with PUT /api/users/{}",
            new.username, new.username
        )));
    }
    check_training_date(&state, new.trained_on)?;
    let user = new_user(&state, &new.username, &new.organisation, new.role, new.password)
        .await?
        .with_prerequisites(new.sworn, new.trained_on, new.expires_on);
    let (key, value) = user.record();
    state.publish(&key, Some(&value)).await?;
    let mut terms = vec![format!("username={}", user.username), format!("role={:?}", user.role)];
    terms.extend(prerequisite_terms(&user));
    state.record(state.event(&session, "user_added", client, terms)).await?;
    Ok(StatusCode::CREATED)
}

#[derive(Deserialize)]
pub struct ChangedUser {
    organisation: String,
    role: Role,
    password: String,
    /// Re-enables a disabled user when true; absent or false keeps them disabled.
    #[serde(default)]
    enable: bool,
    /// Absent keeps the user's sworn status.
    #[serde(default)]
    sworn: Option<bool>,
    /// Absent keeps the user's training date.
    #[serde(default)]
    trained_on: Option<NaiveDate>,
    /// Absent keeps the user's expiry.
    #[serde(default)]
    expires_on: Option<NaiveDate>,
}

/// Changes an existing user's organisation, role and password. Their
/// sessions end: nobody keeps an old role or organisation.
pub async fn change_user(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(username): Path<String>,
    Json(changed): Json<ChangedUser>,
) -> Result<StatusCode, ApiError> {
    let existing = state
        .principals
        .read()
        .expect("principals lock")
        .user(&username)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    check_training_date(&state, changed.trained_on)?;
    let mut user = new_user(&state, &username, &changed.organisation, changed.role, changed.password)
        .await?
        .with_prerequisites(
            changed.sworn.unwrap_or(existing.sworn),
            changed.trained_on.or(existing.trained_on),
            changed.expires_on.or(existing.expires_on),
        );
    user.disabled = existing.disabled && !changed.enable;
    let (key, value) = user.record();
    state.publish(&key, Some(&value)).await?;
    super::session::end_sessions_of(&state, &user.username).await;
    let mut terms = vec![
        format!("username={}", user.username),
        format!("role={:?}", user.role),
        format!("was={:?}/{}", existing.role, existing.organisation),
        format!("disabled={}", user.disabled),
    ];
    terms.extend(prerequisite_terms(&user));
    state
        .record(state.event(&session, "user_changed", client, terms))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses (400) a training date in the future.
fn check_training_date(state: &ApiState, trained_on: Option<NaiveDate>) -> Result<(), ApiError> {
    let today = DateTime::<Utc>::from(state.now()).date_naive();
    prerequisites::check_training_date(trained_on, today).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The audit terms of a user's prerequisites.
fn prerequisite_terms(user: &User) -> [String; 3] {
    let day = |d: Option<NaiveDate>| d.map_or_else(|| "none".to_owned(), |d| d.to_string());
    [
        format!("sworn={}", user.sworn),
        format!("trained_on={}", day(user.trained_on)),
        format!("expires_on={}", day(user.expires_on)),
    ]
}

/// A checked user with a freshly hashed password (through the password gate).
async fn new_user(
    state: &ApiState,
    username: &str,
    organisation: &str,
    role: Role,
    password: String,
) -> Result<User, ApiError> {
    auth::check_password(&password).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    User::new(username, organisation, role, String::new()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let turn = state.passwords.admit()?;
    let hash = turn
        .run(move || auth::hash_password(&password))
        .await?
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    User::new(username, organisation, role, hash).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Disables a user (kept for the audit trail) and ends their sessions.
pub async fn disable_user(
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
    state.publish(&key, Some(&value)).await?;
    super::session::end_sessions_of(&state, &username).await;
    let terms = vec![format!("username={username}")];
    state
        .record(state.event(&session, "user_disabled", client, terms))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct NewGrant {
    grantee: String,
    document_ref: String,
    scope: Vec<Action>,
    expires_at: DateTime<Utc>,
}

pub async fn add_grant(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(new): Json<NewGrant>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let grant = Grant {
        grantee: new.grantee,
        document_ref: new.document_ref.trim().to_owned(),
        scope: new.scope,
        expires_at: new.expires_at.into(),
        revoked: false,
    };
    state
        .principals
        .read()
        .expect("principals lock")
        .check_new_grant(&grant, state.now())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let value = serde_json::to_vec(&grant).expect("grants serialize");
    state.publish(&format!("grant:{id}"), Some(&value)).await?;
    let terms = vec![
        format!("grantee={}", grant.grantee),
        format!("document={}", grant.document_ref),
    ];
    state
        .record(state.event(&session, "grant_issued", client, terms))
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

pub async fn revoke_grant(
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
    state.publish(&format!("grant:{id}"), Some(&value)).await?;
    let terms = vec![format!("grant={id}")];
    state
        .record(state.event(&session, "grant_revoked", client, terms))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
