//! How much OCR error each list tolerates: the lever between a missed
//! stolen car and a false stop.
//!
//! Fuzzy matching recovers misreads, but its false alarms grow with the
//! list's density: against a million plates, one unrestricted edit matches
//! more than half of all innocent plates (see docs/BENCHMARKS.md). So each
//! list has a false-alarm budget (innocent reads flagged per 10,000, by list
//! or category), and the matcher chooses per state and plate shape the
//! widest tolerance that keeps it ([`super::budget`]); the configured
//! tolerance is the ceiling. Without a budget, the fixed caps apply: lists
//! larger than `fuzzy_max_list_entries` match at most OCR-equivalently.
//! [`super::budget::Census::tolerance`] gives each entry its tolerance once,
//! when the index is built.

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
    /// OCR-equivalent, or with one character cut off or added at either
    /// end (a plate's edge, a bolt or a frame read as a character).
    Ends,
    /// OCR-equivalent plus one substitution, dropped or extra character or
    /// transposition of weighted cost at most `max_cost` (a plausible OCR
    /// confusion costs 0.5, anything else 1); end edits at any cost.
    Fuzzy { max_cost: f32 },
}

impl Tolerance {
    /// Rank for capping: Exact < OcrEquivalent < Ends < fuzzy:0.5 < fuzzy:1.0.
    pub fn rank(self) -> u8 {
        match self {
            Tolerance::Exact => 0,
            Tolerance::OcrEquivalent => 1,
            Tolerance::Ends => 2,
            Tolerance::Fuzzy { max_cost } if max_cost < 1.0 => 3,
            Tolerance::Fuzzy { .. } => 4,
        }
    }

    /// The snake_case name used in reports and config: `exact`, `ocr`,
    /// `ends`, `fuzzy:<cost>`.
    pub fn name(self) -> String {
        match self {
            Tolerance::Exact => "exact".into(),
            Tolerance::OcrEquivalent => "ocr".into(),
            Tolerance::Ends => "ends".into(),
            Tolerance::Fuzzy { max_cost } => format!("fuzzy:{max_cost:.1}"),
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

    /// Parses `exact`, `ocr`, `ends` or `fuzzy:<max cost>` (e.g. `fuzzy:1.0`).
    pub fn parse(text: &str) -> Option<Tolerance> {
        match text.trim() {
            "exact" => Some(Tolerance::Exact),
            "ocr" | "ocr_equivalent" => Some(Tolerance::OcrEquivalent),
            "ends" => Some(Tolerance::Ends),
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
    /// False-alarm budget (innocent reads flagged per 10,000) by category;
    /// a category without one gets the fixed caps below.
    pub budget_by_category: HashMap<Category, f64>,
    /// Budget by list id; overrides the category.
    pub budget_by_list: HashMap<String, f64>,
    /// A hit at or above this probability is a hit; below, a possible match.
    pub hit_probability: f32,
    /// Without a budget: lists larger than this match at most OCR-equivalently.
    pub fuzzy_max_list_entries: usize,
    /// Plates shorter than this match at most OCR-equivalently.
    pub fuzzy_min_plate_len: usize,
    /// Plates shorter than this match only exactly.
    pub ocr_min_plate_len: usize,
    pub region: RegionRule,
}

impl Default for TolerancePolicy {
    /// The measured defaults (docs/BENCHMARKS.md): every list may go up to
    /// one edit, as far as its budget allows: 2 innocent reads flagged per
    /// 10,000 for stolen vehicles and plates, 10 for the urgent lists.
    fn default() -> Self {
        let fuzzy = Tolerance::Fuzzy { max_cost: 1.0 };
        let by_category = Category::ALL.iter().map(|c| (*c, fuzzy)).collect();
        let budget_by_category = Category::ALL
            .iter()
            .map(|c| {
                let stolen = matches!(c, Category::StolenVehicle | Category::StolenPlate | Category::Other);
                (*c, if stolen { 2.0 } else { 10.0 })
            })
            .collect();
        TolerancePolicy {
            by_category,
            by_list: HashMap::new(),
            budget_by_category,
            budget_by_list: HashMap::new(),
            hit_probability: 0.5,
            fuzzy_max_list_entries: 500,
            fuzzy_min_plate_len: 5,
            ocr_min_plate_len: 5,
            region: RegionRule::Penalize,
        }
    }
}

impl TolerancePolicy {
    /// The tolerance without a budget: the configured one, capped by the
    /// list's size and the plate's length.
    pub fn capped(&self, list_id: &str, category: Category, list_entries: usize, plate_len: usize) -> Tolerance {
        let mut tolerance = self.ceiling(list_id, category, plate_len);
        if list_entries > self.fuzzy_max_list_entries {
            tolerance = tolerance.at_most(Tolerance::OcrEquivalent);
        }
        tolerance
    }

    /// The widest tolerance a list may have: the configured one, capped by
    /// the plate's length.
    pub fn ceiling(&self, list_id: &str, category: Category, plate_len: usize) -> Tolerance {
        let tolerance = self
            .by_list
            .get(list_id)
            .or_else(|| self.by_category.get(&category))
            .copied()
            .unwrap_or(Tolerance::OcrEquivalent);
        let cap = if plate_len < self.ocr_min_plate_len {
            Tolerance::Exact
        } else if plate_len < self.fuzzy_min_plate_len {
            Tolerance::OcrEquivalent
        } else {
            Tolerance::Fuzzy { max_cost: 1.0 }
        };
        tolerance.at_most(cap)
    }

    /// What every entry gets whatever its budget: OCR equivalence, or exact
    /// for plates shorter than `ocr_min_plate_len`.
    pub fn floor(&self, plate_len: usize) -> Tolerance {
        if plate_len < self.ocr_min_plate_len {
            Tolerance::Exact
        } else {
            Tolerance::OcrEquivalent
        }
    }

    /// The list's false-alarm budget, if it has one.
    pub fn budget(&self, list_id: &str, category: Category) -> Option<f64> {
        self.budget_by_list
            .get(list_id)
            .or_else(|| self.budget_by_category.get(&category))
            .copied()
    }

    /// Every entry is matched with the same tolerance (benchmarks, tests).
    pub fn uniform(tolerance: Tolerance) -> TolerancePolicy {
        TolerancePolicy {
            by_category: Category::ALL.iter().map(|c| (*c, tolerance)).collect(),
            by_list: HashMap::new(),
            budget_by_category: HashMap::new(),
            budget_by_list: HashMap::new(),
            hit_probability: 0.5,
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

    /// The defaults before budgets: OCR for stolen lists, fuzzy for urgent ones.
    fn without_budgets() -> TolerancePolicy {
        let mut p = TolerancePolicy::default();
        p.budget_by_category.clear();
        p.by_category.insert(Category::StolenVehicle, Tolerance::OcrEquivalent);
        p
    }

    #[test]
    fn without_a_budget_big_lists_and_short_plates_are_capped() {
        let p = without_budgets();
        assert_eq!(p.budget("amber", Category::Amber), None);
        assert_eq!(p.capped("amber", Category::Amber, 12, 7), FUZZY);
        assert_eq!(
            p.capped("ncic", Category::StolenVehicle, 12, 7),
            Tolerance::OcrEquivalent
        );
        assert_eq!(p.capped("big-bolo", Category::Bolo, 5_000, 7), Tolerance::OcrEquivalent);
        assert_eq!(p.capped("amber", Category::Amber, 12, 5), FUZZY);
        assert_eq!(p.capped("amber", Category::Amber, 12, 4), Tolerance::Exact);
        assert_eq!(p.capped("ncic", Category::StolenVehicle, 12, 4), Tolerance::Exact);
    }

    #[test]
    fn budgets_default_to_two_for_stolen_lists_and_a_list_overrides_its_category() {
        let mut p = TolerancePolicy::default();
        assert_eq!(p.budget("ncic", Category::StolenVehicle), Some(2.0));
        assert_eq!(p.budget("amber", Category::Amber), Some(10.0));
        p.budget_by_list.insert("ncic".into(), 0.5);
        assert_eq!(p.budget("ncic", Category::StolenVehicle), Some(0.5));
        assert_eq!(p.floor(7), Tolerance::OcrEquivalent);
        assert_eq!(p.floor(4), Tolerance::Exact);
        assert_eq!(p.ceiling("ncic", Category::StolenVehicle, 7), FUZZY);
        assert_eq!(p.ceiling("ncic", Category::StolenVehicle, 4), Tolerance::Exact);
    }

    #[test]
    fn a_list_setting_overrides_its_category() {
        let mut p = without_budgets();
        p.by_list.insert("rso-hot".into(), FUZZY);
        p.by_list.insert("amber".into(), Tolerance::Exact);
        assert_eq!(p.capped("rso-hot", Category::StolenVehicle, 100, 7), FUZZY);
        assert_eq!(p.capped("amber", Category::Amber, 1, 7), Tolerance::Exact);
    }

    #[test]
    fn tolerances_parse_from_config_text_and_rank_in_order() {
        assert_eq!(Tolerance::parse("exact"), Some(Tolerance::Exact));
        assert_eq!(Tolerance::parse("ocr"), Some(Tolerance::OcrEquivalent));
        assert_eq!(Tolerance::parse("ends"), Some(Tolerance::Ends));
        assert_eq!(Tolerance::parse("fuzzy:0.5"), Some(Tolerance::Fuzzy { max_cost: 0.5 }));
        for bad in ["", "fuzzy", "fuzzy:2", "fuzzy:0.1", "loose"] {
            assert_eq!(Tolerance::parse(bad), None, "{bad}");
        }
        let ranks: Vec<u8> = ["exact", "ocr", "ends", "fuzzy:0.5", "fuzzy:1.0"]
            .iter()
            .map(|t| Tolerance::parse(t).unwrap().rank())
            .collect();
        assert_eq!(ranks, [0, 1, 2, 3, 4]);
        assert_eq!(Tolerance::Ends.name(), "ends");
        assert_eq!(FUZZY.name(), "fuzzy:1.0");
    }
}
