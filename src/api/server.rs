//! Serving the API: the router built from the route table, TLS, and
//! start-up.
//!
//! [`router`] mounts every route of [`routes::all`] behind the middleware of
//! [`super::guard`], over any [`Stores`], so unit tests drive it with
//! in-memory stores. [`start`] wires it for service: it loads users and
//! grants and follows their topic, binds and
//! serves until shutdown. TLS is on unless the development flag says
//! otherwise, and that is logged loudly.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::middleware;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::guard::{authorize_request, refuse_declared_oversize, security_headers};
use super::routes;
use super::state::ApiState;
use super::stores::Stores;
use crate::config::{ApiSettings, Config};
use crate::dispatch::board::Board;
use crate::kafka::hotlist::Lists;
use crate::kafka::KafkaError;
use crate::metrics::Metrics;

pub use crate::Clock;

/// Why the API could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    // No `#[from]` here: the messages carry their causes, which as sources
    // too would be printed twice in a chain.
    #[error("cannot read users, grants or the audit chain: {0}")]
    Kafka(KafkaError),
    #[error("cannot serve: {0}")]
    Io(std::io::Error),
    #[error("a start-up task failed: {0}")]
    Task(tokio::task::JoinError),
    #[error("cannot listen on {address}: {error}: check that no other process holds the port, or set api.listen")]
    Bind {
        address: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot read the TLS {what} {path}: {error}: check api.tls_cert_path and api.tls_key_path")]
    Certificate {
        what: &'static str,
        path: String,
        error: std::io::Error,
    },
    #[error(
        "no TLS certificate: set api.tls_cert_path and api.tls_key_path (api.self_signed_for_development makes a throwaway one for a demo or test)"
    )]
    NoCertificate,
}

impl From<KafkaError> for ServerError {
    fn from(error: KafkaError) -> Self {
        ServerError::Kafka(error)
    }
}

impl From<std::io::Error> for ServerError {
    fn from(error: std::io::Error) -> Self {
        ServerError::Io(error)
    }
}

impl From<tokio::task::JoinError> for ServerError {
    fn from(error: tokio::task::JoinError) -> Self {
        ServerError::Task(error)
    }
}

/// The router: every route of [`routes::all`] behind the authorization
/// layer, with security headers on every response (unknown routes too).
pub fn router(state: Arc<ApiState>) -> Router {
    let mut router = Router::new();
    for route in routes::all() {
        router = router.route(route.path, route.handler);
    }
    router
        .layer(middleware::from_fn_with_state(Arc::clone(&state), authorize_request))
        .layer(middleware::from_fn(refuse_declared_oversize))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Serves the router until `shutdown`, over TLS unless the settings say
/// plain HTTP for development.
pub async fn serve(
    settings: &ApiSettings,
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => {
            info!(address = %listener.local_addr()?, "API listening (HTTPS)");
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(service)
                .await?
        }
        None => {
            debug_assert!(settings.plain_http);
            warn!(address = %listener.local_addr()?, "API listening over PLAIN HTTP: development only, never with real data");
            axum_server::from_tcp(listener)?.handle(handle).serve(service).await?
        }
    }
    Ok(())
}

/// The TLS settings: the configured PEM files, or, when the development
/// flag allows it, a fresh self-signed pair (returned too, so a demo or
/// test can trust it); without either, [`ServerError::NoCertificate`].
pub async fn tls_config(
    settings: &ApiSettings,
) -> Result<(axum_server::tls_rustls::RustlsConfig, Option<String>), ServerError> {
    let (cert, key, self_signed) = match &settings.tls {
        Some((cert, key)) => {
            let read = |what, path: &std::path::Path| {
                std::fs::read(path).map_err(|error| ServerError::Certificate {
                    what,
                    path: path.display().to_string(),
                    error,
                })
            };
            (read("certificate", cert)?, read("key", key)?, None)
        }
        None if !settings.self_signed => return Err(ServerError::NoCertificate),
        None => {
            warn!("no TLS certificate configured: using a self-signed one (development only)");
            let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            let pair = rcgen::generate_simple_self_signed(names).map_err(std::io::Error::other)?;
            let cert = pair.cert.pem();
            (
                cert.clone().into_bytes(),
                pair.signing_key.serialize_pem().into_bytes(),
                Some(cert),
            )
        }
    };
    let config = rustls_config(&cert, &key).map_err(std::io::Error::other)?;
    Ok((
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)),
        self_signed,
    ))
}

/// A rustls server config for a PEM chain and key, offering HTTP/1.1 only
/// (the server speaks HTTP/1.1; offering h2 would break h2 clients).
fn rustls_config(cert: &[u8], key: &[u8]) -> Result<rustls::ServerConfig, Box<dyn std::error::Error + Send + Sync>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A started API.
pub struct Running {
    pub address: SocketAddr,
    /// The PEM certificate when a self-signed one was made, for clients to trust.
    pub self_signed_cert: Option<String>,
    pub task: tokio::task::JoinHandle<Result<(), ServerError>>,
    pub state: Arc<ApiState>,
}

/// Loads users and grants, binds and serves until
/// `shutdown`. Returns once it is listening.
pub async fn start(
    config: &Config,
    metrics: Metrics,
    clock: Clock,
    (lists, board, keyring): (Lists, Arc<Board>, Arc<crate::kafka::day_keys::Keyring>),
    shutdown: CancellationToken,
) -> Result<Running, ServerError> {
    let (principals, end) = {
        let config = config.clone();
        let metrics = metrics.clone();
        tokio::task::spawn_blocking(move || crate::kafka::principals::load(&config, &metrics)).await??
    };
    let principals = Arc::new(RwLock::new(principals));
    crate::kafka::principals::follow(
        config,
        end,
        Arc::clone(&principals),
        (metrics.clone(), shutdown.clone()),
    )?;
    let stores = Stores::kafka(
        config,
        crate::kafka::principals::Writer::new(config)?,
        crate::kafka::audit::Events::new(config)?,
        crate::kafka::alert_state::Writer::new(config, Arc::clone(&keyring))?,
        keyring,
    );
    let state = Arc::new(ApiState::new(
        config.clone(),
        principals,
        stores,
        metrics,
        clock,
        (lists, board),
    ));
    let listener = std::net::TcpListener::bind(config.api.listen).map_err(|error| ServerError::Bind {
        address: config.api.listen,
        error,
    })?;
    let address = listener.local_addr()?;
    let (tls, self_signed_cert) = if config.api.plain_http {
        (None, None)
    } else {
        let (tls, cert) = tls_config(&config.api).await?;
        (Some(tls), cert)
    };
    let router = router(Arc::clone(&state));
    let settings = config.api.clone();
    let task = tokio::spawn(async move { serve(&settings, listener, router, tls, shutdown).await });
    Ok(Running {
        address,
        self_signed_cert,
        task,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Penetration test: `serve` fell back to a self-signed certificate
    /// (valid 1975-4096) in production with only a warning.
    #[tokio::test]
    async fn without_a_certificate_the_api_refuses_to_start_unless_told_it_is_development() {
        let mut config = Config::from_toml(&crate::config::development_toml(), std::iter::empty()).unwrap();
        assert!(matches!(tls_config(&config.api).await, Err(ServerError::NoCertificate)));
        config.api.self_signed = true;
        let (_, cert) = tls_config(&config.api).await.unwrap();
        assert!(cert.unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
