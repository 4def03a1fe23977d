//! Every metric the service exports, defined in one place.
//!
//! Ops watch these in Grafana; the pipeline and the demo summary read them
//! too. Labels are a small fixed set of codes: never a plate, camera-supplied
//! text, user name or token (policy section 5: no ALPR data in metrics).

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::read::ReadError;

/// The pipeline's counters, registered in one [`Registry`].
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Records taken from the reads topic, valid or not.
    pub reads: IntCounter,
    /// Valid reads that hit at least one hotlist entry.
    pub hits: IntCounter,
    /// Alerts acknowledged by the alerts topic.
    pub alerts: IntCounter,
    /// Alerts raised from retained reads by entries new to a list (uploads through this instance).
    pub historical_alerts: IntCounter,
    /// Records sent to the dead-letter topic, by reason code.
    pub dlq: IntCounterVec,
    /// Deliveries that failed and were retried.
    pub delivery_retries: IntCounter,
    /// Batches whose offsets were stored.
    pub batches: IntCounter,
    /// Entries in the loaded hotlist.
    pub hotlist_entries: IntGauge,
    /// Hotlists not refreshed within their maximum age.
    pub stale_lists: IntGauge,
    /// Partitions of the reads topic this instance holds now.
    pub assigned_partitions: IntGauge,
    /// Seconds this instance has held no partition of the reads topic (0 while it holds some).
    pub unassigned_seconds: IntGauge,
    /// Alerts rejected by dispatch as misreads, by camera and match kind
    /// (the field measure of accuracy; counted by the instance that decided).
    pub misread_rejections: IntCounterVec,
    /// Dispatch decisions written here, by action and outcome (applied or conflict).
    pub decisions: IntCounterVec,
    /// Webhook requests answered 2xx, by endpoint name.
    pub webhook_delivered: IntCounterVec,
    /// Webhook attempts that failed and will be retried, by endpoint name.
    pub webhook_retries: IntCounterVec,
    /// Webhook deliveries put on the dead-letter topic after the last retry, by endpoint name.
    pub webhook_dead_letters: IntCounterVec,
    /// Live board connections.
    pub board_streams: IntGauge,
    /// Audit events this instance's sealer chained into the audit log.
    pub audit_sealed: IntCounter,
    /// Audit events refused by the sealer: not signed with the service key.
    pub audit_events_refused: IntCounter,
    /// Times this instance's sealer took the audit chain over.
    pub audit_sealer_takeovers: IntCounter,
    /// Principal records refused: not signed with the service key.
    pub principal_records_refused: IntCounter,
    /// Topic settings that break the 30-day policy (or keep the audit log
    /// too short), as of the last hourly check; above 0 is critical.
    pub topic_policy_violations: IntGauge,
    /// Day keys this instance holds (one per UTC day of the retention).
    pub day_keys: IntGauge,
    /// Day keys this instance destroyed or saw destroyed past the retention.
    pub day_keys_destroyed: IntCounter,
    /// Sealed records that could not be opened (a destroyed or unknown day
    /// key, or changed bytes), skipped by the board, searches and webhooks.
    pub unopenable_records: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("hotlist".into()), None).expect("valid prefix");
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("registered once");
            c
        };
        let reads = counter("reads_total", "Records taken from the reads topic, valid or not.");
        let hits = counter("hits_total", "Valid reads that hit at least one hotlist entry.");
        let alerts = counter("alerts_total", "Alerts acknowledged by the alerts topic.");
        let historical_alerts = counter(
            "historical_alerts_total",
            "Alerts raised from retained reads by entries new to a list, for uploads through this instance.",
        );
        let delivery_retries = counter(
            "delivery_retries_total",
            "Alert or DLQ deliveries that failed and were retried.",
        );
        let batches = counter("batches_total", "Batches whose offsets were stored.");
        let dlq = IntCounterVec::new(
            Opts::new("dlq_total", "Records sent to the dead-letter topic, by reason."),
            &["reason"],
        )
        .expect("valid metric");
        registry.register(Box::new(dlq.clone())).expect("registered once");
        for code in ReadError::CODES {
            dlq.with_label_values(&[code]);
        }
        let hotlist_entries = IntGauge::new("hotlist_entries", "Entries in the loaded hotlist.").expect("valid metric");
        registry
            .register(Box::new(hotlist_entries.clone()))
            .expect("registered once");
        let stale_lists =
            IntGauge::new("stale_lists", "Hotlists not refreshed within their maximum age.").expect("valid metric");
        registry
            .register(Box::new(stale_lists.clone()))
            .expect("registered once");
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("registered once");
            g
        };
        let assigned_partitions = gauge(
            "source_assigned_partitions",
            "Partitions of the reads topic this instance holds.",
        );
        let unassigned_seconds = gauge(
            "source_unassigned_seconds",
            "Seconds this instance has held no partition of the reads topic.",
        );
        let vec = |name: &str, help: &str, labels: &[&str]| {
            let v = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(v.clone())).expect("registered once");
            v
        };
        let misread_rejections = vec(
            "misread_rejections_total",
            "Alerts rejected by dispatch as misreads, by camera and match kind.",
            &["camera", "match_kind"],
        );
        let decisions = vec(
            "dispatch_decisions_total",
            "Dispatch decisions written through this instance, by action and outcome.",
            &["action", "outcome"],
        );
        let endpoint = ["endpoint"];
        let webhook_delivered = vec("webhook_delivered_total", "Webhook requests answered 2xx.", &endpoint);
        let webhook_retries = vec(
            "webhook_retries_total",
            "Webhook attempts that failed and will be retried.",
            &endpoint,
        );
        let webhook_dead_letters = vec(
            "webhook_dead_letters_total",
            "Webhook deliveries put on the dead-letter topic after the last retry.",
            &endpoint,
        );
        let board_streams = gauge("board_streams", "Live dispatch board connections.");
        let audit_sealed = counter(
            "audit_sealed_total",
            "Audit events this instance's sealer chained into the audit log.",
        );
        let audit_events_refused = counter(
            "audit_events_refused_total",
            "Audit events refused by the sealer: not signed with the service key.",
        );
        let audit_sealer_takeovers = counter(
            "audit_sealer_takeovers_total",
            "Times this instance's sealer took the audit chain over.",
        );
        let topic_policy_violations = gauge(
            "topic_policy_violations",
            "Topic settings that break the retention policy, as of the last hourly check.",
        );
        let principal_records_refused = counter(
            "principal_records_refused_total",
            "Principal records refused: not signed with the service key.",
        );
        let day_keys = gauge("day_keys", "Day keys this instance holds.");
        let day_keys_destroyed = counter(
            "day_keys_destroyed_total",
            "Day keys destroyed past the retention, as this instance saw it.",
        );
        let unopenable_records = counter(
            "unopenable_records_total",
            "Sealed records that could not be opened: destroyed or unknown day key, or changed bytes.",
        );
        Metrics {
            day_keys,
            day_keys_destroyed,
            unopenable_records,
            principal_records_refused,
            topic_policy_violations,
            audit_sealed,
            audit_events_refused,
            audit_sealer_takeovers,
            misread_rejections,
            decisions,
            webhook_delivered,
            webhook_retries,
            webhook_dead_letters,
            board_streams,
            stale_lists,
            assigned_partitions,
            unassigned_seconds,
            registry,
            reads,
            hits,
            alerts,
            historical_alerts,
            dlq,
            delivery_retries,
            batches,
            hotlist_entries,
        }
    }

    /// Total records sent to the dead-letter topic, all reasons.
    pub fn dlq_total(&self) -> u64 {
        ReadError::CODES
            .iter()
            .map(|code| self.dlq.with_label_values(&[code]).get())
            .sum()
    }

    /// The text exposition format, for a scrape endpoint or a dump.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .expect("text encoding never fails")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlq_reasons_are_labelled_by_code_only() {
        let m = Metrics::new();
        m.dlq.with_label_values(&["malformed_json"]).inc();
        m.dlq.with_label_values(&["invalid_plate"]).inc_by(2);
        assert_eq!(m.dlq_total(), 3);
        let text = m.render();
        assert!(text.contains("hotlist_dlq_total{reason=\"invalid_plate\"} 2"), "{text}");
        assert!(text.contains("hotlist_dlq_total{reason=\"too_large\"} 0"), "{text}");
    }
}
