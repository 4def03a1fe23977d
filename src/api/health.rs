//! Health and metrics: the state of this instance, with no plate data.
//!
//! Health is `ok`, `degraded` (a hotlist not refreshed within its age, so
//! new thefts are missed), `not_ready` (no reads partition for longer
//! than the grace period, so nothing is matched here) or `critical` (a
//! topic keeps ALPR data longer than the policy allows, found by the
//! hourly check). Both are read by a
//! logged-in person (ops, a contractor with a grant), and every read is on
//! the audit log like any other access; automated scrapes belong on an
//! admin port that serves no ALPR data (the ops issue).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::{Extension, Json};

use super::state::{ApiError, ApiState, Session};
use crate::kafka::hotlist::{stale, ListMeta};

/// Lists not refreshed within the configured age; also sets the metric.
fn stale_lists(state: &ApiState) -> Vec<ListMeta> {
    let lists = state.lists.read().expect("lists lock");
    let stale = stale(&lists, state.now().into(), state.config.hotlist.max_age);
    state.metrics.stale_lists.set(stale.len() as i64);
    stale
}

pub async fn health(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .record(state.event(&session, "health", client, Vec::new()))
        .await?;
    let stale = stale_lists(&state);
    let principals = state.principals.read().expect("principals lock");
    // An instance holding no reads partition for long matches nothing.
    let unassigned = state.metrics.unassigned_seconds.get() as u64;
    let matching = unassigned <= state.config.kafka.unassigned_grace.as_secs();
    let violations = state.metrics.topic_policy_violations.get();
    let status = match (violations > 0, matching, stale.is_empty()) {
        (true, _, _) => "critical",
        (false, false, _) => "not_ready",
        (false, true, false) => "degraded",
        (false, true, true) => "ok",
    };
    Ok(Json(serde_json::json!({
        "status": status,
        "reads_partitions": state.metrics.assigned_partitions.get(),
        "unassigned_seconds": unassigned,
        "stale_lists": stale,
        "topic_policy_violations": violations,
        "custodian_exists": principals.has_custodian(),
        "sessions": principals.logins.session_count(),
    })))
}

pub async fn metrics(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Extension(session): Extension<Session>,
) -> Result<String, ApiError> {
    state
        .record(state.event(&session, "metrics", client, Vec::new()))
        .await?;
    stale_lists(&state);
    Ok(state.metrics.render())
}
