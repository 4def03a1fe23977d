//! The budget chooser on lists built to sit exactly at a budget's edge.

use super::*;
use crate::hotlist::Category;
use crate::hotlist::HotlistEntry;
use crate::normalize::{normalize, normalize_region};

const FUZZY: Tolerance = Tolerance::Fuzzy { max_cost: 1.0 };
const PLAUSIBLE: Tolerance = Tolerance::Fuzzy { max_cost: 0.5 };

fn cell(state: &str, shape: &str) -> Cell {
    (Some(normalize_region(state).unwrap()), Shape::of_format(shape))
}

fn counted(entries: usize, budget: f64) -> Counted {
    Counted {
        entries,
        ceiling: FUZZY,
        floor: Tolerance::OcrEquivalent,
        budget: Some(budget),
    }
}

/// The false alarms per 10,000 reads a lone cell of `entries` costs at `tolerance`.
fn cost(c: Cell, entries: usize, tolerance: Tolerance) -> f64 {
    entries as f64 / c.1.space() * expected_rate(c.0, c.1, tolerance) * 10_000.0
}

/// The most entries a lone cell may hold and still afford `tolerance`.
fn edge(c: Cell, tolerance: Tolerance, budget: f64) -> usize {
    let per_entry = cost(c, 1, tolerance);
    let mut n = (budget / per_entry) as usize;
    while cost(c, n + 1, tolerance) <= budget {
        n += 1;
    }
    while cost(c, n, tolerance) > budget {
        n -= 1;
    }
    n
}

fn chosen_for(c: Cell, entries: usize, budget: f64) -> Tolerance {
    choose(&HashMap::from([(c, counted(entries, budget))]))[&c]
}

#[test]
fn a_cell_at_the_edge_of_its_budget_gets_the_tolerance_one_entry_more_loses_it() {
    let texas = cell("TX", "LLLDDDD");
    for (tolerance, below) in [(FUZZY, PLAUSIBLE), (PLAUSIBLE, Tolerance::Ends)] {
        let n = edge(texas, tolerance, 2.0);
        assert!(n > 10, "{n}");
        assert_eq!(chosen_for(texas, n, 2.0), tolerance, "{n} entries fit {tolerance:?}");
        assert_eq!(chosen_for(texas, n + 1, 2.0), below, "{} entries do not", n + 1);
    }
    let n = edge(texas, Tolerance::Ends, 2.0);
    assert_eq!(chosen_for(texas, n, 2.0), Tolerance::Ends);
    assert_eq!(chosen_for(texas, n + 1, 2.0), Tolerance::OcrEquivalent, "the floor");
}

#[test]
fn the_budget_goes_to_the_cheapest_entries_first_and_is_never_exceeded() {
    // A sparse Texas cell and a dense California one, each alone within
    // the budget for end edits, together not: the cheaper per entry wins.
    let (texas, california) = (cell("TX", "LLLDDDD"), cell("CA", "DLLLDDD"));
    let ends_tx = edge(texas, Tolerance::Ends, 2.0);
    let cells = HashMap::from([(texas, counted(ends_tx / 2, 2.0)), (california, counted(ends_tx, 2.0))]);
    let chosen = choose(&cells);
    assert_eq!(chosen[&texas], Tolerance::Ends);
    // Whatever is chosen, the expected false alarms stay within the budget.
    let total = ends_tx / 2 + ends_tx;
    let spent: f64 = chosen
        .iter()
        .map(|(c, t)| {
            let n = cells[c].entries;
            let traffic = n as f64 / total as f64;
            if t.rank() > Tolerance::OcrEquivalent.rank() {
                traffic * cost(*c, n, *t)
            } else {
                0.0
            }
        })
        .sum();
    assert!(spent <= 2.0, "{spent}");
}

#[test]
fn the_ceiling_and_the_floor_bound_the_choice() {
    let texas = cell("TX", "LLLDDDD");
    let mut small = counted(3, 2.0);
    assert_eq!(choose(&HashMap::from([(texas, small)]))[&texas], FUZZY);
    small.ceiling = Tolerance::Ends;
    assert_eq!(choose(&HashMap::from([(texas, small)]))[&texas], Tolerance::Ends);
    small.ceiling = Tolerance::Exact;
    small.floor = Tolerance::Exact;
    assert_eq!(choose(&HashMap::from([(texas, small)]))[&texas], Tolerance::Exact);
    // No budget: nothing is chosen, the fixed caps apply.
    small.budget = None;
    assert!(choose(&HashMap::from([(texas, small)])).is_empty());
}

#[test]
fn a_census_chooses_per_list_and_cell_and_new_cells_as_if_alone() {
    let entry = |list: &str, id: usize, plate: &str, state: &str| {
        Arc::new(HotlistEntry {
            entry_id: format!("e{id}"),
            list_id: list.into(),
            plate: normalize(plate).unwrap().into(),
            region: normalize_region(state).ok(),
            category: Category::StolenVehicle,
            priority: 1,
            description: String::new(),
            expires_at: None,
            effective_at: None,
            details: Default::default(),
        })
    };
    let entries = vec![entry("ncic", 1, "ABC1234", "TX"), entry("ncic", 2, "7ABC123", "CA")];
    let policy = TolerancePolicy::default();
    let census = Census::of(&entries, &policy);
    assert_eq!(census.lists["ncic"], 2);
    let plate = normalize("ABC1234").unwrap();
    assert_eq!(
        census.tolerance(&policy, &entries[0], &plate),
        FUZZY,
        "two entries cost nothing"
    );
    // A cell the last build did not see is chosen for as if the whole list
    // were in it (two entries here: still cheap).
    let elsewhere = entry("ncic", 3, "ABC123", "OK");
    let short = normalize("ABC123").unwrap();
    assert_eq!(census.tolerance(&policy, &elsewhere, &short), FUZZY);
    assert_eq!(census.chosen("ncic", (elsewhere.region, Shape::of(b"ABC123"))), None);
    let mut strict = policy.clone();
    strict.budget_by_list.insert("ncic".into(), 0.0);
    assert_eq!(
        census.tolerance(&strict, &elsewhere, &short),
        Tolerance::OcrEquivalent,
        "a budget of 0 keeps the floor"
    );
}
