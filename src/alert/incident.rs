//! Incidents: one alert per vehicle pass, however many times it is read.
//!
//! A stolen car driving past three cameras in two minutes is one thing for
//! a dispatcher to verify, not three. An alert on an entry that already has
//! an incident whose sightings are within the suppression window (by
//! capture time) becomes a [`Sighting`] of that incident: the same camera
//! again, or another camera, which the board shows as movement. Outside the
//! window it opens a new incident, whose id is its first alert's id.
//!
//! [`Incidents`] is a pure fold of the alerts topic. The source writes every
//! alert of one entry to one partition of that topic, so every instance
//! reads them in the same order and reaches the same incidents, after a
//! restart too: the window is shared through Kafka, not held by one process.
//! The decisions on each incident come from the alert-state topic and are
//! folded by [`crate::alert::lifecycle`]; they depend only on each other, so
//! the two topics may be read at any relative pace.

use std::collections::HashMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::lifecycle::{AlertState, Decision, Lifecycle, Transition};
use super::{Alert, AlertRead};
use crate::read::Location;

/// One read of the vehicle of an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sighting {
    pub alert_id: Uuid,
    /// The read; an alert on a pass of several frames gives one sighting per frame.
    pub read_id: Uuid,
    pub camera_id: String,
    pub captured_at: DateTime<FixedOffset>,
    pub location: Option<Location>,
    pub image_ref: Option<String>,
}

impl Sighting {
    /// One sighting per read of `alert`: its pass's reads, or its one read.
    fn all_of(alert: &Alert) -> Vec<Sighting> {
        let of = |read: &AlertRead| Sighting {
            alert_id: alert.alert_id,
            read_id: read.read_id,
            camera_id: read.camera_id.clone(),
            captured_at: read.captured_at,
            location: read.location,
            image_ref: read.image_ref.clone(),
        };
        if alert.pass.is_empty() {
            vec![of(&alert.read)]
        } else {
            alert.pass.iter().map(|p| of(&p.read)).collect()
        }
    }
}

/// The alerts on one entry within one window: what dispatch verifies.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The first alert: its read, entry and match are what the board shows.
    pub alert: Alert,
    /// Every read, the first alert's included, by capture time.
    pub sightings: Vec<Sighting>,
}

impl Incident {
    pub fn id(&self) -> Uuid {
        self.alert.alert_id
    }

    pub fn last_seen(&self) -> DateTime<FixedOffset> {
        self.sightings
            .last()
            .map_or(self.alert.read.captured_at, |s| s.captured_at)
    }

    /// Adds a sighting of a read not seen yet, in capture order; false if seen.
    fn see(&mut self, sighting: Sighting) -> bool {
        if self.sightings.iter().any(|s| s.read_id == sighting.read_id) {
            return false;
        }
        let place = self
            .sightings
            .partition_point(|s| s.captured_at <= sighting.captured_at);
        self.sightings.insert(place, sighting);
        true
    }

    fn first_seen(&self) -> DateTime<FixedOffset> {
        self.sightings
            .first()
            .map_or(self.alert.read.captured_at, |s| s.captured_at)
    }
}

/// What an alert record became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A new incident, with this id.
    Opened(Uuid),
    /// A sighting of this incident.
    Sighting(Uuid),
    /// The alert was already folded in (a redelivered read).
    Duplicate(Uuid),
    /// The alert was folded in before, and this copy brings more reads of
    /// its pass ([`super::pass`]): new sightings, and the incident's own
    /// alert replaced by the upgraded one when it is that alert.
    Upgraded(Uuid),
}

impl Added {
    pub fn incident(self) -> Uuid {
        match self {
            Added::Opened(id) | Added::Sighting(id) | Added::Duplicate(id) | Added::Upgraded(id) => id,
        }
    }
}

/// Every incident, folded from the alerts and alert-state topics.
#[derive(Debug)]
pub struct Incidents {
    window: Duration,
    by_id: HashMap<Uuid, Incident>,
    /// The newest incident of each `(list, entry)`.
    latest: HashMap<(String, String), Uuid>,
    /// Which incident each alert id went to.
    alerts: HashMap<Uuid, Uuid>,
    /// Decisions by incident id; they may arrive before the incident.
    lifecycles: HashMap<Uuid, Lifecycle>,
}

impl Incidents {
    /// No incidents; alerts on one entry within `window` of each other are one.
    pub fn new(window: std::time::Duration) -> Incidents {
        Incidents {
            window: Duration::from_std(window).unwrap_or(Duration::MAX),
            by_id: HashMap::new(),
            latest: HashMap::new(),
            alerts: HashMap::new(),
            lifecycles: HashMap::new(),
        }
    }

    /// Folds in one alert record.
    pub fn add_alert(&mut self, alert: Alert) -> Added {
        if let Some(incident) = self.alerts.get(&alert.alert_id).copied() {
            return self.upgrade(incident, alert);
        }
        let key = (alert.entry.list_id.clone(), alert.entry.entry_id.clone());
        let at = alert.read.captured_at;
        let window = self.window;
        let open = self
            .latest
            .get(&key)
            .and_then(|id| self.by_id.get_mut(id))
            .filter(|incident| {
                at <= incident.last_seen().checked_add_signed(window).unwrap_or(at)
                    && at >= incident.first_seen().checked_sub_signed(window).unwrap_or(at)
            });
        if let Some(incident) = open {
            for sighting in Sighting::all_of(&alert) {
                incident.see(sighting);
            }
            let id = incident.id();
            self.alerts.insert(alert.alert_id, id);
            return Added::Sighting(id);
        }
        let id = alert.alert_id;
        self.alerts.insert(id, id);
        self.latest.insert(key, id);
        let mut sightings = Sighting::all_of(&alert);
        sightings.sort_by_key(|s| s.captured_at);
        self.by_id.insert(id, Incident { sightings, alert });
        Added::Opened(id)
    }

    /// A copy of an alert already folded into `incident`: a duplicate,
    /// unless it lists reads of its pass not seen yet.
    fn upgrade(&mut self, incident: Uuid, alert: Alert) -> Added {
        let Some(open) = self.by_id.get_mut(&incident) else {
            return Added::Duplicate(incident);
        };
        let mut added = false;
        for sighting in Sighting::all_of(&alert) {
            added |= open.see(sighting);
        }
        if !added {
            return Added::Duplicate(incident);
        }
        if open.alert.alert_id == alert.alert_id {
            open.alert = alert;
        }
        Added::Upgraded(incident)
    }

    /// Folds in one decision, in the alert-state topic's order.
    pub fn apply(&mut self, transition: &Transition) -> Decision {
        self.lifecycles
            .entry(transition.alert_id)
            .or_default()
            .apply(transition)
    }

    /// The incident alert `alert_id` went to, if it was folded in.
    pub fn incident_of(&self, alert_id: &Uuid) -> Option<Uuid> {
        self.alerts.get(alert_id).copied()
    }

    pub fn get(&self, id: &Uuid) -> Option<&Incident> {
        self.by_id.get(id)
    }

    /// The lifecycle of incident `id` (new when nobody has acted).
    pub fn lifecycle(&self, id: &Uuid) -> Lifecycle {
        self.lifecycles.get(id).cloned().unwrap_or_default()
    }

    /// Whether incident `id` was closed and the vehicle seen again since:
    /// the board shows it as new again, and acknowledging it reopens it.
    pub fn reopened(&self, id: &Uuid) -> bool {
        self.lifecycles
            .get(id)
            .is_some_and(|life| life.state == AlertState::Closed)
            && self.is_open(id)
    }

    /// Whether the board shows the incident: not closed, or seen again
    /// after it was closed.
    pub fn is_open(&self, id: &Uuid) -> bool {
        let Some(incident) = self.by_id.get(id) else {
            return false;
        };
        match self.lifecycles.get(id) {
            Some(life) if life.state == AlertState::Closed => {
                let closed_at = life.history.last().map(|s| s.at);
                closed_at.is_some_and(|at| incident.last_seen().with_timezone(&Utc) > at)
            }
            _ => true,
        }
    }

    /// Every incident id.
    pub fn ids(&self) -> impl Iterator<Item = &Uuid> {
        self.by_id.keys()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Forgets incidents last seen before `cutoff` (the 30-day rule), with
    /// their alerts and decisions.
    pub fn purge_before(&mut self, cutoff: DateTime<Utc>) -> usize {
        let old: Vec<Uuid> = self
            .by_id
            .values()
            .filter(|i| i.last_seen().with_timezone(&Utc) < cutoff)
            .map(Incident::id)
            .collect();
        for id in &old {
            if let Some(incident) = self.by_id.remove(id) {
                for sighting in &incident.sightings {
                    self.alerts.remove(&sighting.alert_id);
                }
                let key = (incident.alert.entry.list_id, incident.alert.entry.entry_id);
                if self.latest.get(&key) == Some(id) {
                    self.latest.remove(&key);
                }
            }
            self.lifecycles.remove(id);
        }
        old.len()
    }
}

#[cfg(test)]
#[path = "incident_tests.rs"]
pub(crate) mod tests;
