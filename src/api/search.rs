//! Searches, exports and sharing: the routes that touch ALPR data.
//!
//! Every search and export needs a valid purpose of use; one without is
//! refused and the refusal audited. ALPR data is shared only with agencies
//! the custodian registered as California public agencies, and each export
//! and refused export is in the audit log, which is the sharing register.
//! Searches read the topics themselves ([`super::stores::TopicScan`]), which
//! hold at most 30 days.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::state::{ApiError, ApiState, Session};
use crate::access::audit::{self, bounds, packed_terms, AuditEvent, AuditRecord};
use crate::access::auth::Action;
use crate::access::principals::{Agency, PrincipalError};
use crate::alert::Alert;
use crate::normalize::{normalize, Plate};

/// Most records one search or export returns.
const SEARCH_LIMIT: usize = 1000;

#[derive(Deserialize)]
pub struct SearchRequest {
    plate: String,
    purpose: Option<audit::Purpose>,
}

/// Refuses (and audits the refusal of) a search or export without a valid purpose.
async fn check_purpose(
    state: &ApiState,
    session: &Session,
    client: SocketAddr,
    action: Action,
    purpose: Option<&audit::Purpose>,
) -> Result<(), ApiError> {
    if let Err(e) = audit::require_purpose(action, purpose) {
        state
            .record(state.event(session, "refused_without_purpose", client, Vec::new()))
            .await?;
        return Err(ApiError::BadRequest(e.to_string()));
    }
    Ok(())
}

/// The payloads of `topic` that `keep` accepts, up to the search limit.
async fn scan(
    state: &ApiState,
    topic: &str,
    keep: impl FnMut(&[u8]) -> bool + Send + 'static,
) -> Result<Vec<Vec<u8>>, ApiError> {
    Ok(state.stores.scan.scan(topic, SEARCH_LIMIT, Box::new(keep)).await?)
}

/// The alerts on the alerts topic whose read or entry plate is `plate`.
/// The alerts on `plate` that a user of `organisation` may see: hits on
/// another organisation's covert list are left out.
async fn alerts_for(state: &ApiState, plate: Plate, organisation: &str) -> Result<Vec<Alert>, ApiError> {
    let wanted = plate.to_string();
    let found = scan(state, &state.config.topics.alerts, move |bytes| {
        Alert::decode(bytes).is_ok_and(|a| a.read.plate == wanted || a.entry.plate == wanted)
    })
    .await?;
    Ok(found
        .iter()
        .filter_map(|b| Alert::decode(b).ok())
        .filter(|a| state.board.may_see(&a.entry.list_id, Some(organisation)))
        .collect())
}

/// A search or export that failed is on the log too, with its error,
/// before the error is answered; a success passes through.
async fn unless_failed<T>(
    state: &ApiState,
    session: &Session,
    client: SocketAddr,
    action: &str,
    terms: &[String],
    purpose: &Option<audit::Purpose>,
    outcome: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let Err(error) = outcome else { return outcome };
    let detail = match &error {
        ApiError::Unavailable(detail) => detail.clone(),
        other => other.to_string(),
    };
    let mut terms = terms.to_vec();
    terms.push(format!("error={detail}"));
    let mut event = state.event(session, &format!("{action}_failed"), client, terms);
    event.purpose = purpose.clone();
    state.record(event).await?;
    Err(error)
}

fn plate_of(text: &str) -> Result<Plate, ApiError> {
    normalize(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A search or export, in the audit log with its terms, purpose and count.
fn searched(
    state: &ApiState,
    session: &Session,
    client: SocketAddr,
    action: &str,
    terms: Vec<String>,
    purpose: Option<audit::Purpose>,
    count: usize,
) -> AuditEvent {
    let mut event = state.event(session, action, client, terms);
    event.purpose = purpose;
    event.result_count = Some(count as u64);
    event
}

pub async fn search_alerts(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(request): Json<SearchRequest>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    check_purpose(&state, &session, client, Action::SearchAlerts, request.purpose.as_ref()).await?;
    let plate = plate_of(&request.plate)?;
    let terms = vec![format!("plate={plate}")];
    let found = alerts_for(&state, plate, &session.organisation).await;
    let alerts = unless_failed(
        &state,
        &session,
        client,
        "search_alerts",
        &terms,
        &request.purpose,
        found,
    )
    .await?;
    let event = searched(
        &state,
        &session,
        client,
        "search_alerts",
        terms,
        request.purpose,
        alerts.len(),
    );
    state.record(event).await?;
    Ok(Json(alerts))
}

pub async fn search_reads(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(request): Json<SearchRequest>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    check_purpose(&state, &session, client, Action::SearchReads, request.purpose.as_ref()).await?;
    let plate = plate_of(&request.plate)?;
    let limit = state.config.pipeline.max_record_bytes;
    let terms = vec![format!("plate={plate}")];
    let found = scan(&state, &state.config.topics.reads, move |bytes| {
        crate::read::parse(bytes, limit).is_ok_and(|r| normalize(&r.plate).is_ok_and(|p| p == plate))
    })
    .await;
    let found = unless_failed(
        &state,
        &session,
        client,
        "search_reads",
        &terms,
        &request.purpose,
        found,
    )
    .await?;
    let reads: Vec<serde_json::Value> = found.iter().filter_map(|b| serde_json::from_slice(b).ok()).collect();
    let event = searched(
        &state,
        &session,
        client,
        "search_reads",
        terms,
        request.purpose,
        reads.len(),
    );
    state.record(event).await?;
    Ok(Json(reads))
}

/// The agencies ALPR data may be shared with (audited: who looked).
pub async fn list_agencies(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<Vec<Agency>>, ApiError> {
    state
        .record(state.event(&session, "list_agencies", client, Vec::new()))
        .await?;
    let agencies = state
        .principals
        .read()
        .expect("principals lock")
        .agencies()
        .cloned()
        .collect();
    Ok(Json(agencies))
}

pub async fn add_agency(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(agency): Json<Agency>,
) -> Result<StatusCode, ApiError> {
    if let Err(e) = agency.validate() {
        let terms = vec![format!("ori={}", agency.ori), format!("error={e}")];
        state
            .record(state.event(&session, "agency_refused", client, terms))
            .await?;
        return Err(match e {
            PrincipalError::NotCalifornian(_) => ApiError::Unprocessable(e.to_string()),
            _ => ApiError::BadRequest(e.to_string()),
        });
    }
    let value = serde_json::to_vec(&agency).expect("agencies serialize");
    state.publish(&format!("agency:{}", agency.ori), Some(&value)).await?;
    let terms = vec![
        format!("ori={}", agency.ori),
        format!("california_public_agency={}", agency.california_public_agency),
    ];
    state
        .record(state.event(&session, "agency_registered", client, terms))
        .await?;
    Ok(StatusCode::CREATED)
}

#[derive(Deserialize)]
pub struct ExportRequest {
    agency_ori: String,
    plate: String,
    purpose: Option<audit::Purpose>,
}

#[derive(Serialize)]
pub struct ExportResponse {
    agency: Agency,
    alerts: Vec<Alert>,
}

/// Shares the alerts for a plate with a registered California public
/// agency. The audit record names the requesting user, the receiving
/// agency (ORI and name), the plate, how many alerts were sent and their
/// ids (`alerts=<id>,<id>`, as many as the bounds hold; flagged truncated
/// if not all).
pub async fn export(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Json(request): Json<ExportRequest>,
) -> Result<Json<ExportResponse>, ApiError> {
    check_purpose(&state, &session, client, Action::Export, request.purpose.as_ref()).await?;
    let agency = state
        .principals
        .read()
        .expect("principals lock")
        .agency(&request.agency_ori)
        .cloned();
    let Some(agency) = agency.filter(|a| a.california_public_agency) else {
        let mut event = state.event(
            &session,
            "export_refused",
            client,
            vec![format!("agency={}", request.agency_ori)],
        );
        event.purpose = request.purpose;
        state.record(event).await?;
        return Err(ApiError::Refused(
            "ALPR data is shared only with registered California public agencies".into(),
        ));
    };
    let plate = plate_of(&request.plate)?;
    let mut terms = vec![
        format!("agency={}", agency.ori),
        format!("agency_name={}", agency.name),
        format!("plate={plate}"),
    ];
    let found = alerts_for(&state, plate, &session.organisation).await;
    let alerts = unless_failed(&state, &session, client, "export", &terms, &request.purpose, found).await?;
    // The records sent: their count, then their ids as far as the bounds allow.
    terms.push(format!("sent_count={}", alerts.len()));
    let ids: Vec<String> = alerts.iter().map(|a| a.alert_id.to_string()).collect();
    let (listed, complete) = packed_terms(&[("alerts", &ids)], bounds::TERMS - terms.len());
    terms.extend(listed);
    let mut event = searched(&state, &session, client, "export", terms, request.purpose, alerts.len());
    event.truncated |= !complete;
    state.record(event).await?;
    Ok(Json(ExportResponse { agency, alerts }))
}

/// The sharing register: every export and refused export, from the audit log.
pub async fn sharing_register(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let records = state
        .audited_records(&session, client, ("sharing_register", Vec::new()), |r| {
            r.event.action == "export" || r.event.action == "export_refused"
        })
        .await?;
    Ok(Json(records))
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
