//! Alerts: what a hit becomes, and its wire form on `alpr.alerts`.
//!
//! An alert carries everything a dispatcher needs to act on a hit without a
//! second lookup: the read (when, where, which camera, the plate as read), the
//! hotlist entry (which list, why, how urgent) and how the match was made.
//! Its id is derived from the read id and the entry, never random, so a read
//! redelivered after a crash yields the same alert id and every consumer can
//! drop the duplicate. This module is pure; the sinks that deliver alerts
//! (Kafka today, the dispatch board and webhooks later) live beside it.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::hotlist::{CandidateHit, Category, Hit, MatchKind, Tier};
use crate::normalize::Plate;
use crate::read::{Location, PlateRead};
use crate::text::Redacted;

pub mod feedback;
pub mod incident;
pub mod lifecycle;
pub mod pass;
pub mod view;

/// The partition of the alerts topic (of `partitions`) that every alert on
/// one hotlist entry goes to, so that every reader sees an entry's alerts in
/// one order and folds them into the same incidents (FNV-1a; never change it
/// while alerts of the last 30 days are on the topic).
pub fn entry_partition(list_id: &str, entry_id: &str, partitions: i32) -> i32 {
    partition_of(entry_hash(list_id, entry_id), partitions)
}

/// The stable hash of an entry that [`entry_partition`] reduces.
pub fn entry_hash(list_id: &str, entry_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in list_id.bytes().chain([0]).chain(entry_id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The partition of `partitions` an entry hash goes to.
pub fn partition_of(entry_hash: u64, partitions: i32) -> i32 {
    (entry_hash % partitions.max(1) as u64) as i32
}

/// The newest alert schema this build writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Namespace of alert ids (UUID version 5). Never change it: ids would change.
const ALERT_NAMESPACE: Uuid = Uuid::from_u128(0x6b1d_4c1e_0f3a_4e59_9a1c_2d7e_8b30_5f41);

/// The deterministic id of the alert for `read_id` hitting an entry.
pub fn alert_id(read_id: &Uuid, list_id: &str, entry_id: &str) -> Uuid {
    let mut name = Vec::with_capacity(16 + list_id.len() + entry_id.len() + 1);
    name.extend_from_slice(read_id.as_bytes());
    name.extend_from_slice(list_id.as_bytes());
    name.push(0);
    name.extend_from_slice(entry_id.as_bytes());
    Uuid::new_v5(&ALERT_NAMESPACE, &name)
}

/// One alert, as written to the alerts topic (JSON, keyed by `alert_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub schema: u32,
    pub alert_id: Uuid,
    pub read: AlertRead,
    pub entry: AlertEntry,
    #[serde(rename = "match")]
    pub matched: AlertMatch,
    /// True when the hit was found by checking retained reads against an
    /// entry added after the read (the car may be long gone).
    #[serde(default)]
    pub historical: bool,
    /// Every read of the vehicle's pass when several frames were read
    /// ([`pass`]), by capture time, `read` among them; empty for one read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass: Vec<pass::PassRead>,
}

/// The read that hit. Its `Debug` hides the plates.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRead {
    pub read_id: Uuid,
    pub camera_id: String,
    pub captured_at: DateTime<FixedOffset>,
    /// The plate exactly as the camera read it.
    pub plate_raw: String,
    /// The canonical plate that was matched.
    pub plate: String,
    pub region: Option<String>,
    pub confidence: Option<f32>,
    pub location: Option<Location>,
    pub image_ref: Option<String>,
}

/// The hotlist entry that was hit. Its `Debug` hides the plate.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEntry {
    pub list_id: String,
    pub entry_id: String,
    pub plate: String,
    pub region: Option<String>,
    pub category: Category,
    pub priority: u8,
    pub description: String,
    /// NCIC number, agencies and vehicle, when the list gave them.
    #[serde(default)]
    pub details: crate::hotlist::EntryDetails,
    /// When the entry started matching, when the list set a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<DateTime<chrono::Utc>>,
}

impl AlertRead {
    /// The wire form of a read whose canonical plate is `plate`.
    pub fn of(read: &PlateRead<'_>, plate: Plate) -> AlertRead {
        AlertRead {
            read_id: read.read_id,
            camera_id: read.camera_id.to_string(),
            captured_at: read.captured_at,
            plate_raw: read.plate.to_string(),
            plate: plate.to_string(),
            region: read.region.map(|r| r.to_string()),
            confidence: read.confidence,
            location: read.location,
            image_ref: read.image_ref.as_deref().map(str::to_owned),
        }
    }
}

impl std::fmt::Debug for AlertRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertRead")
            .field("read_id", &self.read_id)
            .field("camera_id", &self.camera_id)
            .field("captured_at", &self.captured_at)
            .field("plate_raw", &Redacted(&self.plate_raw))
            .field("plate", &Redacted(&self.plate))
            .field("region", &self.region)
            .field("confidence", &self.confidence)
            .field("location", &self.location)
            .field("image_ref", &self.image_ref)
            .finish()
    }
}

impl std::fmt::Debug for AlertEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEntry")
            .field("list_id", &self.list_id)
            .field("entry_id", &self.entry_id)
            .field("plate", &Redacted(&self.plate))
            .field("region", &self.region)
            .field("category", &self.category)
            .field("priority", &self.priority)
            .field("description", &self.description)
            .field("details", &self.details)
            .field("effective_at", &self.effective_at)
            .finish()
    }
}

/// How the read matched the entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMatch {
    pub kind: MatchKind,
    /// 0 to 1; 1 is an exact match.
    pub score: f32,
    /// Weighted cost of the one edit beyond OCR equivalence (0 for none).
    pub distance: f32,
    /// Positions (0-based) of the read plate that differ from the entry,
    /// for the dispatch board to highlight.
    pub positions: Vec<u8>,
    /// Set when one of the read's OCR candidates matched, not the read itself.
    pub candidate: Option<CandidateHit>,
    /// The read's state differs from the entry's.
    pub region_mismatch: bool,
    /// The probability that the read came from the entry's vehicle
    /// (alerts written before it existed: 1).
    #[serde(default = "certain")]
    pub probability: f32,
    /// A hit, or a possible match that dispatch must verify before anything
    /// (alerts written before tiers existed: a hit).
    #[serde(default)]
    pub tier: Tier,
}

fn certain() -> f32 {
    1.0
}

impl Alert {
    /// Builds the alert for one hit of a read whose canonical plate is `plate`.
    pub fn new(read: &PlateRead<'_>, plate: Plate, hit: &Hit) -> Alert {
        Alert::of(AlertRead::of(read, plate), hit)
    }

    /// Builds the alert for one hit of a read already in its wire form.
    pub fn of(read: AlertRead, hit: &Hit) -> Alert {
        let entry = &hit.entry;
        Alert {
            schema: SCHEMA_VERSION,
            alert_id: alert_id(&read.read_id, &entry.list_id, &entry.entry_id),
            read,
            entry: AlertEntry {
                list_id: entry.list_id.clone(),
                entry_id: entry.entry_id.clone(),
                plate: entry.plate.to_string(),
                region: entry.region.map(|r| r.to_string()),
                category: entry.category,
                priority: entry.priority,
                description: entry.description.clone(),
                details: entry.details.clone(),
                effective_at: entry.effective_at,
            },
            historical: false,
            matched: AlertMatch {
                kind: hit.kind,
                score: hit.score,
                distance: hit.distance,
                positions: hit.positions(),
                candidate: hit.candidate,
                region_mismatch: hit.region_mismatch,
                probability: hit.probability,
                tier: hit.tier,
            },
            pass: Vec::new(),
        }
    }

    /// The earliest capture among the alert's reads, in milliseconds since
    /// the Unix epoch: the record's timestamp, so retention counts from it.
    pub fn earliest_capture_ms(&self) -> i64 {
        self.pass
            .iter()
            .map(|p| p.read.captured_at.timestamp_millis())
            .chain([self.read.captured_at.timestamp_millis()])
            .min()
            .unwrap_or_default()
    }

    /// The record key on the alerts topic: the alert id in hyphenated form.
    pub fn key(&self) -> String {
        self.alert_id.hyphenated().to_string()
    }

    /// The JSON payload.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an alert always serializes")
    }

    /// Parses a payload written by [`Alert::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Alert, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::hotlist::HotlistEntry;
    use crate::normalize::normalize;
    use crate::read::parse;

    #[test]
    fn alert_ids_are_deterministic_and_distinct() {
        let read = Uuid::parse_str("6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a").unwrap();
        let other = Uuid::parse_str("6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3b").unwrap();
        let a = alert_id(&read, "rso", "e1");
        assert_eq!(a, alert_id(&read, "rso", "e1"));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, alert_id(&other, "rso", "e1"));
        assert_ne!(a, alert_id(&read, "rso", "e2"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(alert_id(&read, "ab", "c"), alert_id(&read, "a", "bc"));
        // Pinned: changing the namespace or the name layout breaks dedup downstream.
        assert_eq!(a.to_string(), "ad60b5f2-59b6-5521-9887-ac713e6d7525");
    }

    #[test]
    fn an_entry_always_goes_to_one_partition() {
        // Pinned: moving an entry's partition would split its incidents.
        assert_eq!(entry_partition("rso", "e1", 3), entry_partition("rso", "e1", 3));
        let spread: std::collections::BTreeSet<i32> =
            (0..100).map(|n| entry_partition("rso", &format!("e{n}"), 4)).collect();
        assert_eq!(spread, [0, 1, 2, 3].into());
        assert_eq!(entry_partition("rso", "e1", 0), 0);
        assert_ne!(entry_partition("ab", "c", 1 << 20), entry_partition("a", "bc", 1 << 20));
    }

    #[test]
    fn an_alert_round_trips_through_its_wire_form() {
        let raw = br#"{"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"cam-7","captured_at":"2026-11-27T03:12:45-08:00","plate":"7abc 123","region":"CA","confidence":0.9,"location":{"lat":33.68,"lon":-116.17}}"#;
        let read = parse(raw, 4096).unwrap();
        let plate = normalize(&read.plate).unwrap();
        let hit = Hit {
            entry: Arc::new(HotlistEntry {
                entry_id: "e1".into(),
                list_id: "rso-stolen".into(),
                plate: plate.into(),
                region: read.region,
                category: Category::StolenVehicle,
                priority: 1,
                description: "black Civic".into(),
                expires_at: None,
                effective_at: None,
                details: Default::default(),
            }),
            kind: MatchKind::Exact,
            score: 1.0,
            distance: 0.0,
            differing: 0,
            candidate: None,
            region_mismatch: false,
            probability: 0.98,
            tier: Tier::Hit,
        };
        let alert = Alert::new(&read, plate, &hit);
        assert_eq!(alert.key(), alert_id(&read.read_id, "rso-stolen", "e1").to_string());
        assert_eq!(alert.read.plate, "7ABC123");
        assert_eq!(alert.read.plate_raw, "7abc 123");
        let json: serde_json::Value = serde_json::from_slice(&alert.encode()).unwrap();
        assert_eq!(json["match"]["kind"], "exact");
        assert_eq!(json["entry"]["category"], "stolen_vehicle");
        assert_eq!(json["read"]["captured_at"], "2026-11-27T03:12:45-08:00");
        assert_eq!(Alert::decode(&alert.encode()).unwrap(), alert);
    }
}
