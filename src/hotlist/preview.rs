//! What an upload would change, shown before it changes anything.
//!
//! Agencies check a nightly file before it replaces a live list: a dry run
//! validates the file, plans it against the list as the topic holds it
//! ([`super::plan::plan`]) and answers with the counts and the first rows
//! added, changed and removed, then writes nothing. Pure: the plan and the
//! current records in, the preview out; it must never decide differently
//! from the upload it previews, so it reads the upload's own plan.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{EntryRecord, Plan, UploadCounts};

/// The answer to a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub list: String,
    pub counts: UploadCounts,
    /// The first `show` entries of each kind, in upload order (removals in
    /// key order).
    pub added: Vec<PreviewRow>,
    pub changed: Vec<PreviewRow>,
    pub removed: Vec<PreviewRow>,
}

/// A dry run's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previewed {
    Preview(Preview),
    /// The list belongs to another organisation: the upload would be refused.
    NotOwner {
        owner: String,
    },
}

/// One entry of a preview. Its `Debug` hides the plate; its JSON (for the
/// list's own uploader) shows it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PreviewRow {
    pub entry_id: String,
    /// The plate the entry will have (the old one for a removal).
    pub plate: String,
    /// For a changed entry, the fields that differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<&'static str>,
}

impl std::fmt::Debug for PreviewRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviewRow")
            .field("entry_id", &self.entry_id)
            .field("plate", &crate::text::Redacted(&self.plate))
            .field("fields", &self.fields)
            .finish()
    }
}

/// The preview of `plan` for list `list`, against the `current` records it
/// was planned on, showing at most `show` rows of each kind.
pub fn preview(list: &str, plan: &Plan, current: &BTreeMap<String, EntryRecord>, show: usize) -> Preview {
    let mut preview = Preview {
        list: list.to_owned(),
        counts: plan.report.counts(),
        added: Vec::new(),
        changed: Vec::new(),
        removed: Vec::new(),
    };
    for (key, record) in &plan.writes {
        let old = current.get(key);
        let (rows, row) = match (record, old) {
            (Some(new), None) => (&mut preview.added, row(new, Vec::new())),
            (Some(new), Some(old)) => (&mut preview.changed, row(new, differing(old, new))),
            (None, Some(old)) => (&mut preview.removed, row(old, Vec::new())),
            (None, None) => continue,
        };
        if rows.len() < show {
            rows.push(row);
        }
    }
    preview
}

fn row(record: &EntryRecord, fields: Vec<&'static str>) -> PreviewRow {
    PreviewRow {
        entry_id: record.entry_id.clone(),
        plate: record.plate.clone(),
        fields,
    }
}

/// The names of the fields in which two versions of an entry differ.
fn differing(old: &EntryRecord, new: &EntryRecord) -> Vec<&'static str> {
    let checks = [
        ("plate", old.plate != new.plate),
        ("region", old.region != new.region),
        ("category", old.category != new.category),
        ("priority", old.priority != new.priority),
        ("description", old.description != new.description),
        ("expires_at", old.expires_at != new.expires_at),
        ("effective_at", old.effective_at != new.effective_at),
        ("details", old.details != new.details),
    ];
    checks.into_iter().filter(|(_, d)| *d).map(|(name, _)| name).collect()
}

/// Prints a preview for a person: the counts, then up to `show` rows of each kind.
pub fn render(preview: &Preview) -> String {
    let c = &preview.counts;
    let mut out = format!(
        "dry run, nothing written: list {} would get {} added, {} changed, {} removed, {} unchanged\n",
        preview.list, c.added, c.changed, c.removed, c.unchanged
    );
    for (title, rows) in [
        ("added", &preview.added),
        ("changed", &preview.changed),
        ("removed", &preview.removed),
    ] {
        for r in rows {
            let fields = if r.fields.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.fields.join(", "))
            };
            out.push_str(&format!(
                "  {title:<8} {} {}{fields}\n",
                crate::text::escaped(&r.entry_id),
                crate::text::escaped(&r.plate)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::hotlist::plan::{plan, ListMeta, Planned, Uploader};
    use crate::hotlist::{Category, HotlistEntry};
    use crate::normalize::normalize;

    fn entry(id: &str, plate: &str, description: &str) -> Arc<HotlistEntry> {
        Arc::new(HotlistEntry {
            entry_id: id.into(),
            list_id: "doj".into(),
            plate: normalize(plate).unwrap().into(),
            region: None,
            category: Category::StolenVehicle,
            priority: 1,
            description: description.into(),
            expires_at: None,
            effective_at: None,
            details: Default::default(),
        })
    }

    fn planned(entries: &[Arc<HotlistEntry>], current: &BTreeMap<String, EntryRecord>) -> Plan {
        let uploader = Uploader {
            organisation: "CA DOJ",
            enforce_owner: false,
            covert: None,
            registered_owner: None,
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        match plan(
            "doj",
            entries,
            current,
            &BTreeMap::<String, ListMeta>::new(),
            uploader,
            now,
        ) {
            Planned::Plan(plan) => plan,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_preview_names_exactly_what_the_upload_would_add_change_and_remove() {
        let before = [
            entry("a", "AAA111", ""),
            entry("b", "BBB222", ""),
            entry("c", "CCC333", ""),
        ];
        let current = before
            .iter()
            .map(|e| (EntryRecord::of(e).key(), EntryRecord::of(e)))
            .collect();
        let after = [
            entry("a", "AAA111", ""),
            entry("b", "BBB228", "plate corrected"),
            entry("d", "DDD444", ""),
            entry("e", "EEE555", ""),
        ];
        let p = preview("doj", &planned(&after, &current), &current, 1);
        assert_eq!(
            p.counts,
            UploadCounts {
                added: 2,
                changed: 1,
                removed: 1,
                unchanged: 1
            }
        );
        let ids = |rows: &[PreviewRow]| rows.iter().map(|r| r.entry_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&p.added), ["d"], "--show 1: the first row only");
        assert_eq!(p.changed[0].fields, ["plate", "description"]);
        assert_eq!(
            (p.removed[0].entry_id.as_str(), p.removed[0].plate.as_str()),
            ("c", "CCC333")
        );
        assert_eq!(
            render(&p),
            "dry run, nothing written: list doj would get 2 added, 1 changed, 1 removed, 1 unchanged\n\
             \x20 added    d DDD444\n\
             \x20 changed  b BBB228 (plate, description)\n\
             \x20 removed  c CCC333\n"
        );
        assert!(!format!("{p:?}").contains("DDD444"), "Debug hides plates");
        let none = preview("doj", &planned(&after, &current), &current, 0);
        assert!(none.added.is_empty() && none.changed.is_empty() && none.removed.is_empty());
        assert_eq!(none.counts, p.counts);
    }
}
