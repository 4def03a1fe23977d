//! Hotlist uploads over HTTPS: an agency replaces its own lists, the
//! custodian any list.
//!
//! The file is validated whole before anything is written and refused with
//! every bad line listed; the upload needs a reason
//! ([`crate::access::audit::check_reason`]); both outcomes are audited.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;

use super::state::{ApiError, ApiState, Session};
use crate::access::audit::check_reason;
use crate::access::auth::Role;
use crate::hotlist::feed::{self, FeedOptions, Format};
use crate::hotlist::plan::{UploadOutcome, Uploader};
use crate::hotlist::Category;

#[derive(Deserialize)]
pub struct UploadParams {
    format: String,
    #[serde(default)]
    category: Option<String>,
    reason: String,
    /// Sets the list's covert flag (its owner only); absent keeps it.
    #[serde(default)]
    covert: Option<bool>,
}

/// Replaces a list with the uploaded file: validated whole first; refused
/// with every bad line listed; an agency may only replace its own lists.
pub async fn upload_hotlist(
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
    let reason = check_reason(&params.reason).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let options = FeedOptions {
        list_id: list_id.clone(),
        category,
        limits: state.config.hotlist.limits,
    };
    let mut event = state.event(
        &session,
        "hotlist_upload",
        client,
        vec![format!("list={list_id}"), format!("reason={reason}")],
    );
    let entries = match feed::parse(&body, &format, &options) {
        Ok(entries) => entries,
        Err(e) => {
            event.action = "hotlist_upload_refused".into();
            state.record(event).await;
            return Err(ApiError::BadRequest(format!("nothing uploaded: {e}")));
        }
    };
    let uploader = Uploader {
        organisation: &session.organisation,
        enforce_owner: session.role != Role::Custodian,
        covert: params.covert,
    };
    let outcome = state.stores.hotlists.upload(&list_id, &entries, uploader).await?;
    match outcome {
        UploadOutcome::Done(report) => {
            state.metrics.historical_alerts.inc_by(report.historical_alerts as u64);
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

#[cfg(test)]
#[path = "hotlists_tests.rs"]
mod tests;
