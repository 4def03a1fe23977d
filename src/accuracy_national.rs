//! The realistic accuracy harness (`bench accuracy --mix national` or
//! `--mix california`): lists and traffic drawn from every state's plate
//! formats ([`crate::hotlist::formats`]), entries carrying their state,
//! reads carrying an OCR state estimate that is wrong at a set rate, and
//! innocent traffic in the same formats as the list, which is what makes a
//! dense list flag innocent drivers.
//!
//! A national list mixes the states by registered vehicles (an NCIC-like
//! stolen-vehicle file); a California list is one state's, with traffic
//! that is nine tenths Californian. One plate in twenty is a vanity plate
//! of any shape. Per list size and tolerance it reports recall per kind of
//! misread (end truncation and extension among them) and false alarms per
//! 10,000 innocent reads, with states on entries and reads and, for the
//! defaults, without them and with another state rejected instead of
//! flagged, and for the defaults at other budgets (recall as a function of
//! the budget). False alarms count innocent reads flagged as hits; an
//! innocent read flagged only as a possible match (another state, or a
//! probability below `matching.hit_probability`) counts apart.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use super::{settings, Noise, Row};
use crate::hotlist::formats::{StateFormats, STATES, VANITY_MAX};
use crate::hotlist::{Category, HotlistEntry, LiveMatcher, Matcher, Query, RegionRule, Tier, TolerancePolicy};
use crate::normalize::{normalize, normalize_region, Plate, Region};
use crate::sample::Rng;

/// Whose plates make the list and the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Every state, by registered vehicles.
    National,
    /// California's list; traffic nine tenths Californian.
    California,
}

/// The share of each kind of misread in real OCR output, in the order of
/// [`Noise::ALL`] (clean reads excluded): in a held-out set of a commercial
/// engine's reads of US plates, about a third of the errors were a
/// character cut or added at an end, a quarter OCR look-alikes, the rest
/// other substitutions, inner drops and additions, swaps (and vanity
/// plates, not modelled).
pub const REAL_MIX: [f64; 9] = [
    0.0,
    0.25,
    1.0 / 12.0,
    1.0 / 12.0,
    1.0 / 12.0,
    1.0 / 12.0,
    1.0 / 12.0,
    1.0 / 6.0,
    1.0 / 6.0,
];

/// Percent of plates that are vanity plates.
const VANITY_PERCENT: u32 = 5;
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";

/// A state by registered vehicles.
pub fn national_state(rng: &mut Rng) -> &'static StateFormats {
    let total: u32 = STATES.iter().map(|s| s.vehicles).sum();
    let mut at = rng.below(total as usize) as u32;
    for state in &STATES {
        if at < state.vehicles {
            return state;
        }
        at -= state.vehicles;
    }
    &STATES[0]
}

/// A plate of `state`: a standard serial, or one time in twenty a vanity plate.
pub fn state_plate(rng: &mut Rng, state: &StateFormats) -> String {
    if rng.chance(VANITY_PERCENT) {
        let len = 2 + rng.below(VANITY_MAX - 1);
        let all: Vec<u8> = LETTERS.iter().chain(DIGITS).copied().collect();
        return (0..len).map(|_| *rng.pick(&all) as char).collect();
    }
    let format = rng.pick(state.formats);
    format
        .bytes()
        .map(|f| *rng.pick(if f == b'L' { LETTERS } else { DIGITS }) as char)
        .collect()
}

fn state_of(rng: &mut Rng, mix: Mix) -> &'static StateFormats {
    match mix {
        Mix::California if rng.chance(90) => crate::hotlist::formats::formats_of("CA").expect("CA"),
        Mix::California | Mix::National => national_state(rng),
    }
}

/// The OCR engine's state estimate: right, or another state at `wrong_percent`.
fn estimate(rng: &mut Rng, state: &StateFormats, wrong_percent: u32) -> Option<Region> {
    let code = match rng.chance(wrong_percent) {
        true => std::iter::repeat_with(|| national_state(rng).state)
            .find(|s| *s != state.state)
            .expect("another state"),
        false => state.state,
    };
    normalize_region(code).ok()
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub mix: Mix,
    pub sizes: Vec<usize>,
    pub reads_per_noise: usize,
    pub innocent_reads: usize,
    /// Percent of reads whose state estimate is another state.
    pub wrong_state_percent: u32,
    pub seed: u64,
}

/// A read: its plate, its state estimate, and the index of the entry it is
/// of (innocent reads: none).
type Read = (Plate, Option<Region>, usize);

/// Runs every tolerance on every size and writes the table to `out`.
pub fn run(options: &Options, out: &mut impl Write) -> std::io::Result<Vec<Row>> {
    let header: String = Noise::ALL.iter().map(|n| format!("{:>10}", n.name())).collect();
    writeln!(
        out,
        "{:?} list, state estimate wrong for {}% of reads\n{:>9} {:<16} {header}  false alarms/10k",
        options.mix, options.wrong_state_percent, "entries", "tolerance"
    )?;
    let mut rows = Vec::new();
    for &size in &options.sizes {
        let mut rng = Rng::new(options.seed);
        let entries = list(&mut rng, options.mix, size);
        let listed: HashSet<String> = entries.iter().map(|e| e.plate.to_string()).collect();
        let reads = noisy_reads(&mut rng, &entries, options);
        let innocents: Vec<Read> = std::iter::repeat_with(|| {
            let state = state_of(&mut rng, options.mix);
            (
                state_plate(&mut rng, state),
                estimate(&mut rng, state, options.wrong_state_percent),
            )
        })
        .filter(|(plate, _)| !listed.contains(plate))
        .filter_map(|(plate, region)| Some((normalize(&plate).ok()?, region, usize::MAX)))
        .take(options.innocent_reads)
        .collect();
        for (setting, policy) in settings() {
            let row = measure(&entries, policy.clone(), size, setting.clone(), (&reads, &innocents));
            super::print_row(out, &row)?;
            rows.push(row);
            if setting == "defaults" {
                let rejecting = TolerancePolicy {
                    region: RegionRule::Reject,
                    ..policy.clone()
                };
                let row = measure(
                    &entries,
                    rejecting,
                    size,
                    "defaults, other state rejected".into(),
                    (&reads, &innocents),
                );
                super::print_row(out, &row)?;
                rows.push(row);
                let stateless: Vec<Arc<HotlistEntry>> = entries
                    .iter()
                    .map(|e| {
                        Arc::new(HotlistEntry {
                            region: None,
                            ..(**e).clone()
                        })
                    })
                    .collect();
                let row = measure(
                    &stateless,
                    policy,
                    size,
                    "defaults, no states".into(),
                    (&reads, &innocents),
                );
                super::print_row(out, &row)?;
                rows.push(row);
            }
        }
        for budget in BUDGETS {
            let row = measure(
                &entries,
                with_budget(budget),
                size,
                format!("budget {budget}"),
                (&reads, &innocents),
            );
            super::print_row(out, &row)?;
            rows.push(row);
        }
        writeln!(out, "{}", budget_kept(&rows, size))?;
    }
    Ok(rows)
}

/// Innocent reads the defaults flag beyond what the floor alone flags (the
/// `budget 0` row), per 10,000, against the stolen lists' default budget.
fn budget_kept(rows: &[Row], size: usize) -> String {
    let flagged = |setting: &str| {
        rows.iter()
            .find(|r| r.entries == size && r.setting == setting)
            .map_or(f64::NAN, |r| r.false_alarms_per_10k + r.possible_per_10k)
    };
    let beyond = flagged("defaults") - flagged("budget 0");
    let budget = TolerancePolicy::default()
        .budget("stolen", Category::StolenVehicle)
        .unwrap_or(f64::NAN);
    format!("{size:>9} budget kept: the defaults flag {beyond:.1} innocent reads per 10,000 beyond the floor (budget {budget})")
}

/// A stolen-vehicle list of `size` distinct plates, each with its state.
fn list(rng: &mut Rng, mix: Mix, size: usize) -> Vec<Arc<HotlistEntry>> {
    let mut seen = HashSet::with_capacity(size);
    let mut entries = Vec::with_capacity(size);
    while entries.len() < size {
        let state = match mix {
            Mix::California => crate::hotlist::formats::formats_of("CA").expect("CA"),
            Mix::National => national_state(rng),
        };
        let text = state_plate(rng, state);
        let Ok(plate) = normalize(&text) else { continue };
        if !seen.insert(text) {
            continue;
        }
        entries.push(Arc::new(HotlistEntry {
            entry_id: format!("e{}", entries.len()),
            list_id: "stolen".into(),
            plate: plate.into(),
            region: normalize_region(state.state).ok(),
            category: Category::StolenVehicle,
            priority: 1,
            description: String::new(),
            expires_at: None,
            effective_at: None,
            details: Default::default(),
        }));
    }
    entries
}

/// Per noise kind, reads of listed plates with their state estimates.
fn noisy_reads(rng: &mut Rng, entries: &[Arc<HotlistEntry>], options: &Options) -> Vec<Vec<Read>> {
    Noise::ALL
        .iter()
        .map(|noise| {
            let mut reads = Vec::with_capacity(options.reads_per_noise);
            while reads.len() < options.reads_per_noise {
                let i = rng.below(entries.len());
                let Some(text) = noise.apply(rng, &entries[i].plate.to_string()) else {
                    continue;
                };
                let state = entries[i]
                    .region
                    .and_then(|r| crate::hotlist::formats::formats_of(r.as_str()))
                    .unwrap_or(&STATES[0]);
                if let Ok(plate) = normalize(&text) {
                    reads.push((plate, estimate(rng, state, options.wrong_state_percent), i));
                }
            }
            reads
        })
        .collect()
}

fn measure(
    entries: &[Arc<HotlistEntry>],
    policy: TolerancePolicy,
    size: usize,
    setting: String,
    (reads, innocents): (&[Vec<Read>], &[Read]),
) -> Row {
    let matcher = LiveMatcher::new(entries.to_vec(), policy);
    let mut hits = Vec::new();
    // The entries hit, each with its tier.
    let mut find = |(plate, region, _): &Read| {
        hits.clear();
        matcher.find(
            &Query {
                plate: *plate,
                region: *region,
                candidates: &[],
            },
            &mut hits,
        );
        hits.iter()
            .map(|h| (h.entry.entry_id.clone(), h.tier))
            .collect::<Vec<_>>()
    };
    // Per kind of noise: found at all, found as a hit.
    let recall: Vec<(f64, f64)> = reads
        .iter()
        .map(|kind| {
            let (mut found, mut as_hit) = (0, 0);
            for read in kind {
                let want = format!("e{}", read.2);
                if let Some((_, tier)) = find(read).into_iter().find(|(id, _)| *id == want) {
                    found += 1;
                    as_hit += usize::from(tier == Tier::Hit);
                }
            }
            let n = kind.len().max(1) as f64;
            (found as f64 / n, as_hit as f64 / n)
        })
        .collect();
    let (mut alarms, mut possible) = (0, 0);
    for read in innocents {
        let found = find(read);
        if found.iter().any(|(_, tier)| *tier == Tier::Hit) {
            alarms += 1;
        } else if !found.is_empty() {
            possible += 1;
        }
    }
    let per_10k = |n: usize| n as f64 * 10_000.0 / innocents.len().max(1) as f64;
    let weigh = |pick: fn(&(f64, f64)) -> f64| recall.iter().zip(REAL_MIX).map(|(r, w)| pick(r) * w).sum();
    Row {
        misreads_found: weigh(|r| r.0),
        misreads_as_hits: weigh(|r| r.1),
        entries: size,
        setting,
        recall: recall.iter().map(|r| r.0).collect(),
        false_alarms_per_10k: per_10k(alarms),
        possible_per_10k: per_10k(possible),
    }
}

/// The default policy with every category's budget set to `budget`.
fn with_budget(budget: f64) -> TolerancePolicy {
    let mut policy = TolerancePolicy::default();
    for b in policy.budget_by_category.values_mut() {
        *b = budget;
    }
    policy
}

/// Budgets for the recall-against-budget rows.
pub const BUDGETS: [f64; 5] = [0.0, 0.5, 5.0, 20.0, 100.0];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hotlist::formats::standard_format;

    #[test]
    fn plates_follow_their_states_formats_and_the_mix_follows_registrations() {
        let mut rng = Rng::new(1);
        let ca = crate::hotlist::formats::formats_of("CA").unwrap();
        let plates: Vec<String> = (0..1000).map(|_| state_plate(&mut rng, ca)).collect();
        let standard = plates.iter().filter(|p| standard_format("CA", p).is_some()).count();
        assert!(
            (930..=970).contains(&standard),
            "{standard} of 1000 standard (5% vanity)"
        );
        let states: Vec<&str> = (0..10_000).map(|_| national_state(&mut rng).state).collect();
        let count = |s: &str| states.iter().filter(|x| **x == s).count();
        assert!(
            count("CA") > count("TX") && count("TX") > count("VT"),
            "by registrations"
        );
        assert!(
            (900..=1400).contains(&count("CA")),
            "CA is about an eighth: {}",
            count("CA")
        );
    }

    #[test]
    fn a_small_national_run_reports_every_kind_and_finds_clean_reads() {
        let options = Options {
            mix: Mix::National,
            sizes: vec![2_000],
            reads_per_noise: 200,
            innocent_reads: 2_000,
            wrong_state_percent: 0,
            seed: 3,
        };
        let mut out = Vec::new();
        let rows = run(&options, &mut out).unwrap();
        let defaults = rows.iter().find(|r| r.setting == "defaults").unwrap();
        assert_eq!(defaults.recall.len(), Noise::ALL.len());
        assert_eq!(defaults.recall[0], 1.0, "every clean read alerts");
        let exact = rows.iter().find(|r| r.setting == "exact").unwrap();
        assert_eq!(exact.false_alarms_per_10k, 0.0, "exact never flags an unlisted plate");
        assert!((REAL_MIX.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let expected: f64 = defaults.recall.iter().zip(REAL_MIX).map(|(r, w)| r * w).sum();
        assert_eq!(defaults.misreads_found, expected);
    }
}
