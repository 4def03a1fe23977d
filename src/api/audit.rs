//! The audit log, for the custodian: is the chain intact, and who did what
//! and why in a period.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::state::{ApiError, ApiState, Session};
use crate::access::audit::{self, AuditRecord};

pub async fn audit_verify(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let records = state.stores.audit.read_all().await?;
    state
        .record(state.event(&session, "audit_verified", client, Vec::new()))
        .await?;
    Ok(Json(match audit::verify(&state.config.key, &records) {
        Ok(()) => serde_json::json!({ "intact": true, "records": records.len() }),
        Err(e) => serde_json::json!({ "intact": false, "records": records.len(), "problem": e.to_string() }),
    }))
}

#[derive(Deserialize)]
pub struct Period {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

pub async fn audit_report(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
    Query(period): Query<Period>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let terms = vec![format!("from={}", period.from), format!("to={}", period.to)];
    let records = state
        .audited_records(&session, client, ("audit_report", terms), |r| {
            r.event.at >= period.from && r.event.at <= period.to
        })
        .await?;
    Ok(Json(records))
}
