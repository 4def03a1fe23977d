//! How much OCR error each list tolerates: the lever between a missed
//! stolen car and a false stop.
//!
//! Fuzzy matching recovers misreads, but its false alarms grow with the list:
//! against a million plates, one unrestricted edit matches more than half of
//! all innocent plates (see docs/BENCHMARKS.md). So tolerance is set per list
//! and per category, capped by the list's size and the plate's length:
//! large state and NCIC lists match OCR-equivalently only; small urgent lists
//! (AMBER, officer-entered) match fuzzily. [`TolerancePolicy::resolve`] gives
//! each entry its tolerance once, when the index is built.

use std::collections::HashMap;

use super::Category;

/// How far a read may be from an entry and still hit it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// The canonical plates are identical.
    Exact,
    /// Equal once OCR-equivalent characters ({0,O,D,Q}, {1,I}, {2,Z}, {5,S},
    /// {8,B}, {6,G}) are treated as one.
    OcrEquivalent,
    /// OCR-equivalent plus one substitution, dropped or extra character or
    /// transposition of weighted cost at most `max_cost` (a plausible OCR
    /// confusion costs 0.5, anything else 1).
    Fuzzy { max_cost: f32 },
}

impl Tolerance {
    /// Rank for capping: Exact < OcrEquivalent < Fuzzy.
    fn rank(self) -> u8 {
        match self {
            Tolerance::Exact => 0,
            Tolerance::OcrEquivalent => 1,
            Tolerance::Fuzzy { .. } => 2,
        }
    }

    /// The looser of `self` and `cap` is lowered to `cap`.
    pub fn at_most(self, cap: Tolerance) -> Tolerance {
        if self.rank() > cap.rank() {
            cap
        } else {
            self
        }
    }

    /// Parses `exact`, `ocr`, or `fuzzy:<max cost>` (e.g. `fuzzy:1.0`).
    pub fn parse(text: &str) -> Option<Tolerance> {
        match text.trim() {
            "exact" => Some(Tolerance::Exact),
            "ocr" | "ocr_equivalent" => Some(Tolerance::OcrEquivalent),
            other => {
                let cost: f32 = other.strip_prefix("fuzzy:")?.parse().ok()?;
                (0.5..=1.0)
                    .contains(&cost)
                    .then_some(Tolerance::Fuzzy { max_cost: cost })
            }
        }
    }
}

/// What to do when a read's state differs from the entry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionRule {
    /// No hit.
    Reject,
    /// A hit at half the score, flagged, so dispatch can judge.
    Penalize,
}

/// The settings that decide each entry's tolerance.
#[derive(Debug, Clone)]
pub struct TolerancePolicy {
    /// By category, when the list has no setting of its own.
    pub by_category: HashMap<Category, Tolerance>,
    /// By list id; overrides the category.
    pub by_list: HashMap<String, Tolerance>,
    /// Lists larger than this match at most OCR-equivalently.
    pub fuzzy_max_list_entries: usize,
    /// Plates shorter than this match at most OCR-equivalently.
    pub fuzzy_min_plate_len: usize,
    /// Plates shorter than this match only exactly.
    pub ocr_min_plate_len: usize,
    pub region: RegionRule,
}

impl Default for TolerancePolicy {
    /// The measured defaults (docs/BENCHMARKS.md): fuzzy for small urgent
    /// lists, OCR-equivalent for the big stolen-vehicle and plate lists.
    fn default() -> Self {
        let fuzzy = Tolerance::Fuzzy { max_cost: 1.0 };
        let by_category = HashMap::from([
            (Category::StolenVehicle, Tolerance::OcrEquivalent),
            (Category::StolenPlate, Tolerance::OcrEquivalent),
            (Category::FelonyVehicle, fuzzy),
            (Category::Amber, fuzzy),
            (Category::WantedPerson, fuzzy),
            (Category::Bolo, fuzzy),
            (Category::OfficerEntered, fuzzy),
            (Category::Other, Tolerance::OcrEquivalent),
        ]);
        TolerancePolicy {
            by_category,
            by_list: HashMap::new(),
            fuzzy_max_list_entries: 500,
            fuzzy_min_plate_len: 5,
            ocr_min_plate_len: 5,
            region: RegionRule::Penalize,
        }
    }
}

impl TolerancePolicy {
    /// The tolerance of one entry of a list of `list_entries` entries.
    pub fn resolve(&self, list_id: &str, category: Category, list_entries: usize, plate_len: usize) -> Tolerance {
        let mut tolerance = self
            .by_list
            .get(list_id)
            .or_else(|| self.by_category.get(&category))
            .copied()
            .unwrap_or(Tolerance::OcrEquivalent);
        if list_entries > self.fuzzy_max_list_entries || plate_len < self.fuzzy_min_plate_len {
            tolerance = tolerance.at_most(Tolerance::OcrEquivalent);
        }
        if plate_len < self.ocr_min_plate_len {
            tolerance = tolerance.at_most(Tolerance::Exact);
        }
        tolerance
    }

    /// Every entry is matched with the same tolerance (benchmarks, tests).
    pub fn uniform(tolerance: Tolerance) -> TolerancePolicy {
        TolerancePolicy {
            by_category: Category::ALL.iter().map(|c| (*c, tolerance)).collect(),
            by_list: HashMap::new(),
            fuzzy_max_list_entries: usize::MAX,
            fuzzy_min_plate_len: 0,
            ocr_min_plate_len: 0,
            region: RegionRule::Reject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUZZY: Tolerance = Tolerance::Fuzzy { max_cost: 1.0 };

    #[test]
    fn defaults_are_fuzzy_for_small_urgent_lists_only() {
        let p = TolerancePolicy::default();
        assert_eq!(p.resolve("amber", Category::Amber, 12, 7), FUZZY);
        assert_eq!(
            p.resolve("ncic", Category::StolenVehicle, 12, 7),
            Tolerance::OcrEquivalent
        );
        assert_eq!(
            p.resolve("big-bolo", Category::Bolo, 5_000, 7),
            Tolerance::OcrEquivalent
        );
        assert_eq!(p.resolve("amber", Category::Amber, 12, 5), FUZZY);
        assert_eq!(p.resolve("amber", Category::Amber, 12, 4), Tolerance::Exact);
        assert_eq!(p.resolve("ncic", Category::StolenVehicle, 12, 4), Tolerance::Exact);
    }

    #[test]
    fn a_list_setting_overrides_its_category() {
        let mut p = TolerancePolicy::default();
        p.by_list.insert("rso-hot".into(), FUZZY);
        p.by_list.insert("amber".into(), Tolerance::Exact);
        assert_eq!(p.resolve("rso-hot", Category::StolenVehicle, 100, 7), FUZZY);
        assert_eq!(p.resolve("amber", Category::Amber, 1, 7), Tolerance::Exact);
    }

    #[test]
    fn tolerances_parse_from_config_text() {
        assert_eq!(Tolerance::parse("exact"), Some(Tolerance::Exact));
        assert_eq!(Tolerance::parse("ocr"), Some(Tolerance::OcrEquivalent));
        assert_eq!(Tolerance::parse("fuzzy:0.5"), Some(Tolerance::Fuzzy { max_cost: 0.5 }));
        for bad in ["", "fuzzy", "fuzzy:2", "fuzzy:0.1", "loose"] {
            assert_eq!(Tolerance::parse(bad), None, "{bad}");
        }
    }
}
