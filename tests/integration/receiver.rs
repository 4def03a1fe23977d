//! A webhook receiver over HTTPS on 127.0.0.1, for the webhook tests: it
//! records every request and answers as the test tells it (fail the first
//! few, or be down), with its own self-signed certificate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio_util::sync::CancellationToken;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub event_type: String,
    pub signature: String,
    pub body: Vec<u8>,
    pub answered: u16,
}

/// How the receiver answers, and what it got.
#[derive(Debug, Default)]
pub struct Log {
    /// Requests still to fail with 500 before it answers 200.
    pub fail_next: usize,
    /// Answer 503 to everything.
    pub down: bool,
    pub requests: Vec<Received>,
}

impl Log {
    /// Event ids answered 2xx, with how many times each was.
    pub fn delivered(&self) -> std::collections::HashMap<String, usize> {
        let mut counts = std::collections::HashMap::new();
        for r in self.requests.iter().filter(|r| r.answered == 200) {
            *counts.entry(r.event_id.clone()).or_insert(0) += 1;
        }
        counts
    }

    pub fn failed(&self) -> usize {
        self.requests.iter().filter(|r| r.answered != 200).count()
    }
}

pub struct Receiver {
    pub url: String,
    pub ca_file: PathBuf,
    pub log: Arc<Mutex<Log>>,
    pub shutdown: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn hook(State(log): State<Arc<Mutex<Log>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut log = log.lock().unwrap();
    let answered = if log.down {
        StatusCode::SERVICE_UNAVAILABLE
    } else if log.fail_next > 0 {
        log.fail_next -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    log.requests.push(Received {
        event_id: header("hotlist-event-id"),
        event_type: header("hotlist-event-type"),
        signature: header("hotlist-signature"),
        body: body.to_vec(),
        answered: answered.as_u16(),
    });
    answered
}

/// Starts a receiver whose certificate is written to `dir/receiver-ca.pem`.
pub async fn start(dir: &Path) -> Receiver {
    let settings = hotlist_matcher::config::Config::from_toml(&hotlist_matcher::config::development_toml(), [])
        .unwrap()
        .api;
    let settings = hotlist_matcher::config::ApiSettings {
        tls: None,
        self_signed: true,
        ..settings
    };
    let (tls, cert) = hotlist_matcher::api::server::tls_config(&settings).await.unwrap();
    let ca_file = dir.join("receiver-ca.pem");
    std::fs::write(&ca_file, cert.expect("self-signed")).unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let router = Router::new().route("/hook", post(hook)).with_state(Arc::clone(&log));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopper = handle.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        stopper.shutdown();
    });
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .unwrap()
            .handle(handle)
            .serve(router.into_make_service())
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    Receiver {
        url: format!("https://127.0.0.1:{}/hook", address.port()),
        ca_file,
        log,
        shutdown,
    }
}
