//! Hotlist uploads over HTTPS: an agency replaces the lists the custodian
//! registered to it ([`super::lists`]), in their category; the custodian
//! any list.
//!
//! The file is validated whole before anything is written and refused with
//! every bad line listed, or with `skip_invalid=true` applied without its
//! bad lines (each reported) unless too much of it is bad; the upload needs
//! a reason ([`crate::access::audit::check_reason`]); every outcome is
//! audited. `dry_run=true` answers what the upload would change and writes
//! nothing to the hotlist topic.
//! Two uploads of one list at once never mix: the one another upload
//! fenced is refused with 409 Conflict and nothing of it applied
//! ([`crate::kafka::hotlist`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;

use super::state::{ApiError, ApiState, Session};
use super::stores::StoreError;
use crate::access::audit::{check_reason, upload_terms};
use crate::access::auth::Role;
use crate::access::principals::ListRegistration;
use crate::hotlist::feed::{self, FeedOptions, Format};
use crate::hotlist::plan::{UploadOutcome, Uploader};
use crate::hotlist::preview::Previewed;
use crate::hotlist::{Category, HotlistEntry};

#[derive(Deserialize)]
pub struct UploadParams {
    format: String,
    #[serde(default)]
    category: Option<String>,
    reason: String,
    /// Sets the list's covert flag (its owner only); absent keeps it.
    #[serde(default)]
    covert: Option<bool>,
    /// Answer what would change; write nothing.
    #[serde(default)]
    dry_run: bool,
    /// With `dry_run`: rows of each kind in the answer (at most 1000).
    #[serde(default = "default_show")]
    show: usize,
    /// Apply the good rows, reporting the bad ones, up to
    /// `hotlist.max_invalid_percent` of the file.
    #[serde(default)]
    skip_invalid: bool,
}

fn default_show() -> usize {
    10
}

/// Most rows of each kind a dry run answers with.
const MAX_SHOW: usize = 1000;

/// Replaces a list with the uploaded file: the list id checked first; an
/// agency only to a list registered to it, in its registered category;
/// validated whole; refused with every bad line listed.
pub async fn upload_hotlist(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Path(list_id): Path<String>,
    Query(params): Query<UploadParams>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::text::check_id(&list_id).map_err(|e| ApiError::BadRequest(format!("list id {e}")))?;
    let format = Format::parse(&params.format).ok_or_else(|| ApiError::BadRequest("unknown format".into()))?;
    let asked = match params.category.as_deref() {
        None => None,
        Some(name) => Some(Category::parse(name).ok_or_else(|| ApiError::BadRequest("unknown category".into()))?),
    };
    let reason = check_reason(&params.reason).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mut event = state.event(
        &session,
        "hotlist_upload",
        client,
        vec![format!("list={list_id}"), format!("reason={reason}")],
    );
    let registered = state
        .principals
        .read()
        .expect("principals lock")
        .list(&list_id)
        .cloned();
    let category = match registered_category(&session, registered.as_ref(), asked) {
        Ok(category) => category,
        Err(refusal) => {
            event.action = "hotlist_upload_refused".into();
            state.record(event).await?;
            return Err(refusal);
        }
    };
    let options = FeedOptions {
        list_id: list_id.clone(),
        category,
        limits: state.config.hotlist.limits,
    };
    let skip = params.skip_invalid.then_some(state.config.hotlist.skip_invalid);
    let parsed = feed::parse_rows(&body, &format, &options)
        .and_then(|parsed| feed::accept(parsed, skip))
        .map_err(|e| e.to_string())
        .and_then(|parsed| {
            match registered
                .as_ref()
                .and_then(|r| other_category(&parsed.entries, r.category))
            {
                Some(entry_id) => Err(format!(
                    "entry {entry_id} has another category than the list's registered {}",
                    category.name()
                )),
                None => Ok(parsed),
            }
        });
    let (entries, skipped) = match parsed {
        Ok(parsed) => (parsed.entries, parsed.errors),
        Err(e) => {
            event.action = "hotlist_upload_refused".into();
            state.record(event).await?;
            return Err(ApiError::BadRequest(format!("nothing uploaded: {e}")));
        }
    };
    let uploader = Uploader {
        organisation: &session.organisation,
        enforce_owner: session.role != Role::Custodian,
        covert: params.covert,
        registered_owner: registered.as_ref().map(|r| r.organisation.as_str()),
    };
    let skipped: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    if params.skip_invalid {
        event.query_terms.push(format!("skipped_rows={}", skipped.len()));
    }
    if params.dry_run {
        let show = params.show.min(MAX_SHOW);
        return match state
            .stores
            .hotlists
            .preview(&list_id, &entries, uploader, show)
            .await?
        {
            Previewed::Preview(preview) => {
                event.action = "hotlist_upload_dry_run".into();
                event.result_count = Some(entries.len() as u64);
                state.record(event).await?;
                Ok(Json(
                    serde_json::json!({ "list": list_id, "dry_run": true, "preview": preview, "skipped": skipped }),
                ))
            }
            Previewed::NotOwner { .. } => {
                event.action = "hotlist_upload_refused".into();
                state.record(event).await?;
                Err(ApiError::Refused("this list belongs to another organisation".into()))
            }
        };
    }
    let outcome = match state.stores.hotlists.upload(&list_id, &entries, uploader).await {
        // Another upload of this list fenced this one: nothing of it was
        // written (409, the clerk may upload again).
        Err(StoreError::Conflict(why)) => {
            event.action = "hotlist_upload_refused".into();
            state.record(event).await?;
            return Err(ApiError::Conflict(why));
        }
        outcome => outcome?,
    };
    match outcome {
        UploadOutcome::Done(report) => {
            // Historical hits go to dispatch and a metric, never back to
            // the uploader: that a plate was seen is not theirs to learn.
            state.metrics.historical_alerts.inc_by(report.historical_alerts as u64);
            event.truncated |= !upload_terms(&mut event.query_terms, &report);
            event.result_count = Some(entries.len() as u64);
            state.record(event).await?;
            let mut answer = serde_json::json!({ "list": list_id, "report": report.counts() });
            if params.skip_invalid {
                answer["skipped"] = skipped.into();
            }
            Ok(Json(answer))
        }
        UploadOutcome::NotOwner { .. } => {
            event.action = "hotlist_upload_refused".into();
            state.record(event).await?;
            Err(ApiError::Refused("this list belongs to another organisation".into()))
        }
    }
}

/// The category an upload's entries get: an agency uploads only to a list
/// registered to its organisation, in the registered category; the
/// custodian to any list (the registered category by default).
fn registered_category(
    session: &Session,
    registered: Option<&ListRegistration>,
    asked: Option<Category>,
) -> Result<Category, ApiError> {
    match registered {
        Some(list) if session.role == Role::Custodian || list.organisation == session.organisation => match asked {
            Some(category) if category != list.category => Err(ApiError::BadRequest(format!(
                "list {} is registered as {}",
                list.list_id,
                list.category.name()
            ))),
            _ => Ok(list.category),
        },
        None if session.role == Role::Custodian => Ok(asked.unwrap_or(Category::StolenVehicle)),
        _ => Err(ApiError::Refused(
            "this list is not registered to your organisation; the custodian registers lists".into(),
        )),
    }
}

/// The first entry whose category is not `category`.
fn other_category(entries: &[Arc<HotlistEntry>], category: Category) -> Option<&str> {
    entries
        .iter()
        .find(|e| e.category != category)
        .map(|e| e.entry_id.as_str())
}

#[cfg(test)]
#[path = "hotlists_tests.rs"]
mod tests;
