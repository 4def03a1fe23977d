//! Field feedback: which confusions, lists and cameras make false alarms.
//!
//! Dispatch verifies every alert and rejects misreads (policy section 8).
//! Those decisions are the City's own measure of accuracy: this module names
//! the kind of confusion behind an alert ([`confusion_kind`], a small fixed
//! set, so it may be a metric label; never plate characters), and folds the
//! alerts and alert-state topics into confirmed and rejected-as-misread
//! counts per list, per confusion and per camera ([`FeedbackReport`]), so a
//! list's false-alarm budget can be tuned from real decisions. Pure: the
//! command that reads the topics is `alerts rejections-report`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::incident::Incidents;
use super::lifecycle::{AlertState, RejectReason, Transition};
use super::Alert;
use crate::hotlist::confusion::{compare, Edit};
use crate::hotlist::MatchKind;
use crate::normalize::normalize;

/// Every value [`confusion_kind`] returns, for pre-registering metrics and
/// for the report's order.
pub const CONFUSIONS: [&str; 13] = [
    "exact",
    "ocr_lookalike",
    "plausible_confusion",
    "substitution",
    "end_truncation",
    "end_extension",
    "inner_deletion",
    "inner_insertion",
    "transposition",
    "ocr_candidate",
    "wildcard",
    "partial",
    "other",
];

/// The kind of confusion that made an alert, from the read and entry
/// plates as the alert carries them: one of [`CONFUSIONS`].
pub fn confusion_kind(read_plate: &str, entry_plate: &str, kind: MatchKind, by_candidate: bool) -> &'static str {
    match kind {
        MatchKind::Wildcard => return "wildcard",
        MatchKind::Partial => return "partial",
        _ if by_candidate => return "ocr_candidate",
        MatchKind::Exact => return "exact",
        _ => {}
    }
    let (Ok(read), Ok(entry)) = (normalize(read_plate), normalize(entry_plate)) else {
        return "other";
    };
    let Some(comparison) = compare(&read, &entry) else {
        return "other";
    };
    let at_end = |position: u8, len: usize| position == 0 || usize::from(position) + 1 == len;
    match comparison.edit {
        Edit::None => "ocr_lookalike",
        Edit::Substitution { cost, .. } if cost < 1.0 => "plausible_confusion",
        Edit::Substitution { .. } => "substitution",
        Edit::Deletion { position } if at_end(position, entry.len()) => "end_truncation",
        Edit::Deletion { .. } => "inner_deletion",
        Edit::Insertion { position } if at_end(position, read.len()) => "end_extension",
        Edit::Insertion { .. } => "inner_insertion",
        Edit::Transposition { .. } => "transposition",
    }
}

/// The confusion kind of an alert.
pub fn alert_confusion(alert: &Alert) -> &'static str {
    confusion_kind(
        &alert.read.plate,
        &alert.entry.plate,
        alert.matched.kind,
        alert.matched.candidate.is_some(),
    )
}

/// What dispatch decided on the incidents of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Incidents (one per vehicle and window: what dispatch verified).
    pub incidents: u64,
    pub confirmed: u64,
    /// Rejected as misreads: false alarms of the matcher.
    pub misread: u64,
    /// Rejected for another reason (wrong state, no longer active, ...).
    pub rejected_other: u64,
}

impl Tally {
    /// Misreads among the incidents decided either way, if any were.
    pub fn false_alarm_share(&self) -> Option<f64> {
        let decided = self.confirmed + self.misread;
        (decided > 0).then(|| self.misread as f64 / decided as f64)
    }

    fn add(&mut self, state: Outcome) {
        self.incidents += 1;
        match state {
            Outcome::Confirmed => self.confirmed += 1,
            Outcome::Misread => self.misread += 1,
            Outcome::RejectedOther => self.rejected_other += 1,
            Outcome::Undecided => {}
        }
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Confirmed,
    Misread,
    RejectedOther,
    Undecided,
}

/// Decisions per list, per list and confusion, and per camera.
#[derive(Debug, Default, PartialEq)]
pub struct FeedbackReport {
    pub by_list: BTreeMap<String, Tally>,
    pub by_list_confusion: BTreeMap<(String, &'static str), Tally>,
    pub by_confusion: BTreeMap<&'static str, Tally>,
    pub by_camera: BTreeMap<String, Tally>,
}

impl FeedbackReport {
    /// Folds the alerts (in their topic's order) into incidents within
    /// `window`, applies the transitions, and counts each incident once,
    /// under its first alert's list, confusion and camera.
    pub fn fold(
        window: std::time::Duration,
        alerts: impl IntoIterator<Item = Alert>,
        transitions: impl IntoIterator<Item = Transition>,
    ) -> FeedbackReport {
        let mut incidents = Incidents::new(window);
        for alert in alerts {
            incidents.add_alert(alert);
        }
        for transition in transitions {
            incidents.apply(&transition);
        }
        let mut report = FeedbackReport::default();
        for id in incidents.ids() {
            let Some(incident) = incidents.get(id) else {
                continue;
            };
            let life = incidents.lifecycle(id);
            let outcome = match life.rejection {
                Some((RejectReason::Misread, _)) => Outcome::Misread,
                Some(_) => Outcome::RejectedOther,
                None if life.history.iter().any(|s| s.state == AlertState::Confirmed) => Outcome::Confirmed,
                None => Outcome::Undecided,
            };
            let alert = &incident.alert;
            let confusion = alert_confusion(alert);
            let list = alert.entry.list_id.clone();
            report.by_list.entry(list.clone()).or_default().add(outcome);
            report
                .by_list_confusion
                .entry((list, confusion))
                .or_default()
                .add(outcome);
            report.by_confusion.entry(confusion).or_default().add(outcome);
            let camera = alert.read.camera_id.clone();
            report.by_camera.entry(camera).or_default().add(outcome);
        }
        report
    }

    /// The report as text: one table per grouping, confusions in
    /// [`CONFUSIONS`] order. Camera ids and list ids are printed escaped.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut table = |title: &str, rows: Vec<(String, &Tally)>| {
            let _ = writeln!(out, "{title}");
            let _ = writeln!(
                out,
                "  {:<40} {:>9} {:>9} {:>9} {:>9} {:>12}",
                "", "incidents", "confirmed", "misread", "other", "false alarms"
            );
            for (name, t) in rows {
                let share = t
                    .false_alarm_share()
                    .map_or("-".to_string(), |s| format!("{:.1}%", s * 100.0));
                let _ = writeln!(
                    out,
                    "  {:<40} {:>9} {:>9} {:>9} {:>9} {:>12}",
                    name, t.incidents, t.confirmed, t.misread, t.rejected_other, share
                );
            }
            let _ = writeln!(out);
        };
        let escaped = |s: &str| s.escape_default().to_string();
        table("by list", self.by_list.iter().map(|(l, t)| (escaped(l), t)).collect());
        let mut by_confusion: Vec<_> = self.by_confusion.iter().map(|(c, t)| (c.to_string(), t)).collect();
        by_confusion.sort_by_key(|(c, _)| CONFUSIONS.iter().position(|k| k == c));
        table("by confusion", by_confusion);
        let mut by_list_confusion: Vec<_> = self.by_list_confusion.iter().collect();
        by_list_confusion.sort_by_key(|((l, c), _)| (l.clone(), CONFUSIONS.iter().position(|k| k == c)));
        table(
            "by list and confusion",
            by_list_confusion
                .into_iter()
                .map(|((l, c), t)| (format!("{} / {c}", escaped(l)), t))
                .collect(),
        );
        table(
            "by camera",
            self.by_camera.iter().map(|(c, t)| (escaped(c), t)).collect(),
        );
        out
    }
}

#[cfg(test)]
#[path = "feedback_tests.rs"]
mod tests;
