//! Webhooks to CAD and other systems: every new alert, sighting and
//! decision, POSTed over HTTPS and signed, losing nothing.
//!
//! The deliverer is a consumer group of its own on the alerts and
//! alert-state topics, so a slow or dead receiver never slows matching. For
//! each record it waits until this instance's [`Board`] has folded it in
//! (to know whether an alert opened an incident or is a sighting, and
//! whether a decision won), builds the event, and delivers it to every
//! endpoint that wants it, retrying with exponential backoff and jitter.
//! A delivery that fails past the last attempt goes to the webhook
//! dead-letter topic. Only then is the record's offset stored: a restart in
//! the middle of retries delivers it again, and a receiver de-duplicates by
//! the event id, which is the same on every attempt and every instance.
//! Hits on covert lists are never sent.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use super::board::{Board, Stream};
use super::signature::{backoff, sign, SIGNATURE_HEADER};
use crate::alert::lifecycle::{Decision, Transition};
use crate::alert::view::IncidentView;
use crate::alert::Alert;
use crate::config::{Config, RetryPolicy, WebhookEndpoint};
use crate::hotlist::Tier;
use crate::kafka::day_keys::{with_sealed_day, Keyring};
use crate::kafka::{client_config, consumer_config, enqueue, KafkaError};
use crate::metrics::Metrics;

/// The newest webhook event schema this build sends.
pub const EVENT_SCHEMA: u32 = 1;
/// Namespace of event ids (UUID version 5 of the record's id and type).
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x3c0e_51a2_77d4_4b8e_a1f0_5e6d_2b9c_8a17);
/// How long to wait for the board to fold in a record before warning.
const BOARD_WAIT: Duration = Duration::from_secs(30);

/// Why the deliverer could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook endpoint {name}: {reason}")]
    Endpoint { name: String, reason: String },
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// One event, as POSTed (JSON).
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub schema: u32,
    /// The same for every attempt and every instance: de-duplicate by it.
    pub event_id: Uuid,
    /// `alert.opened`, `alert.sighting` or `alert.state_changed`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: DateTime<Utc>,
    pub incident_id: Uuid,
    /// The incident as the board shows it now.
    pub incident: &'a IncidentView,
    /// The new alert, for `alert.opened` and `alert.sighting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<&'a Alert>,
    /// The decision, for `alert.state_changed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition: Option<&'a Transition>,
}

/// An event ready to send, with what endpoints filter on.
struct Outgoing {
    event_id: Uuid,
    kind: &'static str,
    body: Vec<u8>,
    list_id: String,
    category: crate::hotlist::Category,
    priority: u8,
    /// The earliest capture the body holds (ms since the epoch): a dead
    /// letter's timestamp, so the broker deletes it 30 days after capture.
    captured_ms: i64,
}

/// An endpoint with its HTTPS client.
struct Target {
    endpoint: WebhookEndpoint,
    client: reqwest::Client,
}

/// Delivers webhooks until shutdown.
pub struct Deliverer {
    consumer: StreamConsumer,
    dead_letters: FutureProducer,
    targets: Vec<Target>,
    board: Arc<Board>,
    retry: RetryPolicy,
    config: Config,
    metrics: Metrics,
    /// Opens alerts and decisions; seals dead letters.
    keyring: Arc<Keyring>,
}

impl Deliverer {
    /// The deliverer, or `None` when no endpoint is configured.
    pub fn new(
        config: &Config,
        (board, keyring): (Arc<Board>, Arc<Keyring>),
        metrics: Metrics,
    ) -> Result<Option<Deliverer>, WebhookError> {
        if config.dispatch.webhooks.is_empty() {
            return Ok(None);
        }
        let retry = config.dispatch.retry;
        let targets = config
            .dispatch
            .webhooks
            .iter()
            .map(|endpoint| target(endpoint, retry.timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let consumer: StreamConsumer = consumer_config(&config.kafka, format!("{}-webhooks", config.kafka.group_id))
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(KafkaError::from)?;
        consumer
            .subscribe(&[&config.topics.alerts, &config.topics.alert_state])
            .map_err(KafkaError::from)?;
        let dead_letters = client_config(&config.kafka)
            .set("acks", "all")
            .create()
            .map_err(KafkaError::from)?;
        Ok(Some(Deliverer {
            consumer,
            dead_letters,
            targets,
            board,
            retry,
            config: config.clone(),
            metrics,
            keyring,
        }))
    }

    /// Delivers every record's events until `shutdown`, then commits the
    /// offsets of the records whose deliveries are done.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), KafkaError> {
        info!(endpoints = self.targets.len(), "webhook deliverer started");
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => break,
                message = self.consumer.recv() => message,
            };
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    warn!(error = %e, "webhook consumer error");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let Some(events) = self.events_of(&message, &shutdown).await else {
                break;
            };
            let deliveries = self.targets.iter().map(|t| self.deliver_all(t, &events, &shutdown));
            if join_all(deliveries).await.iter().any(|done| !done) {
                break; // stopped mid-delivery: the record is delivered again after restart
            }
            if let Err(e) = self.consumer.store_offset_from_message(&message) {
                warn!(error = %e, "cannot store the webhook offset; the record will be delivered again");
            }
        }
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(rdkafka::error::KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => warn!(error = %e, "final webhook commit failed; the last records will be delivered again"),
        }
        Ok(())
    }

    /// The events of one record, once the board has folded it in; `None` on shutdown.
    async fn events_of(&self, message: &BorrowedMessage<'_>, shutdown: &CancellationToken) -> Option<Vec<Outgoing>> {
        let payload = self.keyring.open_message(message).unwrap_or_default();
        let payload = payload.as_ref();
        let stream = if message.topic() == self.config.topics.alerts {
            Stream::Alerts
        } else {
            Stream::States
        };
        while !self
            .board
            .wait_read(stream, message.partition(), message.offset(), BOARD_WAIT)
            .await
        {
            if shutdown.is_cancelled() {
                return None;
            }
            warn!(
                partition = message.partition(),
                offset = message.offset(),
                "waiting for the board to read a record"
            );
        }
        let event = match stream {
            Stream::Alerts => self.alert_event(payload, (message.partition(), message.offset())),
            Stream::States => self.state_event(payload).await,
        };
        Some(event.into_iter().collect())
    }

    fn alert_event(&self, payload: &[u8], (partition, offset): (i32, i64)) -> Option<Outgoing> {
        let alert = Alert::decode(payload).ok()?;
        if !self.board.is_first_copy(&alert.alert_id, partition, offset) {
            return None; // a redelivered read's copy: already sent
        }
        let incident_id = self.board.incident_of(&alert.alert_id)?;
        let view = self.board.view(&incident_id, None)?; // covert: never sent
        let opened = incident_id == alert.alert_id;
        let kind = alert_kind(opened, view.reopened, alert.matched.tier == Tier::PossibleMatch);
        Some(outgoing(kind, alert.alert_id, &view, Some(&alert), None))
    }

    async fn state_event(&self, payload: &[u8]) -> Option<Outgoing> {
        let transition = Transition::decode(payload).ok()?;
        let decided = self.board.decided(&transition.transition_id)?;
        if decided.decision != Decision::Applied {
            return None; // a conflicting decision changed nothing
        }
        // The incident's alert may still be on its way to this instance.
        let deadline = tokio::time::Instant::now() + BOARD_WAIT;
        while self.board.incident_of(&transition.alert_id).is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let view = self.board.view(&transition.alert_id, None)?;
        Some(outgoing(
            "alert.state_changed",
            transition.transition_id,
            &view,
            None,
            Some(&transition),
        ))
    }

    /// Delivers `events` to `target` in order; false when stopped midway.
    async fn deliver_all(&self, target: &Target, events: &[Outgoing], shutdown: &CancellationToken) -> bool {
        for event in events {
            if !target.endpoint.wants(&event.list_id, event.category, event.priority) {
                continue;
            }
            if !self.deliver(target, event, shutdown).await {
                return false;
            }
        }
        true
    }

    /// One event to one endpoint: retried, then dead-lettered. False when stopped.
    async fn deliver(&self, target: &Target, event: &Outgoing, shutdown: &CancellationToken) -> bool {
        let name = target.endpoint.name.as_str();
        let mut last_error = String::new();
        for attempt in 1..=self.retry.max_attempts {
            match post(target, event).await {
                Ok(()) => {
                    self.metrics.webhook_delivered.with_label_values(&[name]).inc();
                    return true;
                }
                Err(e) => last_error = e,
            }
            if attempt == self.retry.max_attempts {
                break;
            }
            self.metrics.webhook_retries.with_label_values(&[name]).inc();
            let wait = backoff(attempt, self.retry.first_backoff, self.retry.max_backoff, jitter());
            warn!(endpoint = name, attempt, error = %last_error, wait_ms = wait.as_millis() as u64, "webhook failed; retrying");
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.dead_letter(name, event, &last_error, shutdown).await
    }

    /// Puts a delivery that failed past its last attempt on the dead-letter
    /// topic, waiting for the ack. False when stopped first.
    async fn dead_letter(&self, name: &str, event: &Outgoing, error: &str, shutdown: &CancellationToken) -> bool {
        let attempts = self.retry.max_attempts.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "hm.endpoint",
                value: Some(name),
            })
            .insert(Header {
                key: "hm.event_type",
                value: Some(event.kind),
            })
            .insert(Header {
                key: "hm.error",
                value: Some(error),
            })
            .insert(Header {
                key: "hm.attempts",
                value: Some(attempts.as_str()),
            });
        let key = event.event_id.hyphenated().to_string();
        let (headers, body) = loop {
            match self.keyring.seal(event.captured_ms, &event.body).await {
                Ok(Some((day, sealed))) => break (with_sealed_day(headers, &day), sealed),
                Ok(None) => break (headers, Vec::new()), // past the retention: not kept
                Err(e) if !shutdown.is_cancelled() => {
                    warn!(error = %e, "cannot seal a webhook dead letter; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(_) => return false,
            }
        };
        loop {
            let record = FutureRecord::<str, [u8]>::to(&self.config.topics.webhook_dlq)
                .key(&key)
                .timestamp(event.captured_ms)
                .payload(&body)
                .headers(headers.clone());
            let Ok(delivery) = enqueue(&self.dead_letters, record, shutdown).await else {
                return false;
            };
            match crate::kafka::acked(delivery).await {
                Ok(()) => {
                    warn!(
                        endpoint = name,
                        error, "webhook delivery failed past its last attempt: dead-lettered"
                    );
                    self.metrics.webhook_dead_letters.with_label_values(&[name]).inc();
                    return true;
                }
                Err(e) if !shutdown.is_cancelled() => {
                    warn!(error = %e, "cannot dead-letter a webhook delivery; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(_) => return false,
            }
        }
    }
}

/// The event type of an alert: a new incident, a sighting, a closed
/// incident's vehicle seen again, or a possible match (an incident opened by
/// a read whose state differs from the entry's): CAD must not treat that as
/// a hit, and dispatch verifies the image and the plate first.
fn alert_kind(opened: bool, reopened: bool, possible: bool) -> &'static str {
    match (opened || reopened, possible, reopened) {
        (true, true, _) => "alert.possible_match",
        (true, false, false) => "alert.opened",
        (true, false, true) => "alert.reopened",
        (false, _, _) => "alert.sighting",
    }
}

fn outgoing(
    kind: &'static str,
    record_id: Uuid,
    view: &IncidentView,
    alert: Option<&Alert>,
    transition: Option<&Transition>,
) -> Outgoing {
    let mut name = kind.as_bytes().to_vec();
    name.extend_from_slice(record_id.as_bytes());
    let event = Event {
        schema: EVENT_SCHEMA,
        event_id: Uuid::new_v5(&EVENT_NAMESPACE, &name),
        kind,
        created_at: Utc::now(),
        incident_id: view.id,
        incident: view,
        alert,
        transition,
    };
    Outgoing {
        event_id: event.event_id,
        kind,
        body: serde_json::to_vec(&event).expect("events serialize"),
        list_id: view.list_id.clone(),
        category: view.category,
        priority: view.priority,
        captured_ms: view.captured_at.timestamp_millis(),
    }
}

/// One signed POST; `Err` says why it failed (no secret, no body).
async fn post(target: &Target, event: &Outgoing) -> Result<(), String> {
    let signature = sign(&target.endpoint.secret.0, Utc::now().timestamp(), &event.body);
    let response = target
        .client
        .post(&target.endpoint.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header("hotlist-event-id", event.event_id.hyphenated().to_string())
        .header("hotlist-event-type", event.kind)
        .body(event.body.clone())
        .send()
        .await
        .map_err(|e| format!("request failed: {}", e.without_url()))?;
    match response.status() {
        status if status.is_success() => Ok(()),
        status => Err(format!("answered {status}")),
    }
}

fn target(endpoint: &WebhookEndpoint, timeout: Duration) -> Result<Target, WebhookError> {
    let failed = |reason: String| WebhookError::Endpoint {
        name: endpoint.name.clone(),
        reason,
    };
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .https_only(true)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &endpoint.ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| failed(format!("ca_file: {e}")))? {
            builder = builder.add_root_certificate(cert);
        }
    }
    let client = builder.build().map_err(|e| failed(e.to_string()))?;
    Ok(Target {
        endpoint: endpoint.clone(),
        client,
    })
}

/// A number in [0, 1) for backoff jitter.
fn jitter() -> f64 {
    (Uuid::new_v4().as_u128() as u64 >> 11) as f64 / (1u64 << 53) as f64
}

/// Starts the deliverer when endpoints are configured.
pub fn start(
    config: &Config,
    (board, keyring): (Arc<Board>, Arc<Keyring>),
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<Result<(), KafkaError>>>, WebhookError> {
    Ok(Deliverer::new(config, (board, keyring), metrics)?.map(|d| tokio::spawn(d.run(shutdown))))
}

#[cfg(test)]
mod tests {
    use super::alert_kind;

    #[test]
    fn an_incident_opened_from_another_state_is_a_possible_match_not_a_hit() {
        assert_eq!(alert_kind(true, false, false), "alert.opened");
        assert_eq!(alert_kind(false, true, false), "alert.reopened");
        assert_eq!(alert_kind(false, false, false), "alert.sighting");
        assert_eq!(alert_kind(true, false, true), "alert.possible_match");
        assert_eq!(alert_kind(false, true, true), "alert.possible_match");
        assert_eq!(alert_kind(false, false, true), "alert.sighting");
    }
}
