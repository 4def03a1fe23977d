//! The one composition root: everything `serve` runs, built from a validated
//! [`Config`] and stopped by one [`CancellationToken`].
//!
//! In the spirit of tokio-rs/mini-redis's `server::run(listener, shutdown)`:
//! [`run`] loads the hotlists (the configured file, if any, then the compacted topic),
//! builds the matcher and follows the topic, starts the read source, the
//! audit sealer and the HTTPS API, and returns once everything is listening, with the address and
//! handles a caller needs. `main` (`serve`), the demo and the integration
//! tests all start the service through it, so they run the same thing.
//! Nothing here decides anything; it only connects the pieces.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::Config;
use crate::dispatch::board::{self, Board};
use crate::dispatch::webhook::{self, WebhookError};
use crate::hotlist::{load_csv_file, HotlistEntry, HotlistError, LiveMatcher};
use crate::kafka::day_keys::Keyring;
use crate::kafka::hotlist as kafka_hotlist;
use crate::kafka::sealer;
use crate::kafka::source::Source;
use crate::kafka::KafkaError;
use crate::metrics::Metrics;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("loading the hotlist {path}: {error}")]
    Hotlist { path: String, error: HotlistError },
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("the API: {0}")]
    Api(String),
    #[error("a task of the service failed: {0}")]
    Task(String),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
}

/// The service, running.
pub struct Running {
    /// Where the HTTPS API listens.
    pub api_address: SocketAddr,
    /// Where the admin port listens ([`crate::admin`]).
    pub admin_address: SocketAddr,
    /// The PEM certificate when the API made itself a self-signed one.
    pub self_signed_cert: Option<String>,
    pub matcher: Arc<LiveMatcher>,
    pub lists: kafka_hotlist::Lists,
    pub metrics: Metrics,
    /// Incidents and decisions, as the dispatch board shows them.
    pub board: Arc<Board>,
    /// The day keys that seal and open ALPR data at rest.
    pub keyring: Arc<Keyring>,
    task: JoinHandle<Result<(), AppError>>,
}

impl Running {
    /// Waits until the service has stopped (after `shutdown`): the source
    /// has committed its last batch and the API has closed.
    pub async fn wait(self) -> Result<(), AppError> {
        self.task.await.map_err(|e| AppError::Task(e.to_string()))?
    }
}

/// Starts the service; it runs until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<Running, AppError> {
    let file = load_file(&config)?;
    let mut loaded = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || kafka_hotlist::load(&config))
            .await
            .map_err(|e| AppError::Task(e.to_string()))??
    };
    for (list_id, meta) in file_lists(&file, &config.hotlist.file_organisation, chrono::Utc::now()) {
        loaded.lists.entry(list_id).or_insert(meta);
    }
    info!(
        file_entries = file.len(),
        topic_entries = loaded.entries.len(),
        lists = loaded.lists.len(),
        "hotlists loaded"
    );
    let matcher = Arc::new(
        LiveMatcher::new(merge_entries(file, loaded.entries), config.matching.clone())
            .with_fold_fraction(config.hotlist.fold_fraction),
    );
    crate::memory::release_free();
    info!(
        entries = crate::hotlist::Matcher::len(matcher.as_ref()),
        heap_mib = crate::memory::heap_bytes().map(|b| b >> 20),
        resident_mib = crate::memory::resident_bytes().map(|b| b >> 20),
        "matcher built"
    );
    let lists: kafka_hotlist::Lists = Arc::new(std::sync::RwLock::new(loaded.lists));
    let metrics = Metrics::new();
    let keyring = Keyring::start(&config, metrics.clone(), crate::system_clock(), shutdown.clone()).await?;
    let source = Source::new(&config, matcher.clone(), metrics.clone(), Arc::clone(&keyring))?;
    kafka_hotlist::follow(&config, loaded.end, matcher.clone(), lists.clone(), shutdown.clone())?;
    let board = Board::new(config.dispatch.suppression_window, lists.clone(), shutdown.clone());
    board.count_into(metrics.clone());
    metrics.on_scrape(list_gauges(lists.clone(), matcher.clone(), config.hotlist.max_age));
    board::follow(&config, &board, &keyring)?;
    let webhooks = webhook::start(
        &config,
        (Arc::clone(&board), Arc::clone(&keyring)),
        metrics.clone(),
        shutdown.clone(),
    )?;
    sealer::start(&config, metrics.clone(), shutdown.clone())?;
    sealer::watch(&config, metrics.clone(), shutdown.clone())?;
    let admin_address = crate::admin::start(
        config.api.admin_listen,
        metrics.clone(),
        config.kafka.unassigned_grace,
        shutdown.clone(),
    )
    .await?;
    let api = crate::api::server::start(
        &config,
        metrics.clone(),
        crate::system_clock(),
        (lists.clone(), Arc::clone(&board), Arc::clone(&keyring)),
        shutdown.clone(),
    )
    .await
    .map_err(|e| AppError::Api(e.to_string()))?;
    info!(address = %api.address, "API started");
    let api_task = api.task;
    let task = tokio::spawn(async move {
        let source_result = source.run(shutdown).await;
        let api_result = api_task.await.map_err(|e| AppError::Task(e.to_string()))?;
        if let Some(webhooks) = webhooks {
            webhooks.await.map_err(|e| AppError::Task(e.to_string()))??;
        }
        source_result?;
        api_result.map_err(|e| AppError::Api(e.to_string()))
    });
    Ok(Running {
        api_address: api.address,
        admin_address,
        self_signed_cert: api.self_signed_cert,
        matcher,
        lists,
        metrics,
        board,
        keyring,
        task,
    })
}

/// Keeps the hotlist gauges current: set from the lists at every scrape.
fn list_gauges(
    lists: kafka_hotlist::Lists,
    matcher: Arc<LiveMatcher>,
    max_age: std::time::Duration,
) -> impl Fn(&Metrics) + Send + Sync + 'static {
    move |metrics| {
        let lists = lists.read().expect("lists lock");
        let stale = kafka_hotlist::stale(&lists, chrono::Utc::now(), max_age).len();
        let each = lists.values().map(|m| (m.list_id.as_str(), m.entries, m.refreshed_at));
        metrics.set_lists(crate::hotlist::Matcher::len(matcher.as_ref()), stale, each);
    }
}

/// The static hotlist file's entries; none when no file is configured
/// (every list then comes from the topic).
fn load_file(config: &Config) -> Result<Vec<Arc<HotlistEntry>>, AppError> {
    let Some(path) = &config.hotlist.path else {
        info!("no static hotlist file (hotlist.path is empty): lists come from the hotlist topic");
        return Ok(Vec::new());
    };
    load_csv_file(path, config.hotlist.limits).map_err(|error| AppError::Hotlist {
        path: path.display().to_string(),
        error,
    })
}

/// A list record for each list of the static file, owned by
/// `organisation` (`hotlist.file_organisation`), so it is never a list
/// without an owner; a list record on the topic takes precedence.
fn file_lists(
    file: &[Arc<HotlistEntry>],
    organisation: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> std::collections::BTreeMap<String, crate::hotlist::plan::ListMeta> {
    let mut lists = std::collections::BTreeMap::new();
    for entry in file {
        let meta = lists
            .entry(entry.list_id.clone())
            .or_insert_with(|| crate::hotlist::plan::ListMeta {
                list_id: entry.list_id.clone(),
                organisation: organisation.to_owned(),
                refreshed_at: now,
                entries: 0,
                covert: false,
            });
        meta.entries += 1;
    }
    lists
}

/// The file's entries and the topic's, the topic's winning for the same
/// list and entry id (an upload is newer than the deployed file).
fn merge_entries(file: Vec<Arc<HotlistEntry>>, topic: Vec<Arc<HotlistEntry>>) -> Vec<Arc<HotlistEntry>> {
    let mut by_key = std::collections::BTreeMap::new();
    for entry in file.into_iter().chain(topic) {
        by_key.insert((entry.list_id.clone(), entry.entry_id.clone()), entry);
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_files_lists_are_owned_by_the_configured_organisation() {
        let text =
            "entry_id,list_id,plate,category\na,rso-local,ABC123,bolo\nb,rso-local,ABC124,bolo\nc,chp,XYZ9,amber\n";
        let file = crate::hotlist::load_csv(text.as_bytes(), Default::default()).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        let lists = file_lists(&file, "Coachella static file", now);
        let brief: Vec<_> = lists
            .values()
            .map(|m| (m.list_id.as_str(), m.organisation.as_str(), m.entries, m.covert))
            .collect();
        assert_eq!(
            brief,
            [
                ("chp", "Coachella static file", 1, false),
                ("rso-local", "Coachella static file", 2, false)
            ]
        );
    }
}
