//! Dispatch measurements against a real broker: how long a read takes to
//! reach a dispatcher's board (`board-latency`), and how fast webhooks are
//! delivered to a local receiver (`webhook-throughput`).
//!
//! Each quotes a baseline measured in the same run on the same machine: a
//! bare rdkafka consumer's latency for the same reads, and direct signed
//! POSTs to the same receiver. Nothing here asserts on time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{ensure_topics, BenchError};
use crate::access::auth::{hash_password, Role};
use crate::access::principals::User;
use crate::alert::alert_id;
use crate::config::{Config, Secret, WebhookEndpoint};
use crate::kafka::{client_config, hotlist as kafka_hotlist, KafkaError};
use crate::sample::{self, Rng};

const PASSWORD: &str = "bench-dispatcher-password";

/// The config on fresh topics `bench-<pid>-<what>.*`, its own group, an
/// ephemeral API port and an empty hotlist file.
pub(super) fn fresh(config: &Config, what: &str) -> Result<Config, BenchError> {
    let mut config = config.clone();
    let run = format!("bench-{}-{what}", std::process::id());
    let t = &mut config.topics;
    for (topic, name) in [
        (&mut t.reads, "reads"),
        (&mut t.alerts, "alerts"),
        (&mut t.dlq, "dlq"),
        (&mut t.hotlist, "hotlist"),
        (&mut t.principals, "principals"),
        (&mut t.audit, "audit"),
        (&mut t.alert_state, "alert-state"),
        (&mut t.webhook_dlq, "webhooks.dlq"),
    ] {
        *topic = format!("{run}.{name}");
    }
    config.kafka.group_id = format!("{run}-group");
    config.api.listen = "127.0.0.1:0".parse().expect("an address");
    config.api.self_signed = true;
    // Every list comes from the topic: no static file.
    config.hotlist.path = None;
    Ok(config)
}

pub(super) fn error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Upload(e.to_string())
}

/// Percentile `p` (0 to 100) of sorted `values`.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn seed_dispatcher(config: &Config) -> Result<(), BenchError> {
    let hash = hash_password(PASSWORD).map_err(error)?;
    let (key, value) = User::new("bench.dispatcher", "Bench", Role::Dispatcher, hash)
        .map_err(error)?
        .record();
    crate::kafka::principals::Writer::new(config)?
        .write(&key, Some(&value))
        .await?;
    Ok(())
}

/// An HTTPS client that trusts the PEM certificate `pem` (self-signed).
pub(super) fn client_for(pem: &str) -> Result<reqwest::Client, BenchError> {
    let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(error)?;
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(cert)
        .build()
        .map_err(error)
}

/// Read produced → `incident` event received by a board's SSE client, at
/// `rate` reads per second for `seconds`, one read in 100 a hit.
pub async fn board_latency(config: &Config, seconds: u64, rate: u64) -> Result<String, BenchError> {
    let config = fresh(config, "board")?;
    ensure_topics(&config).await?;
    let total = (seconds * rate) as usize;
    let hits = total / 100;
    let entries = sample::hotlist(&mut Rng::new(31), hits.max(1) * 10, "bench-board");
    kafka_hotlist::upload(&config, "bench-board", &entries, "bench", false).await?;
    let entries = plain_plates(entries);
    seed_dispatcher(&config).await?;
    let shutdown = CancellationToken::new();
    let running = crate::app::run(config.clone(), shutdown.clone()).await.map_err(error)?;
    let base = format!("https://127.0.0.1:{}", running.api_address.port());
    let client = client_for(running.self_signed_cert.as_deref().unwrap_or_default())?;
    let login = serde_json::json!({"username": "bench.dispatcher", "password": PASSWORD}).to_string();
    let session: serde_json::Value = client
        .post(format!("{base}/api/login"))
        .header("content-type", "application/json")
        .body(login)
        .send()
        .await
        .map_err(error)?
        .bytes()
        .await
        .map_err(error)
        .and_then(|b| serde_json::from_slice(&b).map_err(error))?;
    let token = session["token"].as_str().unwrap_or_default().to_owned();
    let events = client
        .get(format!("{base}/api/alerts/events"))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(error)?;
    // Board events and, as the baseline, a bare consumer's arrivals, by alert id.
    let seen: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let raw: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    tokio::spawn(read_events(events, Arc::clone(&seen)));
    let baseline = raw_arrivals(&config, Arc::clone(&raw), shutdown.clone())?;
    let mut rng = Rng::new(32);
    // Hit reads: read id -> (alert id, when sent).
    let mut sent: HashMap<Uuid, (Uuid, Instant)> = HashMap::with_capacity(hits);
    let producer: FutureProducer = client_config(&config.kafka)
        .set("linger.ms", "0")
        .create()
        .map_err(KafkaError::from)?;
    let started = Instant::now();
    let mut pending = Vec::with_capacity(total);
    for i in 0..total {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let id = rng.uuid();
        let (plate, region) = if i % 100 == 0 {
            let entry = &entries[i / 100];
            sent.insert(id, (alert_id(&id, &entry.list_id, &entry.entry_id), Instant::now()));
            (entry.plate.to_string(), entry.region.map(|r| r.to_string()))
        } else {
            (sample::random_plate(&mut rng).to_string(), Some("CA".to_owned()))
        };
        let read = sample::read_json(
            id,
            "cam-bench",
            &sample::yesterday_at("03:00:00"),
            &plate,
            region.as_deref(),
        );
        let key = id.to_string();
        let record = FutureRecord::to(&config.topics.reads).key(&key).payload(&read);
        pending.push(producer.send_result(record).map_err(|(e, _)| KafkaError::from(e))?);
    }
    let produce_secs = started.elapsed().as_secs_f64();
    for delivery in pending {
        let _ = delivery.await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().expect("lock").len() < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    running.wait().await.map_err(error)?;
    baseline.join().map_err(|_| error("the baseline consumer panicked"))?;
    let (board, missed) = latencies(&sent, |_, alert| seen.lock().expect("lock").get(&alert).copied());
    let (bare, _) = latencies(&sent, |read, _| raw.lock().expect("lock").get(&read).copied());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{total} reads at {rate}/s ({:.0}/s achieved), {} hits, {} partitions",
        total as f64 / produce_secs,
        sent.len(),
        config.topics.partitions
    );
    for (name, values) in [
        ("read produced -> board SSE event", &board),
        ("baseline: bare rdkafka consumer of the reads", &bare),
    ] {
        if values.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
            millis(percentile(values, 50)),
            millis(percentile(values, 99)),
            millis(*values.last().expect("not empty")),
            values.len()
        );
    }
    if !board.is_empty() && !bare.is_empty() {
        let _ = writeln!(
            out,
            "board p50 / bare p50: {:.1}x",
            percentile(&board, 50).as_secs_f64() / percentile(&bare, 50).as_secs_f64().max(1e-9)
        );
    }
    let _ = writeln!(out, "hits never seen on the board: {missed}");
    Ok(out)
}

/// The entries with a whole plate (a read of a pattern is no plate).
fn plain_plates(entries: Vec<Arc<crate::hotlist::HotlistEntry>>) -> Vec<Arc<crate::hotlist::HotlistEntry>> {
    entries
        .into_iter()
        .filter(|e| matches!(e.plate, crate::hotlist::EntryPlate::Plate(_)))
        .collect()
}

/// Sorted latencies of the hit reads in `sent` that `arrived` (by read id
/// and alert id) saw, and how many it did not.
pub(super) fn latencies(
    sent: &HashMap<Uuid, (Uuid, Instant)>,
    arrived: impl Fn(Uuid, Uuid) -> Option<Instant>,
) -> (Vec<Duration>, usize) {
    let mut values: Vec<Duration> = sent
        .iter()
        .filter_map(|(read, (alert, at))| arrived(*read, *alert).map(|seen| seen.saturating_duration_since(*at)))
        .collect();
    values.sort();
    let missed = sent.len() - values.len();
    (values, missed)
}

/// Records when each `incident` event of the stream arrives, by incident id.
async fn read_events(mut response: reqwest::Response, seen: Arc<Mutex<HashMap<Uuid, Instant>>>) {
    let mut buffer = String::new();
    let mut event = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let now = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if event == "incident" {
                    let id = serde_json::from_str::<serde_json::Value>(data)
                        .ok()
                        .and_then(|v| v["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()));
                    if let Some(id) = id {
                        seen.lock().expect("lock").entry(id).or_insert(now);
                    }
                }
            }
        }
    }
}

/// A bare consumer of the reads topic: when each read arrives, by read id
/// (the baseline of the same run).
fn raw_arrivals(
    config: &Config,
    arrivals: Arc<Mutex<HashMap<Uuid, Instant>>>,
    shutdown: CancellationToken,
) -> Result<std::thread::JoinHandle<()>, BenchError> {
    let consumer: BaseConsumer = client_config(&config.kafka)
        .set("group.id", format!("{}-baseline", config.kafka.group_id))
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "5")
        .create()
        .map_err(KafkaError::from)?;
    consumer.subscribe(&[&config.topics.reads]).map_err(KafkaError::from)?;
    Ok(std::thread::spawn(move || {
        while !shutdown.is_cancelled() {
            let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let now = Instant::now();
            if let Some(read) = message.payload().and_then(|p| crate::read::parse(p, 1 << 16).ok()) {
                arrivals.lock().expect("lock").insert(read.read_id, now);
            }
        }
    }))
}

/// Counts deliveries, with when the first and last arrived.
#[derive(Default)]
struct Count {
    delivered: AtomicUsize,
    first_last: Mutex<Option<(Instant, Instant)>>,
}

impl Count {
    /// From the first delivery to the last.
    fn span(&self) -> Duration {
        self.first_last
            .lock()
            .expect("lock")
            .map(|(a, b)| b - a)
            .unwrap_or_default()
    }
}

async fn count(axum::extract::State(count): axum::extract::State<Arc<Count>>) -> axum::http::StatusCode {
    count.delivered.fetch_add(1, Ordering::Relaxed);
    let now = Instant::now();
    let mut span = count.first_last.lock().expect("lock");
    *span = Some(span.map_or((now, now), |(first, _)| (first, now)));
    axum::http::StatusCode::OK
}

/// A local HTTPS receiver that answers 200; its URL, CA and count.
async fn receiver(shutdown: CancellationToken) -> Result<(String, String, Arc<Count>), BenchError> {
    let defaults = Config::from_toml(&crate::config::development_toml(), [])
        .map_err(error)?
        .api;
    let settings = crate::config::ApiSettings {
        tls: None,
        self_signed: true,
        ..defaults
    };
    let (tls, cert) = crate::api::server::tls_config(&settings).await.map_err(error)?;
    let counted = Arc::new(Count::default());
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(count))
        .with_state(Arc::clone(&counted));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address: SocketAddr = listener.local_addr()?;
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopper.shutdown();
    });
    let server = axum_server::from_tcp_rustls(listener, tls)?.handle(handle);
    tokio::spawn(server.serve(router.into_make_service()));
    Ok((
        format!("https://127.0.0.1:{}/hook", address.port()),
        cert.unwrap_or_default(),
        counted,
    ))
}

/// `n` signed POSTs of a 2 kB body, one after another.
async fn direct_posts(client: reqwest::Client, url: String, n: usize) -> Result<(), BenchError> {
    let body = vec![b' '; 2_000];
    for _ in 0..n {
        let signature = crate::dispatch::signature::sign(b"bench", chrono::Utc::now().timestamp(), &body);
        client
            .post(&url)
            .header("hotlist-signature", signature)
            .body(body.clone())
            .send()
            .await
            .map_err(error)?;
    }
    Ok(())
}

/// Webhook deliveries per second to a local HTTPS receiver, `n` alerts,
/// against direct signed POSTs of the same bodies' size in the same run.
pub async fn webhook_throughput(config: &Config, n: usize) -> Result<String, BenchError> {
    let mut config = fresh(config, "webhooks")?;
    let stop = CancellationToken::new();
    let (url, ca, counted) = receiver(stop.clone()).await?;
    config.dispatch.webhooks = vec![WebhookEndpoint {
        name: "bench".into(),
        url: url.clone(),
        secret: Secret(b"bench-webhook-secret-0123456789".to_vec()),
        ca_pem: Some(ca.clone().into_bytes()),
        lists: Vec::new(),
        categories: Vec::new(),
        max_priority: u8::MAX,
    }];
    ensure_topics(&config).await?;
    let mut rng = Rng::new(33);
    let entries = sample::hotlist(&mut rng, n, "bench-webhooks");
    let entries = plain_plates(entries);
    kafka_hotlist::upload(&config, "bench-webhooks", &entries, "bench", false).await?;
    let n = entries.len();
    let reads: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| {
            let region = e.region.map(|r| r.to_string());
            sample::read_json(
                rng.uuid(),
                "cam-bench",
                &sample::yesterday_at("03:00:00"),
                &e.plate.to_string(),
                region.as_deref(),
            )
        })
        .collect();
    super::produce_all(&config, &reads).await?;
    let shutdown = CancellationToken::new();
    let running = crate::app::run(config.clone(), shutdown.clone()).await.map_err(error)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while counted.delivered.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    running.wait().await.map_err(error)?;
    let delivered = counted.delivered.load(Ordering::Relaxed);
    let span = counted.span();
    let service = (delivered.saturating_sub(1)) as f64 / span.as_secs_f64().max(1e-9);
    // Baseline: the same number of signed POSTs of a typical body, one after another.
    let client = client_for(&ca)?;
    *counted.first_last.lock().expect("lock") = None;
    // On a worker thread, as the service's deliverer runs.
    let post = tokio::spawn(direct_posts(client, url.clone(), n));
    post.await.map_err(error)??;
    let span = counted.span();
    let direct = n.saturating_sub(1) as f64 / span.as_secs_f64().max(1e-9);
    stop.cancel();
    let mut out = String::new();
    let _ = writeln!(out, "{n} alerts, {delivered} delivered to a local HTTPS receiver");
    let _ = writeln!(
        out,
        "through the service (consumer group, board, sign, POST, offsets): {service:.0} deliveries/s"
    );
    let _ = writeln!(
        out,
        "baseline: direct signed POSTs of 2 kB one after another, one client: {direct:.0}/s (both timed first to last arrival at the receiver)"
    );
    let _ = writeln!(out, "service / direct: {:.2}x", service / direct);
    Ok(out)
}
