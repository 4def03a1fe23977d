//! Every metric the service exports, defined in one place.
//!
//! Ops watch these in Grafana; the pipeline and the demo summary read them
//! too. Labels are a small fixed set of codes: never a plate, user name or
//! token (policy section 5: no ALPR data in metrics). The one label that
//! comes from input, the camera, is bounded: cameras are learned as their
//! reads arrive, up to [`MAX_CAMERAS`] well-formed ids; any camera beyond the
//! cap, or with an id that is not a plain short name, is counted as `other`.
//!
//! The per-read path takes no lock and looks no label up: the pipeline
//! counts into a [`ReadTally`] (plain integers, a local histogram, a
//! per-batch camera map) and the source folds it into the registry once per
//! batch ([`Metrics::flush`]). Names follow Prometheus conventions: the
//! `hotlist_` prefix, snake_case, base units (seconds), `_total` counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::hotlist::{Category, MatchKind};
use crate::read::ReadError;

/// How many distinct cameras get their own label; the rest are `other`.
pub const MAX_CAMERAS: usize = 500;
/// The label of cameras past [`MAX_CAMERAS`] or with an unusable id.
pub const OTHER_CAMERA: &str = "other";
/// The longest camera id used as a label.
const MAX_CAMERA_ID: usize = 64;

/// Every match kind, in label order.
const KINDS: [MatchKind; 5] = [
    MatchKind::Exact,
    MatchKind::OcrEquivalent,
    MatchKind::Fuzzy,
    MatchKind::Wildcard,
    MatchKind::Partial,
];

/// What became of one read, as counted in `reads_by_outcome_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    Hit = 0,
    NoHit = 1,
    Rejected = 2,
}

impl ReadOutcome {
    pub const ALL: [ReadOutcome; 3] = [ReadOutcome::Hit, ReadOutcome::NoHit, ReadOutcome::Rejected];

    pub fn name(self) -> &'static str {
        match self {
            ReadOutcome::Hit => "hit",
            ReadOutcome::NoHit => "no_hit",
            ReadOutcome::Rejected => "rejected",
        }
    }
}

/// Login attempts, as counted in `logins_total`.
pub const LOGIN_OUTCOMES: [&str; 4] = ["success", "failure", "locked_out", "refused"];
/// Results of the topic retention check, as counted in `retention_checks_total`.
pub const RETENTION_RESULTS: [&str; 3] = ["ok", "violation", "error"];

mod tally;
pub use tally::{ReadTally, TIMED_EVERY};

type ScrapeHook = Box<dyn Fn(&Metrics) + Send + Sync>;

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
    /// Audit events not yet sealed into the chain (by any instance).
    pub audit_backlog: IntGauge,
    /// Seconds audit events have waited with no sealing progress, or the
    /// broker has not answered (0 while the sealer keeps up).
    pub audit_sealer_stalled_seconds: IntGauge,
    /// Day keys this instance destroyed or saw destroyed past the retention.
    pub day_keys_destroyed: IntCounter,
    /// Sealed records that could not be opened (a destroyed or unknown day
    /// key, or changed bytes), skipped by the board, searches and webhooks.
    pub unopenable_records: IntCounter,
    /// Reads by outcome (hit, no_hit, rejected), handles resolved once.
    pub read_outcomes: [IntCounter; 3],
    /// Hits (one per alert) by match kind and hotlist category, handles
    /// resolved once: index `kind * Category::ALL.len() + category`.
    pub matches: Arc<Vec<IntCounter>>,
    /// Of those, the possible matches (dispatch verifies before anything),
    /// by category, in [`Category::ALL`] order.
    pub possible_matches: Arc<Vec<IntCounter>>,
    /// Time to parse, normalize and match one read (one in [`TIMED_EVERY`] is timed).
    pub match_seconds: Histogram,
    /// Capture time to alert acknowledged by the alerts topic.
    pub read_to_alert_seconds: Histogram,
    /// Records behind the end of each reads partition this instance holds.
    pub consumer_lag: IntGaugeVec,
    /// Entries per hotlist, kept current at every scrape.
    pub list_entries: IntGaugeVec,
    /// When each hotlist was last refreshed, Unix seconds.
    pub list_refreshed: GaugeVec,
    /// Capture time of the latest read per camera, Unix seconds (never in the future).
    pub camera_last_read: GaugeVec,
    /// Reads per camera.
    pub camera_reads: IntCounterVec,
    /// The cameras with a label of their own, learned up to [`MAX_CAMERAS`].
    cameras: Arc<Mutex<HashMap<String, CameraSeries>>>,
    /// Alerts folded into an open incident within the suppression window
    /// (counted by every instance's board: take the max across instances).
    pub alerts_suppressed: IntCounter,
    /// Dispatch decisions applied, by camera and new state.
    pub alert_state_changes: IntCounterVec,
    /// Login attempts by outcome: success, failure, locked_out, refused.
    pub logins: IntCounterVec,
    /// Topic retention checks by result: ok, violation, error.
    pub retention_checks: IntCounterVec,
    /// When the latest retention check ran, Unix seconds.
    pub retention_checked: Gauge,
    /// Run before every scrape, to set gauges from state owned elsewhere.
    hooks: Arc<Mutex<Vec<ScrapeHook>>>,
    /// Every family registered, without the prefix.
    families: Arc<Vec<String>>,
}

/// The registry while [`Metrics::new`] fills it, remembering each family's
/// name: a labelled family with no series yet is exported all the same.
struct Registering {
    registry: Registry,
    names: Mutex<Vec<String>>,
}

impl Registering {
    fn register(&self, collector: Box<dyn prometheus::core::Collector>) -> prometheus::Result<()> {
        let names = collector.desc().iter().map(|d| d.fq_name.clone()).collect::<Vec<_>>();
        self.registry.register(collector)?;
        self.names.lock().expect("names lock").extend(names);
        Ok(())
    }
}

/// One learned camera's series, resolved once.
#[derive(Clone)]
struct CameraSeries {
    last_read: Gauge,
    reads: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registering {
            registry: Registry::new_custom(Some("hotlist".into()), None).expect("valid prefix"),
            names: Mutex::default(),
        };
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
            "Alerts rejected by dispatch as misreads, by camera, match kind and confusion kind.",
            &["camera", "match_kind", "confusion"],
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
        let audit_backlog = gauge("audit_backlog", "Audit events not yet sealed into the chain.");
        let audit_sealer_stalled_seconds = gauge(
            "audit_sealer_stalled_seconds",
            "Seconds audit events have waited with no sealing progress, or the broker has not answered.",
        );
        let day_keys_destroyed = counter(
            "day_keys_destroyed_total",
            "Day keys destroyed past the retention, as this instance saw it.",
        );
        let unopenable_records = counter(
            "unopenable_records_total",
            "Sealed records that could not be opened: destroyed or unknown day key, or changed bytes.",
        );
        let read_outcomes = vec(
            "reads_by_outcome_total",
            "Reads by outcome: hit, no_hit, rejected (dead-lettered).",
            &["outcome"],
        );
        let read_outcomes = ReadOutcome::ALL.map(|o| read_outcomes.with_label_values(&[o.name()]));
        let matches_vec = vec(
            "matches_total",
            "Hits (one per alert) by match kind and hotlist category.",
            &["match_kind", "category"],
        );
        let matches = KINDS
            .iter()
            .flat_map(|k| {
                Category::ALL
                    .iter()
                    .map(|c| matches_vec.with_label_values(&[k.name(), c.name()]))
                    .collect::<Vec<_>>()
            })
            .collect();
        let possible_vec = vec(
            "possible_matches_total",
            "Of the hits, those that are possible matches (another state, or a probability below matching.hit_probability), by hotlist category.",
            &["category"],
        );
        let possible_matches = Category::ALL
            .iter()
            .map(|c| possible_vec.with_label_values(&[c.name()]))
            .collect();
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("valid metric");
            registry.register(Box::new(h.clone())).expect("registered once");
            h
        };
        let match_seconds = histogram(
            "match_duration_seconds",
            "Time to parse, normalize and match one read (one read in 16 is timed).",
            vec![1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2],
        );
        let read_to_alert_seconds = histogram(
            "read_to_alert_seconds",
            "Capture time to alert acknowledged by the alerts topic.",
            vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0],
        );
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let v = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(v.clone())).expect("registered once");
            v
        };
        let float_vec = |name: &str, help: &str, labels: &[&str]| {
            let v = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(v.clone())).expect("registered once");
            v
        };
        let consumer_lag = gauge_vec(
            "consumer_lag",
            "Records behind the end of each reads partition this instance holds.",
            &["partition"],
        );
        let list_entries = gauge_vec("list_entries", "Entries per hotlist.", &["list"]);
        let list_refreshed = float_vec(
            "list_refreshed_timestamp_seconds",
            "When each hotlist was last refreshed, Unix seconds.",
            &["list"],
        );
        let camera_last_read = float_vec(
            "camera_last_read_timestamp_seconds",
            "Capture time of the latest read per camera, Unix seconds.",
            &["camera"],
        );
        let camera_reads = vec("camera_reads_total", "Reads per camera.", &["camera"]);
        let alerts_suppressed = counter(
            "alerts_suppressed_total",
            "Alerts folded into an open incident within the suppression window.",
        );
        let alert_state_changes = vec(
            "alert_state_changes_total",
            "Dispatch decisions applied, by camera and new state.",
            &["camera", "state"],
        );
        let logins = vec("logins_total", "Login attempts by outcome.", &["outcome"]);
        for outcome in LOGIN_OUTCOMES {
            logins.with_label_values(&[outcome]);
        }
        let retention_checks = vec(
            "retention_checks_total",
            "Topic retention checks by result.",
            &["result"],
        );
        for result in RETENTION_RESULTS {
            retention_checks.with_label_values(&[result]);
        }
        let retention_checked = Gauge::new(
            "retention_checked_timestamp_seconds",
            "When the latest topic retention check ran, Unix seconds.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(retention_checked.clone()))
            .expect("registered once");
        Metrics {
            day_keys,
            audit_backlog,
            audit_sealer_stalled_seconds,
            day_keys_destroyed,
            unopenable_records,
            read_outcomes,
            matches: Arc::new(matches),
            possible_matches: Arc::new(possible_matches),
            match_seconds,
            read_to_alert_seconds,
            consumer_lag,
            list_entries,
            list_refreshed,
            camera_last_read,
            camera_reads,
            cameras: Arc::default(),
            alerts_suppressed,
            alert_state_changes,
            logins,
            retention_checks,
            retention_checked,
            hooks: Arc::default(),
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
            families: Arc::new(registry.names.into_inner().expect("names lock")),
            registry: registry.registry,
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

    /// The name of every metric family this service exports, with the
    /// `hotlist_` prefix, whether or not it has a series yet.
    pub fn families(&self) -> Vec<String> {
        self.families.iter().map(|n| format!("hotlist_{n}")).collect()
    }

    /// Total records sent to the dead-letter topic, all reasons.
    pub fn dlq_total(&self) -> u64 {
        ReadError::CODES
            .iter()
            .map(|code| self.dlq.with_label_values(&[code]).get())
            .sum()
    }

    /// The text exposition format, for a scrape endpoint or a dump; runs
    /// the scrape hooks first.
    pub fn render(&self) -> String {
        for hook in self.hooks.lock().expect("hooks lock").iter() {
            hook(self);
        }
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .expect("text encoding never fails")
    }
}

impl Metrics {
    /// An alert acknowledged by the alerts topic, captured at `captured_ms`.
    pub fn alert_acknowledged(&self, captured_ms: Option<i64>) {
        if let Some(ms) = captured_ms {
            self.read_to_alert_seconds
                .observe((unix_now() - ms as f64 / 1000.0).max(0.0));
        }
    }

    /// One login attempt; `outcome` is one of [`LOGIN_OUTCOMES`].
    pub fn login(&self, outcome: &'static str) {
        self.logins.with_label_values(&[outcome]).inc();
    }

    /// A dispatch decision applied to an alert from `camera`.
    pub fn alert_state_changed(&self, camera: &str, state: &'static str) {
        let camera = self.camera_label(camera);
        self.alert_state_changes.with_label_values(&[&camera, state]).inc();
    }

    /// A topic retention check found `violations` (or failed: `None`).
    pub fn retention_checked(&self, violations: Option<usize>) {
        let result = match violations {
            Some(0) => "ok",
            Some(n) => {
                self.topic_policy_violations.set(n as i64);
                "violation"
            }
            None => "error",
        };
        if violations == Some(0) {
            self.topic_policy_violations.set(0);
        }
        self.retention_checks.with_label_values(&[result]).inc();
        self.retention_checked.set(unix_now());
    }

    /// Consumer lag per partition from librdkafka's statistics of the
    /// reads consumer (which consumes only the reads topic).
    pub fn record_lag(&self, statistics: &rdkafka::Statistics) {
        for (partition, stats) in statistics.topics.values().flat_map(|t| &t.partitions) {
            if *partition < 0 {
                continue;
            }
            let label = partition.to_string();
            if stats.consumer_lag >= 0 {
                self.consumer_lag.with_label_values(&[&label]).set(stats.consumer_lag);
            } else {
                let _ = self.consumer_lag.remove_label_values(&[&label]);
            }
        }
    }

    /// Runs `hook` before every scrape (to set gauges from state owned
    /// elsewhere, such as the hotlists).
    pub fn on_scrape(&self, hook: impl Fn(&Metrics) + Send + Sync + 'static) {
        self.hooks.lock().expect("hooks lock").push(Box::new(hook));
    }

    /// Sets the hotlist gauges: `(list, entries, refreshed at)` per list,
    /// the total entries and the stale count; lists gone lose their series.
    pub fn set_lists<'a>(
        &self,
        total_entries: usize,
        stale: usize,
        lists: impl Iterator<Item = (&'a str, usize, chrono::DateTime<chrono::Utc>)>,
    ) {
        self.hotlist_entries.set(total_entries as i64);
        self.stale_lists.set(stale as i64);
        self.list_entries.reset();
        self.list_refreshed.reset();
        for (list, entries, refreshed) in lists {
            self.list_entries.with_label_values(&[list]).set(entries as i64);
            self.list_refreshed
                .with_label_values(&[list])
                .set(refreshed.timestamp_millis() as f64 / 1000.0);
        }
    }
}

pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests;
