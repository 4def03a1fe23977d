//! Users and contractor grants: the custodian's routes.
//!
//! Each change is a principal record ([`ApiState::publish`]), applied here
//! at once and by every other instance when it reads it, and an audit
//! record. A user is disabled, never deleted, so the audit trail keeps a
//! name; disabling ends their sessions. Secrets never come back.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::{ApiError, ApiState, Session};
use crate::access::auth::{self, Action, Grant, Role};
use crate::access::principals::User;

#[derive(Serialize)]
pub struct UserView {
    username: String,
    organisation: String,
    role: Role,
    disabled: bool,
}

pub async fn list_users(
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
pub struct NewUser {
    username: String,
    organisation: String,
    role: Role,
    password: String,
}

pub async fn add_user(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(new): Json<NewUser>,
) -> Result<StatusCode, ApiError> {
    let password = new.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await?
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let user =
        User::new(&new.username, &new.organisation, new.role, hash).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let existing = state
        .principals
        .read()
        .expect("principals lock")
        .user(&user.username)
        .map(|u| (u.role, u.organisation.clone()));
    let (key, value) = user.record();
    state.publish(&key, Some(&value)).await?;
    // A changed user logs in again: no session keeps the old role or organisation.
    state.sessions.retain(|_, s| s.username != user.username);
    let mut terms = vec![format!("username={}", user.username), format!("role={:?}", user.role)];
    let action = match existing {
        Some((role, organisation)) => {
            terms.push(format!("was={role:?}/{organisation}"));
            "user_changed"
        }
        None => "user_added",
    };
    state.record(state.event(&session, action, client, terms)).await;
    Ok(StatusCode::CREATED)
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
    state.sessions.retain(|_, s| s.username != username);
    let terms = vec![format!("username={username}")];
    state
        .record(state.event(&session, "user_disabled", client, terms))
        .await;
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
    state.publish(&format!("grant:{id}"), Some(&value)).await?;
    let terms = vec![
        format!("grantee={}", grant.grantee),
        format!("document={}", grant.document_ref),
    ];
    state.record(state.event(&session, "grant_issued", client, terms)).await;
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
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
