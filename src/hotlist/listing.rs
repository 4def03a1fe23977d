//! The lists as an on-call engineer or the custodian sees them: `hotlist
//! lists` (id, owner, category, entries, last refresh, stale or not,
//! covert) and the entries `hotlist show` prints.
//!
//! Pure: built from the records and list records the hotlist topic holds
//! ([`crate::kafka::hotlist::records`]), with `now` and the stale age
//! passed in. Showing entries to a person is an access to ALPR hotlist
//! data: the command that prints them states a purpose and audits it; this
//! module only formats, and escapes everything typed by someone else.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::plan::{EntryRecord, ListMeta};
use crate::text::escaped;

/// One list, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    pub list_id: String,
    /// The organisation whose uploads replace the list (`-` when no
    /// upload has claimed it).
    pub owner: String,
    /// The category of its entries, `mixed` when they differ.
    pub category: String,
    /// Entries the topic holds for it now.
    pub entries: usize,
    pub refreshed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Not refreshed within `hotlist.max_age_hours`.
    pub stale: bool,
    pub covert: bool,
}

/// Every list the topic knows (by a list record or by an entry), by id.
pub fn rows(
    records: &BTreeMap<String, EntryRecord>,
    lists: &BTreeMap<String, ListMeta>,
    now: chrono::DateTime<chrono::Utc>,
    max_age: Duration,
) -> Vec<ListRow> {
    let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let mut found: BTreeMap<&str, (usize, BTreeSet<&str>)> =
        lists.keys().map(|id| (id.as_str(), Default::default())).collect();
    for record in records.values() {
        let (count, categories) = found.entry(record.list_id.as_str()).or_default();
        *count += 1;
        categories.insert(record.category.as_str());
    }
    found
        .into_iter()
        .map(|(id, (entries, categories))| {
            let meta = lists.get(id);
            let category = match categories.len() {
                0 => "-".to_owned(),
                1 => categories.into_iter().next().unwrap_or_default().to_owned(),
                _ => "mixed".to_owned(),
            };
            ListRow {
                list_id: id.to_owned(),
                owner: meta.map_or_else(|| "-".to_owned(), |m| m.organisation.clone()),
                category,
                entries,
                refreshed_at: meta.map(|m| m.refreshed_at),
                stale: !meta.is_some_and(|m| now - m.refreshed_at <= max_age),
                covert: meta.is_some_and(|m| m.covert),
            }
        })
        .collect()
}

/// Every list an instance knows from its list records (`lists`) and the
/// register (`(list, organisation, category)`), by id, without reading
/// the entries: the registered organisation and category win.
pub fn meta_rows<'a>(
    lists: &BTreeMap<String, ListMeta>,
    registered: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    now: chrono::DateTime<chrono::Utc>,
    max_age: Duration,
) -> Vec<ListRow> {
    let registered: BTreeMap<&str, (&str, &str)> = registered.map(|(l, o, c)| (l, (o, c))).collect();
    let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let ids: BTreeSet<&str> = lists
        .keys()
        .map(String::as_str)
        .chain(registered.keys().copied())
        .collect();
    ids.into_iter()
        .map(|id| {
            let meta = lists.get(id);
            let reg = registered.get(id);
            ListRow {
                list_id: id.to_owned(),
                owner: reg
                    .map(|(o, _)| (*o).to_owned())
                    .or_else(|| meta.map(|m| m.organisation.clone()))
                    .unwrap_or_else(|| "-".to_owned()),
                category: reg.map_or_else(|| "-".to_owned(), |(_, c)| (*c).to_owned()),
                entries: meta.map_or(0, |m| m.entries),
                refreshed_at: meta.map(|m| m.refreshed_at),
                stale: !meta.is_some_and(|m| now - m.refreshed_at <= max_age),
                covert: meta.is_some_and(|m| m.covert),
            }
        })
        .collect()
}

/// The rows as a table, one list a line.
pub fn render(rows: &[ListRow]) -> String {
    let mut out = format!(
        "{:<24} {:<20} {:<16} {:>9}  {:<25} {:<5} {}\n",
        "LIST", "OWNER", "CATEGORY", "ENTRIES", "REFRESHED", "STALE", "COVERT"
    );
    for r in rows {
        let refreshed = r.refreshed_at.map_or_else(
            || "never".to_owned(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        out.push_str(&format!(
            "{:<24} {:<20} {:<16} {:>9}  {:<25} {:<5} {}\n",
            escaped(&r.list_id),
            escaped(&r.owner),
            escaped(&r.category),
            r.entries,
            refreshed,
            if r.stale { "yes" } else { "no" },
            if r.covert { "yes" } else { "no" }
        ));
    }
    out
}

/// The entries of list `list`, by entry id; with `plate`, only those whose
/// plate (canonical, or pattern text) is that one.
pub fn entries_of<'a>(
    records: &'a BTreeMap<String, EntryRecord>,
    list: &str,
    plate: Option<&str>,
) -> Vec<&'a EntryRecord> {
    records
        .values()
        .filter(|r| r.list_id == list && (plate.is_none() || plate == Some(r.plate.as_str())))
        .collect()
}

/// One entry on one line, for a person who stated a purpose.
pub fn entry_line(r: &EntryRecord) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    };
    let line = format!(
        "{} {} region={} category={} priority={} effective={} expires={} {}",
        escaped(&r.entry_id),
        escaped(&r.plate),
        escaped(r.region.as_deref().unwrap_or("-")),
        escaped(&r.category),
        r.priority,
        time(r.effective_at),
        time(r.expires_at),
        escaped(&r.description)
    );
    line.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn record(list: &str, id: &str, plate: &str, category: &str) -> (String, EntryRecord) {
        let r = EntryRecord {
            entry_id: id.into(),
            list_id: list.into(),
            plate: plate.into(),
            region: None,
            category: category.into(),
            priority: 5,
            description: String::new(),
            expires_at: None,
            effective_at: None,
            details: Default::default(),
        };
        (r.key(), r)
    }

    fn meta(list: &str, owner: &str, refreshed: &str, covert: bool) -> (String, ListMeta) {
        let m = ListMeta {
            list_id: list.into(),
            organisation: owner.into(),
            refreshed_at: at(refreshed),
            entries: 0,
            covert,
        };
        (list.into(), m)
    }

    #[test]
    fn three_lists_of_different_owners_and_ages() {
        let records = BTreeMap::from([
            record("amber", "a1", "4GET1T", "amber"),
            record("doj", "d1", "ABC123", "stolen_vehicle"),
            record("doj", "d2", "ABC124", "stolen_plate"),
            record("rso", "r1", "7XYZ999", "bolo"),
            record("loose", "l1", "LOOSE1", "bolo"),
        ]);
        let lists = BTreeMap::from([
            meta("amber", "CHP", "2026-12-06T11:00:00Z", false),
            meta("doj", "CA DOJ", "2026-12-04T12:00:00Z", false),
            meta("rso", "RSO", "2026-12-06T00:00:00Z", true),
        ]);
        let rows = rows(
            &records,
            &lists,
            at("2026-12-06T12:00:00Z"),
            Duration::from_secs(24 * 3600),
        );
        let brief: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.list_id.as_str(),
                    r.owner.as_str(),
                    r.category.as_str(),
                    r.entries,
                    r.stale,
                    r.covert,
                )
            })
            .collect();
        assert_eq!(
            brief,
            [
                ("amber", "CHP", "amber", 1, false, false),
                ("doj", "CA DOJ", "mixed", 2, true, false),
                ("loose", "-", "bolo", 1, true, false),
                ("rso", "RSO", "bolo", 1, false, true),
            ]
        );
        let table = render(&rows);
        assert_eq!(
            table.lines().nth(2).unwrap(),
            "doj                      CA DOJ               mixed                    2  2026-12-04T12:00:00Z      yes   no"
        );
        assert_eq!(
            entries_of(&records, "doj", Some("ABC124"))
                .iter()
                .map(|r| r.entry_id.as_str())
                .collect::<Vec<_>>(),
            ["d2"]
        );
        assert_eq!(entries_of(&records, "doj", None).len(), 2);
    }

    #[test]
    fn hostile_text_prints_escaped_on_one_line() {
        let (_, mut r) = record("doj", "d1", "ABC123", "bolo");
        r.description = "line\n\u{1b}[2Kforged".into();
        let line = entry_line(&r);
        assert!(!line.contains(['\n', '\u{1b}']), "{line}");
        assert_eq!(
            line,
            "d1 ABC123 region=- category=bolo priority=5 effective=- expires=- line\\u{a}\\u{1b}[2Kforged"
        );
    }
}
