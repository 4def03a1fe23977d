//! What a dispatcher sees of an incident: the board's JSON, in words.
//!
//! The board must let a dispatcher compare the plate as read with the plate
//! on the list at a glance at 3 a.m., so the view aligns the two plates and
//! marks the characters that differ in each, and says how they matched in
//! words ("OCR look-alike: 2 read as Z") rather than as a kind and a score.
//! Pure: built from an [`Incident`] and its [`Lifecycle`].

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::incident::{Incident, Sighting};
use super::lifecycle::{AlertState, Lifecycle, Step};
use crate::hotlist::{Category, MatchKind, Tier};
use crate::read::Location;

/// One incident as the board shows it (the contract of `board.js`, and of
/// the `incident` server-sent event in docs/SCHEMAS.md). Its `Debug` hides
/// the plates and the words that name them.
#[derive(Clone, PartialEq, Serialize)]
pub struct IncidentView {
    pub id: Uuid,
    pub state: AlertState,
    pub priority: u8,
    pub category: Category,
    pub list_id: String,
    pub description: String,
    pub nic: Option<String>,
    pub vehicle: Vehicle,
    pub read_plate: String,
    pub entry_plate: String,
    /// Positions (in characters) to highlight in each plate.
    pub read_diff: Vec<usize>,
    pub entry_diff: Vec<usize>,
    pub match_kind: MatchKind,
    pub match_words: String,
    pub score: f32,
    pub region_mismatch: bool,
    /// The probability that the read came from the entry's vehicle.
    pub probability: f32,
    pub tier: Tier,
    pub camera_id: String,
    pub location: Option<Location>,
    pub captured_at: DateTime<FixedOffset>,
    pub image_ref: Option<String>,
    pub historical: bool,
    pub sightings: Vec<SightingView>,
    pub history: Vec<Step>,
    pub decided_by: Option<String>,
    pub reason: Option<&'static str>,
    pub reason_text: Option<String>,
    /// When it was last seen, for ordering.
    pub last_seen: DateTime<Utc>,
    /// Closed, then seen again: shown as new, to be verified afresh.
    pub reopened: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vehicle {
    pub year: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub colour: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SightingView {
    pub camera_id: String,
    pub captured_at: DateTime<FixedOffset>,
    pub location: Option<Location>,
    pub image_ref: Option<String>,
    /// Another camera than the sighting before: the vehicle moved.
    pub moved: bool,
}

impl std::fmt::Debug for IncidentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::text::Redacted;
        f.debug_struct("IncidentView")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("priority", &self.priority)
            .field("category", &self.category)
            .field("list_id", &self.list_id)
            .field("description", &self.description)
            .field("nic", &self.nic)
            .field("vehicle", &self.vehicle)
            .field("read_plate", &Redacted(&self.read_plate))
            .field("entry_plate", &Redacted(&self.entry_plate))
            .field("read_diff", &self.read_diff)
            .field("entry_diff", &self.entry_diff)
            .field("match_kind", &self.match_kind)
            .field("match_words", &Redacted(&self.match_words))
            .field("score", &self.score)
            .field("region_mismatch", &self.region_mismatch)
            .field("camera_id", &self.camera_id)
            .field("location", &self.location)
            .field("captured_at", &self.captured_at)
            .field("image_ref", &self.image_ref)
            .field("historical", &self.historical)
            .field("sightings", &self.sightings)
            .field("history", &self.history)
            .field("decided_by", &self.decided_by)
            .field("reason", &self.reason)
            .field("reason_text", &self.reason_text)
            .field("last_seen", &self.last_seen)
            .field("reopened", &self.reopened)
            .finish()
    }
}

impl IncidentView {
    /// The view of `incident` in `life`; a `reopened` one shows as new.
    pub fn new(incident: &Incident, life: &Lifecycle, reopened: bool) -> IncidentView {
        let alert = &incident.alert;
        let details = &alert.entry.details;
        let (read_diff, entry_diff) = differences(&alert.read.plate, &alert.entry.plate, alert.matched.kind);
        let decided = life
            .history
            .iter()
            .rev()
            .find(|s| matches!(s.state, AlertState::Confirmed | AlertState::Rejected));
        IncidentView {
            id: incident.id(),
            state: if reopened { AlertState::New } else { life.state },
            priority: alert.entry.priority,
            category: alert.entry.category,
            list_id: alert.entry.list_id.clone(),
            description: alert.entry.description.clone(),
            nic: details.nic.clone(),
            vehicle: Vehicle {
                year: details.vehicle_year.clone(),
                make: details.vehicle_make.clone(),
                model: details.vehicle_model.clone(),
                colour: details.vehicle_colour.clone(),
            },
            read_plate: alert.read.plate.clone(),
            entry_plate: alert.entry.plate.clone(),
            match_words: match_words(&alert.read.plate, &alert.entry.plate, alert.matched.kind),
            read_diff,
            entry_diff,
            match_kind: alert.matched.kind,
            score: alert.matched.score,
            region_mismatch: alert.matched.region_mismatch,
            probability: alert.matched.probability,
            tier: alert.matched.tier,
            camera_id: alert.read.camera_id.clone(),
            location: alert.read.location,
            captured_at: alert.read.captured_at,
            image_ref: alert.read.image_ref.clone(),
            historical: alert.historical,
            sightings: sightings(&incident.sightings),
            history: life.history.clone(),
            decided_by: decided.map(|s| s.by.clone()),
            reason: life.rejection.as_ref().map(|(r, _)| r.name()),
            reason_text: life.rejection.as_ref().and_then(|(_, t)| t.clone()),
            last_seen: incident.last_seen().with_timezone(&Utc),
            reopened,
        }
    }
}

fn sightings(all: &[Sighting]) -> Vec<SightingView> {
    let mut previous: Option<&str> = None;
    all.iter()
        .map(|s| {
            let moved = previous.is_some_and(|p| p != s.camera_id);
            previous = Some(&s.camera_id);
            SightingView {
                camera_id: s.camera_id.clone(),
                captured_at: s.captured_at,
                location: s.location,
                image_ref: s.image_ref.clone(),
                moved,
            }
        })
        .collect()
}

/// One step of aligning the read with the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Same,
    /// The entry's character was read as another.
    Swap(char, char),
    /// The read has a character the entry does not.
    Extra(char),
    /// The read lacks a character of the entry.
    Missing(char),
}

/// The cheapest alignment of `read` onto `entry` (edit distance with its path).
fn align(read: &[char], entry: &[char]) -> Vec<Edit> {
    let (n, m) = (read.len(), entry.len());
    let mut cost = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in cost.iter_mut().enumerate() {
        row[0] = i;
    }
    cost[0] = (0..=m).collect();
    for i in 1..=n {
        for j in 1..=m {
            let swap = cost[i - 1][j - 1] + usize::from(read[i - 1] != entry[j - 1]);
            cost[i][j] = swap.min(cost[i - 1][j] + 1).min(cost[i][j - 1] + 1);
        }
    }
    let (mut i, mut j, mut path) = (n, m, Vec::new());
    while i > 0 || j > 0 {
        if i > 0 && j > 0 && cost[i][j] == cost[i - 1][j - 1] + usize::from(read[i - 1] != entry[j - 1]) {
            let (r, e) = (read[i - 1], entry[j - 1]);
            path.push(if r == e { Edit::Same } else { Edit::Swap(e, r) });
            (i, j) = (i - 1, j - 1);
        } else if i > 0 && cost[i][j] == cost[i - 1][j] + 1 {
            path.push(Edit::Extra(read[i - 1]));
            i -= 1;
        } else {
            path.push(Edit::Missing(entry[j - 1]));
            j -= 1;
        }
    }
    path.reverse();
    path
}

/// The positions to highlight in the read and in the entry. Patterns and
/// fragments are shown as they are.
pub fn differences(read: &str, entry: &str, kind: MatchKind) -> (Vec<usize>, Vec<usize>) {
    if matches!(kind, MatchKind::Wildcard | MatchKind::Partial) {
        return (Vec::new(), Vec::new());
    }
    let (read, entry): (Vec<char>, Vec<char>) = (read.chars().collect(), entry.chars().collect());
    let (mut r, mut e) = (0, 0);
    let (mut read_diff, mut entry_diff) = (Vec::new(), Vec::new());
    for edit in align(&read, &entry) {
        match edit {
            Edit::Same => (r, e) = (r + 1, e + 1),
            Edit::Swap(..) => {
                read_diff.push(r);
                entry_diff.push(e);
                (r, e) = (r + 1, e + 1);
            }
            Edit::Extra(_) => {
                read_diff.push(r);
                r += 1;
            }
            Edit::Missing(_) => {
                entry_diff.push(e);
                e += 1;
            }
        }
    }
    (read_diff, entry_diff)
}

/// How the read matched the entry, in a dispatcher's words.
pub fn match_words(read: &str, entry: &str, kind: MatchKind) -> String {
    let (read_chars, entry_chars): (Vec<char>, Vec<char>) = (read.chars().collect(), entry.chars().collect());
    let edits: Vec<String> = align(&read_chars, &entry_chars)
        .into_iter()
        .filter_map(|edit| match edit {
            Edit::Same => None,
            Edit::Swap(e, r) => Some(format!("{e} read as {r}")),
            Edit::Extra(r) => Some(format!("extra {r} in the read")),
            Edit::Missing(e) => Some(format!("{e} missing from the read")),
        })
        .collect();
    match kind {
        MatchKind::Exact => "Exact match".to_owned(),
        MatchKind::OcrEquivalent => format!("OCR look-alike: {}", edits.join(", ")),
        MatchKind::Fuzzy => format!("One character off: {}", edits.join(", ")),
        MatchKind::Wildcard => format!("Pattern {entry} on the list matches the read"),
        MatchKind::Partial => format!("Partial plate {entry} from the list found in the read"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_are_marked_in_both_plates_and_said_in_words() {
        assert_eq!(
            differences("8ABC1Z3", "8ABC123", MatchKind::OcrEquivalent),
            (vec![5], vec![5])
        );
        assert_eq!(
            match_words("8ABC1Z3", "8ABC123", MatchKind::OcrEquivalent),
            "OCR look-alike: 2 read as Z"
        );
        assert_eq!(
            match_words("0ABC1Z3", "OABC123", MatchKind::OcrEquivalent),
            "OCR look-alike: O read as 0, 2 read as Z"
        );
        assert_eq!(match_words("7ABC123", "7ABC123", MatchKind::Exact), "Exact match");
        assert_eq!(differences("7ABC123", "7ABC123", MatchKind::Exact), (vec![], vec![]));
    }

    #[test]
    fn a_dropped_or_extra_character_is_marked_where_it_is() {
        // The read lacks the entry's "C".
        assert_eq!(differences("7AB123", "7ABC123", MatchKind::Fuzzy), (vec![], vec![3]));
        assert_eq!(
            match_words("7AB123", "7ABC123", MatchKind::Fuzzy),
            "One character off: C missing from the read"
        );
        // The read has an extra "1".
        assert_eq!(
            differences("7ABC1123", "7ABC123", MatchKind::Fuzzy).1,
            Vec::<usize>::new()
        );
        assert_eq!(differences("7ABC1123", "7ABC123", MatchKind::Fuzzy).0.len(), 1);
        assert_eq!(
            match_words("7ABC1123", "7ABC123", MatchKind::Fuzzy),
            "One character off: extra 1 in the read"
        );
    }

    #[test]
    fn patterns_and_fragments_are_not_highlighted() {
        assert_eq!(differences("7ABC123", "7AB?123", MatchKind::Wildcard), (vec![], vec![]));
        assert_eq!(
            match_words("7ABC123", "7AB", MatchKind::Partial),
            "Partial plate 7AB from the list found in the read"
        );
    }

    #[test]
    fn a_change_of_camera_between_sightings_is_movement() {
        let incident_alert =
            super::super::incident::tests::alert(1, "e1", "cam-1", "2026-11-28T03:00:00-08:00".parse().unwrap());
        let mut incidents = super::super::incident::Incidents::new(std::time::Duration::from_secs(300));
        let id = incidents.add_alert(incident_alert).incident();
        for (n, camera, minute) in [(2, "cam-1", 1), (3, "cam-2", 2), (4, "cam-2", 3)] {
            let when = format!("2026-11-28T03:0{minute}:00-08:00").parse().unwrap();
            incidents.add_alert(super::super::incident::tests::alert(n, "e1", camera, when));
        }
        let view = IncidentView::new(incidents.get(&id).unwrap(), &incidents.lifecycle(&id), false);
        let moved: Vec<_> = view.sightings.iter().map(|s| (s.camera_id.as_str(), s.moved)).collect();
        assert_eq!(
            moved,
            [("cam-1", false), ("cam-1", false), ("cam-2", true), ("cam-2", false)]
        );
        assert_eq!(view.state, AlertState::New);
        assert_eq!(view.read_diff, vec![5]);
        assert_eq!(view.match_words, "OCR look-alike: 2 read as Z");
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["category"], "stolen_vehicle");
        assert_eq!(json["match_kind"], "ocr_equivalent");
        assert_eq!(json["state"], "new");
    }
}
