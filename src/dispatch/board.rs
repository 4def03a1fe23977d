//! The board's state on this instance: every incident and decision, folded
//! from the alerts and alert-state topics, and the news of each change.
//!
//! Each instance folds both topics whole and in their order, so every
//! instance, and every browser connected to any of them, shows the same
//! incidents in the same states; a reload or a restart reads them again.
//! [`Board`] never writes: a decision is written to the alert-state topic
//! and takes effect here when it is read back, which is how a dispatcher
//! learns whether their decision won ([`Board::wait_decision`]). It also
//! records how far it has read each partition, so the webhook deliverer can
//! wait until an alert it is about to send has been folded in.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;
use tracing::warn;
use uuid::Uuid;

use crate::access::auth::may_see_list;
use crate::alert::incident::{Added, Incidents};
use crate::alert::lifecycle::{Decision, Transition};
use crate::alert::view::IncidentView;
use crate::alert::Alert;
use crate::config::Config;
use crate::kafka::alert_state::{follow_from_beginning, Record};
use crate::kafka::day_keys::Keyring;
use crate::kafka::hotlist::Lists;
use crate::kafka::KafkaError;

/// Which topic a position is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Alerts,
    States,
}

/// What the board knows of a transition it has read.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub transition: Transition,
    pub decision: Decision,
}

#[derive(Debug)]
struct Inner {
    incidents: Incidents,
    /// The next offset to read, by topic and partition.
    next: HashMap<(Stream, i32), i64>,
    /// Every transition read, by its id.
    decided: HashMap<Uuid, Decided>,
    /// Where each alert id was first read: a later copy (a read redelivered
    /// after a crash) is a duplicate.
    first_read: HashMap<Uuid, (i32, i64)>,
}

/// Incidents and decisions, as every instance folds them.
pub struct Board {
    inner: RwLock<Inner>,
    /// The id of each incident that changed.
    changes: broadcast::Sender<Uuid>,
    progress: Notify,
    lists: Lists,
    /// Where suppressed alerts are counted, once [`Board::count_into`] is called.
    metrics: std::sync::OnceLock<crate::metrics::Metrics>,
    /// Cancelled when the service stops: live streams end.
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").finish_non_exhaustive()
    }
}

impl Board {
    /// An empty board; alerts on one entry within `window` are one incident.
    pub fn new(window: Duration, lists: Lists, shutdown: CancellationToken) -> Arc<Board> {
        Arc::new(Board {
            inner: RwLock::new(Inner {
                incidents: Incidents::new(window),
                next: HashMap::new(),
                decided: HashMap::new(),
                first_read: HashMap::new(),
            }),
            changes: broadcast::channel(4096).0,
            progress: Notify::new(),
            lists,
            metrics: std::sync::OnceLock::new(),
            shutdown,
        })
    }

    /// Folds in alert records, in their partition's order.
    pub fn add_alerts(&self, records: &[Record<'_>]) {
        let mut changed = Vec::new();
        {
            let mut inner = self.inner.write().expect("board lock");
            for &(partition, offset, payload) in records {
                inner.next.insert((Stream::Alerts, partition), offset + 1);
                match Alert::decode(payload) {
                    Ok(alert) => {
                        let id = alert.alert_id;
                        match inner.incidents.add_alert(alert) {
                            Added::Duplicate(_) => {}
                            added => {
                                if let (Added::Sighting(_), Some(m)) = (added, self.metrics.get()) {
                                    m.alerts_suppressed.inc();
                                }
                                inner.first_read.insert(id, (partition, offset));
                                changed.push(added.incident());
                            }
                        }
                    }
                    Err(e) => warn!(partition, offset, error = %e, "alert record skipped"),
                }
            }
        }
        self.announce(changed);
    }

    /// Folds in decision records, in their partition's order.
    pub fn add_transitions(&self, records: &[Record<'_>]) {
        let mut changed = Vec::new();
        {
            let mut inner = self.inner.write().expect("board lock");
            for &(partition, offset, payload) in records {
                inner.next.insert((Stream::States, partition), offset + 1);
                match Transition::decode(payload) {
                    Ok(transition) => {
                        let decision = inner.incidents.apply(&transition);
                        if decision == Decision::Applied {
                            changed.push(transition.alert_id);
                        }
                        let id = transition.transition_id;
                        inner.decided.entry(id).or_insert(Decided { transition, decision });
                    }
                    Err(e) => warn!(partition, offset, error = %e, "alert-state record skipped"),
                }
            }
        }
        self.announce(changed);
    }

    fn announce(&self, changed: Vec<Uuid>) {
        for id in changed {
            let _ = self.changes.send(id); // nobody listening is fine
        }
        self.progress.notify_waiters();
    }

    /// Counts suppressed alerts (sightings of an open incident) into `metrics`.
    pub fn count_into(&self, metrics: crate::metrics::Metrics) {
        let _ = self.metrics.set(metrics);
    }

    /// News of every incident that changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.changes.subscribe()
    }

    /// Whether a user of `organisation` may see hits on list `list_id`.
    pub fn may_see(&self, list_id: &str, organisation: Option<&str>) -> bool {
        let lists = self.lists.read().expect("lists lock");
        may_see_list(lists.get(list_id), organisation)
    }

    /// Incident `id` as a user of `organisation` may see it (any state);
    /// `None` for what goes beyond this service (webhooks): never covert.
    pub fn view(&self, id: &Uuid, organisation: Option<&str>) -> Option<IncidentView> {
        let inner = self.inner.read().expect("board lock");
        let incident = inner.incidents.get(id)?;
        if !self.may_see(&incident.alert.entry.list_id, organisation) {
            return None;
        }
        let reopened = inner.incidents.reopened(id);
        Some(IncidentView::new(incident, &inner.incidents.lifecycle(id), reopened))
    }

    /// Where incident `id` stands in its lifecycle (closed for a reopened
    /// one, which the view shows as new): what a decision starts from.
    pub fn lifecycle_state(&self, id: &Uuid) -> crate::alert::lifecycle::AlertState {
        self.inner.read().expect("board lock").incidents.lifecycle(id).state
    }

    /// Every open incident a user of `organisation` may see, by priority
    /// (0 first), then newest first.
    pub fn open(&self, organisation: &str) -> Vec<IncidentView> {
        let inner = self.inner.read().expect("board lock");
        let mut views: Vec<IncidentView> = inner
            .incidents
            .ids()
            .filter(|id| inner.incidents.is_open(id))
            .filter_map(|id| inner.incidents.get(id))
            .filter(|i| self.may_see(&i.alert.entry.list_id, Some(organisation)))
            .map(|i| {
                IncidentView::new(
                    i,
                    &inner.incidents.lifecycle(&i.id()),
                    inner.incidents.reopened(&i.id()),
                )
            })
            .collect();
        views.sort_by(|a, b| a.priority.cmp(&b.priority).then(b.last_seen.cmp(&a.last_seen)));
        views
    }

    /// When incident `id`'s first read was captured (milliseconds), which
    /// its decision records carry so they are deleted with it.
    pub fn captured_ms(&self, id: &Uuid) -> Option<i64> {
        let inner = self.inner.read().expect("board lock");
        Some(inner.incidents.get(id)?.alert.read.captured_at.timestamp_millis())
    }

    /// The incident alert `alert_id` went to, once it has been read.
    pub fn incident_of(&self, alert_id: &Uuid) -> Option<Uuid> {
        self.inner.read().expect("board lock").incidents.incident_of(alert_id)
    }

    /// Whether the alert record at `offset` of `partition` was the first
    /// copy of alert `alert_id` (not a redelivered read's duplicate).
    pub fn is_first_copy(&self, alert_id: &Uuid, partition: i32, offset: i64) -> bool {
        let inner = self.inner.read().expect("board lock");
        inner.first_read.get(alert_id) == Some(&(partition, offset))
    }

    /// The transition `id` and what became of it, once it has been read.
    pub fn decided(&self, id: &Uuid) -> Option<Decided> {
        self.inner.read().expect("board lock").decided.get(id).cloned()
    }

    /// Waits up to `timeout` for transition `id` to be read back.
    pub async fn wait_decision(&self, id: &Uuid, timeout: Duration) -> Option<Decided> {
        self.wait(timeout, || self.decided(id)).await
    }

    /// Waits up to `timeout` until the record at `offset` of `partition`
    /// has been folded in.
    pub async fn wait_read(&self, stream: Stream, partition: i32, offset: i64, timeout: Duration) -> bool {
        let read = || {
            let inner = self.inner.read().expect("board lock");
            inner
                .next
                .get(&(stream, partition))
                .is_some_and(|next| *next > offset)
                .then_some(())
        };
        self.wait(timeout, read).await.is_some()
    }

    async fn wait<T>(&self, timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.progress.notified();
            if let Some(found) = ready() {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return ready();
            }
        }
    }

    /// Forgets incidents last seen before `cutoff`, and the decisions and
    /// alert copies that went with them (the 30-day rule, in memory too).
    pub fn purge_before(&self, cutoff: chrono::DateTime<chrono::Utc>) -> usize {
        let mut inner = self.inner.write().expect("board lock");
        let purged = inner.incidents.purge_before(cutoff);
        let Inner {
            incidents,
            decided,
            first_read,
            ..
        } = &mut *inner;
        first_read.retain(|alert, _| incidents.incident_of(alert).is_some());
        // A decision goes with its incident; one whose incident never came
        // (an unknown or forged id) once it is past the cutoff itself.
        decided.retain(|_, d| incidents.get(&d.transition.alert_id).is_some() || d.transition.at > cutoff);
        purged
    }

    /// How many incidents the board holds.
    pub fn len(&self) -> usize {
        self.inner.read().expect("board lock").incidents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How often the board forgets what is older than the retention.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Folds the alerts and alert-state topics into `board` from their first
/// records, until the board's shutdown; every hour, forgets what is older
/// than the topics' retention.
pub fn follow(config: &Config, board: &Arc<Board>, keyring: &Arc<Keyring>) -> Result<(), KafkaError> {
    let retention = chrono::Duration::from_std(config.topics.retention).unwrap_or(chrono::Duration::MAX);
    let purger = Arc::clone(board);
    let clock = Arc::clone(keyring);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            tokio::select! {
                _ = purger.shutdown.cancelled() => return,
                _ = every.tick() => {
                    let purged = purger.purge_before(clock.now() - retention);
                    if purged > 0 {
                        tracing::info!(purged, "incidents past retention forgotten");
                    }
                }
            }
        }
    });
    let alerts = Arc::clone(board);
    follow_from_beginning(
        config,
        (&config.topics.alerts, Arc::clone(keyring)),
        "board-alerts",
        board.shutdown.clone(),
        move |records| alerts.add_alerts(records),
    )?;
    let states = Arc::clone(board);
    follow_from_beginning(
        config,
        (&config.topics.alert_state, Arc::clone(keyring)),
        "board-states",
        board.shutdown.clone(),
        move |records| states.add_transitions(records),
    )
}

#[cfg(test)]
#[path = "board_tests.rs"]
pub(crate) mod tests;
