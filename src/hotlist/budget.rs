//! The false-alarm budget each list keeps by itself: per state and plate
//! format, the widest tolerance whose expected false alarms fit.
//!
//! How many innocent reads a tolerance flags depends on how dense the list
//! is where the read lands, not on the list's size: a million plates spread
//! over fifty states' formats leave most formats sparse, while one state's
//! list of the same size fills its one format a hundred times as densely.
//! So at index build the matcher counts each list's entries per cell (the
//! entry's state and the letter/digit shape of its plate), takes the cell's
//! density (entries over the plates its shape can be, see
//! [`Shape::space`]), and estimates, per tolerance, how many innocent reads
//! in 10,000 would land within it of a listed plate ([`expected_rate`]).
//! Cells are widened greedily, cheapest false alarm per entry first, from
//! OCR equivalence (the floor every list gets) to end edits, then one
//! plausible confusion, then one edit of any kind, until the list's budget
//! is spent or the configured tolerance (now a ceiling) is reached.
//!
//! The estimate is conservative: it assumes every read the cell can be
//! confused with is estimated to be of the cell's state as often as the
//! list holds that state, and counts innocent reads that are themselves
//! misread (one in seven). Widening applies only where the read's state
//! estimate names the entry's state ([`super::index`]), so a cell's false
//! alarms come from that state's traffic alone.

use std::collections::HashMap;
use std::sync::Arc;

use super::evidence::ERRORS;
use super::formats::{formats_of, Shape, SERIAL_LETTERS, STATES};
use super::store::EntryKey;
use super::tolerance::{Tolerance, TolerancePolicy};
use crate::normalize::{Plate, Region};

/// Where an entry sits for the budget: its state and its plate's shape.
pub type Cell = (Option<Region>, Shape);

/// Entries per list and per cell, and the tolerance chosen for each cell.
#[derive(Debug, Clone, Default)]
pub struct Census {
    /// Current entries per list.
    pub lists: HashMap<String, usize>,
    /// By list, the tolerance chosen per cell at the last full build.
    pub chosen: Arc<HashMap<String, HashMap<Cell, Tolerance>>>,
}

impl Census {
    /// Counts `entries` and chooses each list's tolerances under `policy`.
    pub fn of<K: EntryKey>(entries: impl IntoIterator<Item = K>, policy: &TolerancePolicy) -> Census {
        let mut lists: HashMap<String, usize> = HashMap::new();
        let mut cells: HashMap<String, HashMap<Cell, Counted>> = HashMap::new();
        for entry in entries {
            let list_id = entry.list_id();
            match lists.get_mut(list_id) {
                Some(n) => *n += 1,
                None => {
                    lists.insert(list_id.to_owned(), 1);
                    cells.insert(list_id.to_owned(), HashMap::new());
                }
            }
            if let Some(plate) = entry.plate() {
                let cell = (entry.region(), Shape::of(plate.as_bytes()));
                let counted = cells
                    .get_mut(list_id)
                    .expect("inserted with the list")
                    .entry(cell)
                    .or_insert(Counted {
                        entries: 0,
                        ceiling: policy.ceiling(list_id, entry.category(), plate.len()),
                        floor: policy.floor(plate.len()),
                        budget: policy.budget(list_id, entry.category()),
                    });
                counted.entries += 1;
            }
        }
        let chosen = cells.into_iter().map(|(list, cells)| (list, choose(&cells))).collect();
        Census {
            lists,
            chosen: Arc::new(chosen),
        }
    }

    /// The tolerance chosen for an entry of `list` in `cell`, if the list
    /// had entries there at the last full build.
    pub fn chosen(&self, list: &str, cell: Cell) -> Option<Tolerance> {
        self.chosen.get(list)?.get(&cell).copied()
    }

    /// The tolerance of one entry: its cell's, chosen by the list's budget
    /// (a cell new since the last full build: as if every entry the list
    /// now has were in it, an upper bound until the next build counts it);
    /// without a budget, the configured one under the fixed caps.
    pub fn tolerance(&self, policy: &TolerancePolicy, entry: &impl EntryKey, plate: &Plate) -> Tolerance {
        let (list_id, category) = (entry.list_id(), entry.category());
        if let Some(budget) = policy.budget(list_id, category) {
            let cell = (entry.region(), Shape::of(plate.as_bytes()));
            return self.chosen(list_id, cell).unwrap_or_else(|| {
                let alone = Counted {
                    entries: self.lists.get(list_id).copied().unwrap_or(1).max(1),
                    ceiling: policy.ceiling(list_id, category, plate.len()),
                    floor: policy.floor(plate.len()),
                    budget: Some(budget),
                };
                choose(&HashMap::from([(cell, alone)]))[&cell]
            });
        }
        let size = self.lists.get(list_id).copied().unwrap_or(1);
        policy.capped(list_id, category, size, plate.len())
    }
}

/// One cell of a list: how many entries, and its tolerance's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    pub entries: usize,
    /// The widest tolerance configured for the list.
    pub ceiling: Tolerance,
    /// The narrowest, given without budget: OCR equivalence (exact for short plates).
    pub floor: Tolerance,
    /// Innocent reads flagged per 10,000 the list may add beyond the floor;
    /// `None`: no budget (the fixed caps of [`TolerancePolicy`] apply).
    pub budget: Option<f64>,
}

/// The widening ladder above the floor, narrowest first.
pub const LADDER: [Tolerance; 3] = [
    Tolerance::Ends,
    Tolerance::Fuzzy { max_cost: 0.5 },
    Tolerance::Fuzzy { max_cost: 1.0 },
];

/// Chooses each cell's tolerance for one list.
pub fn choose(cells: &HashMap<Cell, Counted>) -> HashMap<Cell, Tolerance> {
    let mut chosen: HashMap<Cell, Tolerance> = cells.iter().map(|(c, n)| (*c, n.floor)).collect();
    // A list mixing categories keeps the smallest of their budgets.
    let Some(budget) = cells.values().filter_map(|n| n.budget).min_by(f64::total_cmp) else {
        return HashMap::new();
    };
    let total: usize = cells.values().map(|n| n.entries).sum();
    let mut by_state: HashMap<Option<Region>, usize> = HashMap::new();
    for ((region, _), n) in cells {
        *by_state.entry(*region).or_insert(0) += n.entries;
    }
    // Every step up the ladder, with its added false alarms per read.
    let mut steps = Vec::new();
    for (cell, n) in cells {
        let traffic = match cell.0 {
            Some(region) => by_state[&Some(region)] as f64 / total as f64,
            None => 1.0,
        };
        let density = n.entries as f64 / cell.1.space();
        let mut below = 0.0;
        for (rung, tolerance) in LADDER.iter().enumerate() {
            if tolerance.rank() <= n.floor.rank() || tolerance.rank() > n.ceiling.rank() {
                continue;
            }
            let rate = traffic * density * expected_rate(cell.0, cell.1, *tolerance);
            steps.push((*cell, rung, rate - below, n.entries));
            below = rate;
        }
    }
    // Cheapest false alarm per entry first; a cell climbs one rung at a time.
    steps.sort_by(|a, b| {
        (a.2 / a.3 as f64)
            .total_cmp(&(b.2 / b.3 as f64))
            .then(a.1.cmp(&b.1))
            .then(a.0.cmp(&b.0))
    });
    let mut left = budget / 10_000.0;
    for (cell, rung, added, _) in steps {
        let current = chosen[&cell];
        let next_ok = rung == 0 || current == LADDER[rung - 1];
        if next_ok && current.rank() < LADDER[rung].rank() && added <= left {
            left -= added;
            chosen.insert(cell, LADDER[rung]);
        }
    }
    chosen
}

/// Letters or digits a position of `shape` can hold.
fn alphabet(shape: Shape, i: usize) -> f64 {
    if shape.is_letter(i) {
        SERIAL_LETTERS
    } else {
        10.0
    }
}

/// Expected plates of shape `shape` that an innocent read of `region`
/// (unknown: any state) lands within `tolerance` of, per unit of density:
/// times the cell's density, the false alarms per read.
pub fn expected_rate(region: Option<Region>, shape: Shape, tolerance: Tolerance) -> f64 {
    let e = &ERRORS;
    let err = 1.0 - e.clean;
    let len = usize::from(shape.len);
    let (first, last) = (alphabet(shape, 0), alphabet(shape, len.saturating_sub(1)));
    // A misread innocent plate of this shape, cut or added at an end, and
    // clean reads of the state's other formats one end character away.
    let ends = err * (e.end_cut * (first + last - 2.0) / 2.0 + e.end_added)
        + e.clean * end_neighbour_share(region, shape) * (first + last) / 2.0;
    match tolerance {
        Tolerance::Exact | Tolerance::OcrEquivalent => 0.0,
        Tolerance::Ends => ends,
        Tolerance::Fuzzy { max_cost } if max_cost < 1.0 => ends + 1.5 * len as f64,
        Tolerance::Fuzzy { .. } => {
            let substitutions: f64 = (0..len).map(|i| alphabet(shape, i) - 1.0).sum();
            ends + substitutions + 2.0 * len as f64
        }
    }
}

/// The share of a state's standard plates whose shape is `shape` with one
/// end character cut off (unknown state: the nation's, by registrations).
fn end_neighbour_share(region: Option<Region>, shape: Shape) -> f64 {
    let len = usize::from(shape.len);
    if len < 2 {
        return 0.0;
    }
    let cut_first = Shape {
        len: shape.len - 1,
        letters: shape.letters >> 1,
    };
    let cut_last = Shape {
        len: shape.len - 1,
        letters: shape.letters & ((1 << (len - 1)) - 1),
    };
    let share_of = |state: &super::formats::StateFormats| {
        let n = state.formats.len() as f64;
        state
            .formats
            .iter()
            .map(|f| Shape::of_format(f))
            .filter(|f| *f == cut_first || *f == cut_last)
            .count() as f64
            / n
    };
    match region.and_then(|r| formats_of(r.as_str())) {
        Some(state) => share_of(state),
        None => {
            let total: u32 = STATES.iter().map(|s| s.vehicles).sum();
            STATES
                .iter()
                .map(|s| f64::from(s.vehicles) / f64::from(total) * share_of(s))
                .sum()
        }
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
