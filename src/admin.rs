//! The admin port: what Prometheus and Kubernetes probes read, without a
//! login and without any ALPR or user data.
//!
//! `/metrics` is the Prometheus exposition of [`Metrics`]; `/healthz`
//! answers while the process runs; `/readyz` answers 200 once the instance
//! matches reads (the hotlists are loaded before it listens at all, and it
//! holds a reads partition or has held none for less than the grace
//! period) and the audit sealer keeps up (events have not waited unsealed
//! for [`SEALER_STALL`]), 503 otherwise. Plain HTTP like every exporter: the chart's
//! NetworkPolicy keeps it inside the cluster. People read the authenticated
//! `/api/health`, which is audited; a scrape here is not access to ALPR data.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Why the admin port could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot listen on the admin port {address}: {error}: check that no other process holds the port, or set api.admin_listen")]
    Bind { address: SocketAddr, error: std::io::Error },
}

#[derive(Clone)]
struct Admin {
    metrics: Metrics,
    grace: Duration,
}

/// The admin routes.
pub fn router(metrics: Metrics, grace: Duration) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(Admin { metrics, grace })
}

/// Binds `address` and serves the admin routes until `shutdown`; returns
/// the bound address.
pub async fn start(
    address: SocketAddr,
    metrics: Metrics,
    grace: Duration,
    shutdown: CancellationToken,
) -> Result<SocketAddr, AdminError> {
    let bind = |error| AdminError::Bind { address, error };
    let listener = tokio::net::TcpListener::bind(address).await.map_err(bind)?;
    let bound = listener.local_addr().map_err(bind)?;
    let app = router(metrics, grace);
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = served.await {
            tracing::warn!(error = %e, "the admin port stopped");
        }
    });
    Ok(bound)
}

async fn metrics_text(State(admin): State<Admin>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        admin.metrics.render(),
    )
}

async fn ready(State(admin): State<Admin>) -> (StatusCode, &'static str) {
    let unassigned = Duration::from_secs(admin.metrics.unassigned_seconds.get().max(0) as u64);
    let stalled = Duration::from_secs(admin.metrics.audit_sealer_stalled_seconds.get().max(0) as u64);
    if unassigned > admin.grace {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: no reads partition\n");
    }
    if stalled > SEALER_STALL {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the audit sealer is not sealing\n",
        );
    }
    (StatusCode::OK, "ready\n")
}

/// How long audit events may wait unsealed before the instance is not
/// ready: its accesses would be refused (the API answers 503 when the log
/// does not confirm), so traffic should go elsewhere.
pub const SEALER_STALL: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_text(router: Router, path: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn probes_and_metrics_answer_without_a_login() {
        let metrics = Metrics::new();
        metrics.reads.inc_by(3);
        let router = router(metrics.clone(), Duration::from_secs(60));
        assert_eq!(
            get_text(router.clone(), "/healthz").await,
            (StatusCode::OK, "ok\n".into())
        );
        assert_eq!(
            get_text(router.clone(), "/readyz").await,
            (StatusCode::OK, "ready\n".into())
        );
        let (status, text) = get_text(router.clone(), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("hotlist_reads_total 3"), "{text}");
        metrics.audit_sealer_stalled_seconds.set(31);
        assert_eq!(
            get_text(router.clone(), "/readyz").await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the audit sealer is not sealing\n".into()
            )
        );
        metrics.audit_sealer_stalled_seconds.set(0);
        metrics.unassigned_seconds.set(61);
        assert_eq!(
            get_text(router.clone(), "/readyz").await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: no reads partition\n".into()
            )
        );
        assert_eq!(
            get_text(router, "/api/health").await.0,
            StatusCode::NOT_FOUND,
            "no API here"
        );
    }
}
