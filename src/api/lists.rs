//! The register of hotlists: the custodian decides which organisation may
//! upload each list and in which category.
//!
//! A penetration test found that a feed account could take over lists
//! that had no owner record yet (those loaded from the hotlist file) and
//! create any list, in any category, by uploading to it. Now an agency
//! uploads only to a list registered to its organisation, with the
//! registered category ([`super::hotlists`] enforces it); only the
//! custodian registers, moves or removes a list here. Each registration is
//! a `list:<id>` principal record, so every instance applies it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use super::state::{ApiError, ApiState, Session};
use crate::access::principals::ListRegistration;
use crate::hotlist::Category;

/// Every registered list.
pub async fn list_lists(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<Vec<ListRegistration>>, ApiError> {
    let lists: Vec<ListRegistration> = state
        .principals
        .read()
        .expect("principals lock")
        .lists()
        .cloned()
        .collect();
    let mut event = state.event(&session, "list_lists", client, Vec::new());
    event.result_count = Some(lists.len() as u64);
    state.record(event).await?;
    Ok(Json(lists))
}

#[derive(Deserialize)]
pub struct Registration {
    organisation: String,
    category: Category,
}

/// Registers list `list_id` to an organisation and a category, or moves it.
pub async fn register_list(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(list_id): Path<String>,
    Json(registration): Json<Registration>,
) -> Result<StatusCode, ApiError> {
    crate::text::check_id(&list_id).map_err(|e| ApiError::BadRequest(format!("list id {e}")))?;
    let list = ListRegistration {
        list_id,
        organisation: registration.organisation.trim().to_owned(),
        category: registration.category,
    };
    list.validate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (key, value) = list.record();
    state.publish(&key, Some(&value)).await?;
    let terms = vec![
        format!("list={}", list.list_id),
        format!("organisation={}", list.organisation),
        format!("category={}", list.category.name()),
    ];
    state
        .record(state.event(&session, "list_registered", client, terms))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a list from the register: no agency may upload to it any more
/// (its entries stay until the custodian replaces the list).
pub async fn unregister_list(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(list_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    crate::text::check_id(&list_id).map_err(|e| ApiError::BadRequest(format!("list id {e}")))?;
    if state
        .principals
        .read()
        .expect("principals lock")
        .list(&list_id)
        .is_none()
    {
        return Err(ApiError::NotFound);
    }
    state.publish(&format!("list:{list_id}"), None).await?;
    let terms = vec![format!("list={list_id}")];
    state
        .record(state.event(&session, "list_unregistered", client, terms))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
