//! What an upload changes, decided without I/O: the diff of an uploaded list
//! against the list as the hotlist topic holds it, and the ownership rule.
//!
//! [`plan`] takes the current records and list owners (read from the topic
//! by [`crate::kafka::hotlist`]) and the validated entries of the upload, and
//! returns the records to write (new and changed entries, tombstones for the
//! ones no longer present, the list's own record last), the counts for the
//! uploader, and the entries that now match differently than before, which
//! alone are checked against retained reads. Pure, so it is tested here
//! without a broker.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::csv::{build_entry, RawEntry};
use super::{EntryDetails, HotlistEntry, RowError};

/// An entry as stored on the topic. Its `Debug` hides the plate.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    pub entry_id: String,
    pub list_id: String,
    pub plate: String,
    pub region: Option<String>,
    pub category: String,
    pub priority: u8,
    pub description: String,
    #[serde(default)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Absent (not `null`) when the entry matches at once, so records of
    /// entries without one are byte-identical to those written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub details: EntryDetails,
}

impl std::fmt::Debug for EntryRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryRecord")
            .field("entry_id", &self.entry_id)
            .field("list_id", &self.list_id)
            .field("plate", &crate::text::Redacted(&self.plate))
            .field("region", &self.region)
            .field("category", &self.category)
            .field("priority", &self.priority)
            .field("description", &self.description)
            .field("expires_at", &self.expires_at)
            .field("effective_at", &self.effective_at)
            .field("details", &self.details)
            .finish()
    }
}

impl EntryRecord {
    pub fn of(entry: &HotlistEntry) -> EntryRecord {
        EntryRecord {
            entry_id: entry.entry_id.clone(),
            list_id: entry.list_id.clone(),
            plate: entry.plate.to_string(),
            region: entry.region.map(|r| r.to_string()),
            category: entry.category.name().to_owned(),
            priority: entry.priority,
            description: entry.description.clone(),
            expires_at: entry.expires_at,
            effective_at: entry.effective_at,
            details: entry.details.clone(),
        }
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.list_id, self.entry_id)
    }

    /// True when both versions of an entry match exactly the same reads:
    /// same plate, state, category (which sets the tolerance), expiry and
    /// effective date. Descriptions and vehicle details do not change what
    /// matches.
    pub fn matches_like(&self, other: &EntryRecord) -> bool {
        let of = |r: &EntryRecord| {
            (
                r.plate.clone(),
                r.region.clone(),
                r.category.clone(),
                r.expires_at,
                r.effective_at,
            )
        };
        of(self) == of(other)
    }
}

/// Key prefix of a list's own record (owner, last refresh).
pub const LIST_PREFIX: &str = "#list/";

/// Who owns a list and when it was last refreshed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMeta {
    pub list_id: String,
    /// The organisation whose uploads replace this list.
    pub organisation: String,
    pub refreshed_at: chrono::DateTime<chrono::Utc>,
    pub entries: usize,
    /// A covert list: its hits go only to users of its organisation, never
    /// to the general board, webhooks or other organisations' searches.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub covert: bool,
}

/// The outcome of an upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    Done(UploadReport),
    /// The list belongs to another organisation; nothing was written.
    NotOwner {
        owner: String,
    },
}

/// What an upload changed. Not serialized: the uploader is answered with
/// [`UploadReport::counts`] only, which says nothing of sightings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Alerts raised by checking retained reads against entries that match
    /// differently than before (new plates, states, categories); only
    /// (read, entry) pairs that had no alert yet. Never told to the
    /// uploader (it would reveal that a plate was seen): dispatch gets the
    /// alerts, metrics the count.
    pub historical_alerts: usize,
    /// The plates put on and taken off the list, for the audit record.
    pub plates: PlateChanges,
}

impl UploadReport {
    /// What the uploader is told: entry counts, nothing about sightings.
    pub fn counts(&self) -> UploadCounts {
        UploadCounts {
            added: self.added,
            changed: self.changed,
            removed: self.removed,
            unchanged: self.unchanged,
        }
    }
}

/// The counts an uploader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UploadCounts {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

/// The plates an upload put on the list (new entries, and the new plate of
/// an entry whose plate changed) and took off it (removed entries, and the
/// old plate of an entry whose plate changed), in upload order then key
/// order. Its `Debug` shows counts, never plate text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PlateChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl std::fmt::Debug for PlateChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlateChanges")
            .field("added", &crate::text::RedactedList(&self.added))
            .field("removed", &crate::text::RedactedList(&self.removed))
            .finish()
    }
}

impl EntryRecord {
    /// Validates a stored record back into an entry, by the upload rules.
    pub fn to_entry(&self) -> Result<HotlistEntry, RowError> {
        let record = self;
        let priority = record.priority.to_string();
        let expires = record.expires_at.map(|t| t.to_rfc3339());
        let effective = record.effective_at.map(|t| t.to_rfc3339());
        let raw = RawEntry {
            entry_id: &record.entry_id,
            list_id: &record.list_id,
            plate: &record.plate,
            category: &record.category,
            region: record.region.as_deref(),
            priority: Some(&priority),
            description: Some(Cow::Borrowed(&record.description)),
            expires_at: expires.as_deref(),
            effective_at: effective.as_deref(),
            details: record.details.clone(),
        };
        build_entry(&raw, 0)
    }
}

/// Who uploads.
#[derive(Debug, Clone, Copy)]
pub struct Uploader<'a> {
    pub organisation: &'a str,
    /// Held to list ownership (every role but the custodian): may replace
    /// only a list it owns, or claim a new one.
    pub enforce_owner: bool,
    /// Sets the list's covert flag; `None` keeps it (a new list is not covert).
    /// Only the owning organisation may change it.
    pub covert: Option<bool>,
    /// The organisation the custodian registered the list to, if any: it
    /// owns the list whatever the list's own record says.
    pub registered_owner: Option<&'a str>,
}

/// What an upload will write.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `(key, record)` in order; `None` is a tombstone.
    pub writes: Vec<(String, Option<EntryRecord>)>,
    /// The list's own record, written after the entries.
    pub meta: ListMeta,
    /// The counts (historical alerts are added once checked).
    pub report: UploadReport,
    /// Entries that match differently than before (new plate, state,
    /// category or expiry): only these are checked against retained reads.
    pub fresh: Vec<Arc<HotlistEntry>>,
}

/// Either a plan, or the refusal.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    Plan(Plan),
    /// The list belongs to another organisation; nothing is to be written.
    NotOwner {
        owner: String,
    },
}

/// Plans the upload of `entries` as the whole of list `list_id`, against the
/// `current` records and list owners, at time `now`.
pub fn plan(
    list_id: &str,
    entries: &[Arc<HotlistEntry>],
    current: &BTreeMap<String, EntryRecord>,
    lists: &BTreeMap<String, ListMeta>,
    uploader: Uploader<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Planned {
    let owner = uploader
        .registered_owner
        .map(str::to_owned)
        .or_else(|| lists.get(list_id).map(|m| m.organisation.clone()));
    let was_covert = lists.get(list_id).is_some_and(|m| m.covert);
    let flips_covert = uploader.covert.is_some_and(|c| c != was_covert);
    if let Some(owner) = owner
        .clone()
        .filter(|o| (uploader.enforce_owner || flips_covert) && o != uploader.organisation)
    {
        return Planned::NotOwner { owner };
    }
    let mut report = UploadReport::default();
    let mut writes = Vec::new();
    let mut keep = HashSet::new();
    let mut fresh = Vec::new();
    for entry in entries.iter().filter(|e| e.list_id == list_id) {
        let record = EntryRecord::of(entry);
        let key = record.key();
        keep.insert(key.clone());
        match current.get(&key) {
            Some(existing) if *existing == record => report.unchanged += 1,
            existing => {
                match existing {
                    Some(old) => {
                        report.changed += 1;
                        if old.plate != record.plate {
                            report.plates.removed.push(old.plate.clone());
                            report.plates.added.push(record.plate.clone());
                        }
                    }
                    None => {
                        report.added += 1;
                        report.plates.added.push(record.plate.clone());
                    }
                }
                if !existing.is_some_and(|e| e.matches_like(&record)) {
                    fresh.push(Arc::clone(entry));
                }
                writes.push((key, Some(record)));
            }
        }
    }
    for (key, record) in current {
        if record.list_id == list_id && !keep.contains(key) {
            report.removed += 1;
            report.plates.removed.push(record.plate.clone());
            writes.push((key.clone(), None));
        }
    }
    let meta = ListMeta {
        list_id: list_id.to_owned(),
        organisation: owner.unwrap_or_else(|| uploader.organisation.to_owned()),
        refreshed_at: now,
        entries: keep.len(),
        covert: uploader.covert.unwrap_or(was_covert),
    };
    Planned::Plan(Plan {
        writes,
        meta,
        report,
        fresh,
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
