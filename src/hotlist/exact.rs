//! The exact matcher: a hash lookup of the canonical plate.
//!
//! It finds an entry only when the read's canonical plate is the entry's, and
//! the regions agree (equal, or either unknown). It is the floor the fuzzy
//! engine is measured against, and the safe choice for very large lists.

use std::collections::HashMap;
use std::sync::Arc;

use super::{regions_agree, Hit, HotlistEntry, MatchKind, Matcher, Query};
use crate::normalize::Plate;

/// An immutable map from canonical plate to the entries listing it.
#[derive(Debug, Default)]
pub struct ExactMatcher {
    by_plate: HashMap<Plate, Vec<Arc<HotlistEntry>>>,
    len: usize,
}

impl ExactMatcher {
    /// Indexes the entries; entries sharing a plate are kept most urgent first.
    pub fn new(entries: impl IntoIterator<Item = Arc<HotlistEntry>>) -> Self {
        let mut by_plate: HashMap<Plate, Vec<Arc<HotlistEntry>>> = HashMap::new();
        let mut len = 0;
        for entry in entries {
            by_plate.entry(entry.plate).or_default().push(entry);
            len += 1;
        }
        for list in by_plate.values_mut() {
            list.sort_by(|a, b| {
                a.priority
                    .cmp(&b.priority)
                    .then_with(|| a.entry_id.cmp(&b.entry_id))
            });
        }
        ExactMatcher { by_plate, len }
    }
}

impl Matcher for ExactMatcher {
    fn find(&self, query: &Query, hits: &mut Vec<Hit>) {
        let Some(entries) = self.by_plate.get(&query.plate) else {
            return;
        };
        for entry in entries {
            if regions_agree(entry.region, query.region) {
                hits.push(Hit {
                    entry: Arc::clone(entry),
                    kind: MatchKind::Exact,
                    score: 1.0,
                });
            }
        }
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hotlist::Category;
    use crate::normalize::{normalize, normalize_region};

    fn entry(id: &str, plate: &str, region: Option<&str>, priority: u8) -> Arc<HotlistEntry> {
        Arc::new(HotlistEntry {
            entry_id: id.into(),
            list_id: "l".into(),
            plate: normalize(plate).unwrap(),
            region: region.map(|r| normalize_region(r).unwrap()),
            category: Category::StolenVehicle,
            priority,
            description: String::new(),
        })
    }

    fn ids(matcher: &ExactMatcher, plate: &str, region: Option<&str>) -> Vec<String> {
        let query = Query {
            plate: normalize(plate).unwrap(),
            region: region.map(|r| normalize_region(r).unwrap()),
        };
        let mut hits = Vec::new();
        matcher.find(&query, &mut hits);
        hits.iter().map(|h| h.entry.entry_id.clone()).collect()
    }

    #[test]
    fn exact_plate_and_agreeing_region_match_most_urgent_first() {
        let matcher = ExactMatcher::new([
            entry("low", "7ABC123", Some("CA"), 5),
            entry("urgent", "7ABC123", None, 0),
            entry("nevada", "7ABC123", Some("NV"), 1),
            entry("other", "7ABC124", Some("CA"), 0),
        ]);
        assert_eq!(matcher.len(), 4);
        assert_eq!(ids(&matcher, "7abc 123", Some("CA")), ["urgent", "low"]);
        assert_eq!(ids(&matcher, "7ABC123", Some("NV")), ["urgent", "nevada"]);
        assert_eq!(ids(&matcher, "7ABC123", None), ["urgent", "nevada", "low"]);
        assert_eq!(ids(&matcher, "7ABC12", Some("CA")), Vec::<String>::new());
        assert_eq!(ids(&matcher, "7A8C123", Some("CA")), Vec::<String>::new());
    }
}
