//! List management over HTTPS: `GET /api/hotlists` (every list an identity
//! may manage: its owner, category, size, last refresh, staleness, covert
//! flag) and `DELETE /api/hotlists/{list_id}?reason=` (tombstones for the
//! whole list).
//!
//! The custodian sees and removes any list; an agency feed only the lists
//! it owns (registered to its organisation, or claimed by its uploads).
//! Both are audited; a refused removal too. Entry contents are never
//! answered here: showing entries to a person needs a stated purpose
//! (`hotlist show` on the command line).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;

use super::state::{ApiError, ApiState, Session};
use crate::access::audit::check_reason;
use crate::access::auth::Role;
use crate::hotlist::listing::{self, ListRow};

/// The lists the caller may manage.
pub async fn list_hotlists(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<Vec<ListRow>>, ApiError> {
    let rows = {
        let lists = state.lists.read().expect("lists lock");
        let principals = state.principals.read().expect("principals lock");
        let registered = principals
            .lists()
            .map(|r| (r.list_id.as_str(), r.organisation.as_str(), r.category.name()));
        listing::meta_rows(&lists, registered, state.now().into(), state.config.hotlist.max_age)
    };
    let rows: Vec<ListRow> = rows
        .into_iter()
        .filter(|r| session.role == Role::Custodian || r.owner == session.organisation)
        .collect();
    let mut event = state.event(&session, "hotlist_lists", client, Vec::new());
    event.result_count = Some(rows.len() as u64);
    state.record(event).await?;
    Ok(Json(rows))
}

#[derive(Deserialize)]
pub struct RemoveParams {
    reason: String,
}

/// Removes a whole list: the custodian any, an agency feed its own.
pub async fn remove_hotlist(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(list_id): Path<String>,
    Query(params): Query<RemoveParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::text::check_id(&list_id).map_err(|e| ApiError::BadRequest(format!("list id {e}")))?;
    let reason = check_reason(&params.reason).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let owner = {
        let registered = state
            .principals
            .read()
            .expect("principals lock")
            .list(&list_id)
            .cloned();
        let meta = state.lists.read().expect("lists lock").get(&list_id).cloned();
        match (registered, meta) {
            (Some(r), _) => Some(r.organisation),
            (None, Some(m)) => Some(m.organisation),
            (None, None) => None,
        }
    };
    let Some(owner) = owner else {
        return Err(ApiError::NotFound);
    };
    let mut event = state.event(
        &session,
        "hotlist_removed",
        client,
        vec![format!("list={list_id}"), format!("reason={reason}")],
    );
    if session.role != Role::Custodian && owner != session.organisation {
        event.action = "hotlist_remove_refused".into();
        state.record(event).await?;
        return Err(ApiError::Refused("this list belongs to another organisation".into()));
    }
    let removed = state.stores.hotlists.remove(&list_id).await?;
    event.result_count = Some(removed as u64);
    state.record(event).await?;
    Ok(Json(serde_json::json!({ "list": list_id, "removed": removed })))
}

#[cfg(test)]
mod tests {
    use crate::api::fakes::Harness;

    const DOJ: &str = "/api/hotlists/doj-stolen?format=ncic&reason=nightly%20DOJ%20extract";

    /// A feed lists and removes its own lists only; the custodian any.
    #[tokio::test]
    async fn feeds_manage_their_own_lists_and_the_custodian_any() {
        let api = Harness::new();
        let feed = api.token("doj.feed").await;
        assert_eq!(
            api.call("POST", DOJ, Some(&feed), Some("LIC/ABC123.NIC/V1\n")).await.0,
            200
        );
        let (status, body) = api.call("GET", "/api/hotlists", Some(&feed), None).await;
        assert_eq!(status, 200, "{body}");
        let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
        let ids: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["list_id"].as_str().unwrap())
            .collect();
        assert!(ids.iter().all(|id| *id == "doj-stolen"), "only its own: {ids:?}");
        let remove = "/api/hotlists/doj-stolen?reason=retired%20by%20DOJ";
        let manager = api.token("manager").await;
        let (status, _) = api
            .call(
                "DELETE",
                "/api/hotlists/no-such-list?reason=retired%20list",
                Some(&manager),
                None,
            )
            .await;
        assert_eq!(status, 404);
        let (status, body) = api.call("DELETE", remove, Some(&feed), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, r#"{"list":"doj-stolen","removed":1}"#);
        assert!(!api.hotlists.plates.lock().unwrap().contains_key("doj-stolen"));
        let removed = api.audit.last().unwrap();
        assert_eq!(removed.action, "hotlist_removed");
        assert_eq!(removed.query_terms, ["list=doj-stolen", "reason=retired by DOJ"]);
        let (status, _) = api
            .call("DELETE", "/api/hotlists/doj-stolen?reason=x", Some(&manager), None)
            .await;
        assert_eq!(status, 400, "a reason is required");
    }
}
