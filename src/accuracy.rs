//! The accuracy harness: how many misreads each tolerance recovers, and how
//! many innocent drivers it flags, on hotlists of realistic size.
//!
//! A missed hit lets a stolen car drive past; a false hit sends deputies to
//! stop an innocent driver. `hotlist-matcher bench accuracy` builds a list of
//! N synthetic US plates, makes reads of listed plates through a noise model
//! (OCR-class substitutions, plausible confusions, arbitrary substitutions,
//! dropped and extra characters, swapped neighbours) and reads of plates not
//! on the list, and prints per tolerance: recall on each kind of read and
//! false alarms per 10,000 innocent reads. Its figures set the defaults in
//! [`crate::hotlist::TolerancePolicy`] and are recorded in docs/BENCHMARKS.md.
//! This is the original, California-leaning harness (`--mix legacy`), kept
//! for comparison; [`national`] draws lists and traffic from every state's
//! formats, with states on entries and reads.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use crate::hotlist::confusion::{canonical_byte, substitution_cost};
use crate::hotlist::{Category, HotlistEntry, LiveMatcher, Matcher, Query, Tolerance, TolerancePolicy};
use crate::normalize::{normalize, Plate};
use crate::sample::{self, Rng};

#[path = "accuracy_national.rs"]
pub mod national;

/// The kinds of read the noise model makes from a listed plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    Clean,
    /// One character swapped within an OCR class (O/0, B/8, ...).
    OcrClass,
    /// One plausible confusion beyond the classes (H/B, W/H, L/E, ...).
    Plausible,
    /// One character replaced by an unrelated one.
    OtherSubstitution,
    Dropped,
    Extra,
    Swapped,
    /// The first or the last character lost (cut off at the plate's edge).
    TruncatedEnd,
    /// A character added before the first or after the last (a bolt, a
    /// frame's edge, a sticker read as one).
    ExtendedEnd,
}

impl Noise {
    pub const ALL: [Noise; 9] = [
        Noise::Clean,
        Noise::OcrClass,
        Noise::Plausible,
        Noise::OtherSubstitution,
        Noise::Dropped,
        Noise::Extra,
        Noise::Swapped,
        Noise::TruncatedEnd,
        Noise::ExtendedEnd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Noise::Clean => "clean",
            Noise::OcrClass => "ocr class",
            Noise::Plausible => "plausible",
            Noise::OtherSubstitution => "other sub",
            Noise::Dropped => "dropped",
            Noise::Extra => "extra",
            Noise::Swapped => "swapped",
            Noise::TruncatedEnd => "end cut",
            Noise::ExtendedEnd => "end added",
        }
    }

    /// Applies this noise to `plate`; `None` when it cannot (no such character).
    pub fn apply(self, rng: &mut Rng, plate: &str) -> Option<String> {
        let bytes = plate.as_bytes();
        let at = rng.below(bytes.len());
        let mut out = bytes.to_vec();
        match self {
            Noise::Clean => {}
            Noise::OcrClass => return sample::misread(rng, plate),
            Noise::Plausible => {
                let c = canonical_byte(bytes[at]);
                let partners: Vec<u8> = (b'0'..=b'9')
                    .chain(b'A'..=b'Z')
                    .filter(|&p| canonical_byte(p) == p && substitution_cost(c, p) == 0.5)
                    .collect();
                if partners.is_empty() {
                    return None;
                }
                out[at] = *rng.pick(&partners);
            }
            Noise::OtherSubstitution => {
                let c = canonical_byte(bytes[at]);
                let others: Vec<u8> = (b'0'..=b'9')
                    .chain(b'A'..=b'Z')
                    .filter(|&p| substitution_cost(c, canonical_byte(p)) == 1.0)
                    .collect();
                out[at] = *rng.pick(&others);
            }
            Noise::Dropped => {
                out.remove(at);
            }
            Noise::Extra => {
                let extra = *rng.pick(b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789");
                out.insert(at, extra);
            }
            Noise::Swapped => {
                let i = rng.below(bytes.len() - 1);
                if canonical_byte(out[i]) == canonical_byte(out[i + 1]) {
                    return None;
                }
                out.swap(i, i + 1);
            }
            Noise::TruncatedEnd if out.len() < 3 => return None,
            Noise::TruncatedEnd => match rng.chance(50) {
                true => drop(out.remove(0)),
                false => drop(out.pop()),
            },
            Noise::ExtendedEnd => {
                let extra = *rng.pick(b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789");
                match rng.chance(50) {
                    true => out.insert(0, extra),
                    false => out.push(extra),
                }
            }
        }
        Some(String::from_utf8(out).expect("ASCII"))
    }
}

/// One row of results: a list size and a tolerance.
#[derive(Debug, Clone)]
pub struct Row {
    pub entries: usize,
    pub setting: String,
    /// Recall per [`Noise::ALL`], 0 to 1.
    pub recall: Vec<f64>,
    /// Innocent reads that hit something (national harness: something as a
    /// hit), per 10,000 (NaN when not measured).
    pub false_alarms_per_10k: f64,
    /// Innocent reads flagged only as possible matches (dispatch verifies
    /// them first), per 10,000; NaN when not measured.
    pub possible_per_10k: f64,
    /// Misreads found as hits (not only as possible matches), weighted like
    /// `misreads_found`; NaN when not measured.
    pub misreads_as_hits: f64,
    /// Misreads found, weighted by the mix of errors in real OCR output
    /// ([`national::REAL_MIX`]); NaN when not measured.
    pub misreads_found: f64,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub sizes: Vec<usize>,
    pub reads_per_noise: usize,
    pub innocent_reads: usize,
    pub seed: u64,
}

/// The tolerances compared.
pub fn settings() -> Vec<(String, TolerancePolicy)> {
    vec![
        ("exact".into(), TolerancePolicy::uniform(Tolerance::Exact)),
        ("ocr".into(), TolerancePolicy::uniform(Tolerance::OcrEquivalent)),
        ("ends".into(), TolerancePolicy::uniform(Tolerance::Ends)),
        (
            "fuzzy:0.5".into(),
            TolerancePolicy::uniform(Tolerance::Fuzzy { max_cost: 0.5 }),
        ),
        (
            "fuzzy:1.0".into(),
            TolerancePolicy::uniform(Tolerance::Fuzzy { max_cost: 1.0 }),
        ),
        ("defaults".into(), TolerancePolicy::default()),
    ]
}

/// Runs every setting on every size and writes the table to `out`.
pub fn run(options: &Options, out: &mut impl Write) -> std::io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    writeln!(
        out,
        "{:>9} {:<10} {}  false alarms/10k",
        "entries",
        "tolerance",
        Noise::ALL
            .iter()
            .map(|n| format!("{:>10}", n.name()))
            .collect::<String>()
    )?;
    for &size in &options.sizes {
        let mut rng = Rng::new(options.seed);
        let mut entries = stolen_vehicle_list(&mut rng, size);
        entries.extend(urgent_list(&mut rng, URGENT_ENTRIES));
        let listed: HashSet<Plate> = entries.iter().filter_map(|e| e.plate.plate()).collect();
        let stolen_reads = noisy_reads(&mut rng, &entries, 0..size, options.reads_per_noise);
        let urgent_reads = noisy_reads(&mut rng, &entries, size..entries.len(), options.reads_per_noise);
        let innocents: Vec<Plate> = std::iter::repeat_with(|| sample::random_plate(&mut rng))
            .filter(|p| !listed.contains(p))
            .take(options.innocent_reads)
            .collect();
        for (setting, policy) in settings() {
            let matcher = LiveMatcher::new(entries.clone(), policy);
            let by_number = matcher_entries(&matcher);
            let row = measure(&matcher, &by_number, size, setting.clone(), &stolen_reads, &innocents);
            print_row(out, &row)?;
            rows.push(row);
            if setting == "defaults" {
                let urgent = measure(
                    &matcher,
                    &by_number,
                    URGENT_ENTRIES,
                    "  urgent".into(),
                    &urgent_reads,
                    &[],
                );
                print_row(out, &urgent)?;
                rows.push(urgent);
            }
        }
    }
    Ok(rows)
}

fn print_row(out: &mut impl Write, row: &Row) -> std::io::Result<()> {
    let alarms = if row.false_alarms_per_10k.is_nan() {
        "       -".to_string()
    } else {
        format!("{:>8.1}", row.false_alarms_per_10k)
    };
    let recall: String = row.recall.iter().map(|r| format!("{:>9.1}%", r * 100.0)).collect();
    let possible = match row.possible_per_10k.is_nan() {
        true => String::new(),
        false => format!("  (+{:.1} possible)", row.possible_per_10k),
    };
    let found = match (row.misreads_found.is_nan(), row.misreads_as_hits.is_nan()) {
        (true, _) => String::new(),
        (false, true) => format!("  misreads found {:.1}%", row.misreads_found * 100.0),
        (false, false) => format!(
            "  misreads found {:.1}% ({:.1}% as hits)",
            row.misreads_found * 100.0,
            row.misreads_as_hits * 100.0
        ),
    };
    writeln!(
        out,
        "{:>9} {:<10} {recall}  {alarms}{possible}{found}",
        row.entries, row.setting
    )
}

/// Entries of the small urgent list (officer-entered) beside the big list.
pub const URGENT_ENTRIES: usize = 200;

/// A small officer-entered list: fuzzy under the defaults.
fn urgent_list(rng: &mut Rng, size: usize) -> Vec<Arc<HotlistEntry>> {
    sample::hotlist(rng, size, "officer")
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            Arc::new(HotlistEntry {
                entry_id: format!("u{i}"),
                category: Category::OfficerEntered,
                region: None,
                ..(*e).clone()
            })
        })
        .collect()
}

/// A state-sized list, as the NCIC and state stolen-vehicle feeds are.
fn stolen_vehicle_list(rng: &mut Rng, size: usize) -> Vec<Arc<HotlistEntry>> {
    sample::hotlist(rng, size, "state-stolen")
        .into_iter()
        .map(|e| {
            Arc::new(HotlistEntry {
                category: Category::StolenVehicle,
                region: None,
                ..(*e).clone()
            })
        })
        .collect()
}

/// Per noise kind, `n` reads of the plates of `entries[range]`: (read
/// plate, index of the entry).
fn noisy_reads(
    rng: &mut Rng,
    entries: &[Arc<HotlistEntry>],
    range: std::ops::Range<usize>,
    n: usize,
) -> Vec<Vec<(Plate, usize)>> {
    Noise::ALL
        .iter()
        .map(|noise| {
            let mut reads = Vec::with_capacity(n);
            while reads.len() < n {
                let i = range.start + rng.below(range.len());
                let listed = entries[i].plate.to_string();
                let Some(text) = noise.apply(rng, &listed) else {
                    continue;
                };
                if let Ok(plate) = normalize(&text) {
                    reads.push((plate, i));
                }
            }
            reads
        })
        .collect()
}

fn measure(
    matcher: &LiveMatcher,
    entries_of: &[Arc<HotlistEntry>],
    size: usize,
    setting: String,
    reads: &[Vec<(Plate, usize)>],
    innocents: &[Plate],
) -> Row {
    let mut hits = Vec::new();
    let find = |plate: Plate, hits: &mut Vec<_>| {
        hits.clear();
        let query = Query {
            plate,
            region: None,
            candidates: &[],
        };
        matcher.find(&query, hits);
    };
    let recall = reads
        .iter()
        .map(|kind| {
            let found = kind
                .iter()
                .filter(|(plate, i)| {
                    find(*plate, &mut hits);
                    hits.iter().any(|h| h.entry.is(&entries_of[*i]))
                })
                .count();
            found as f64 / kind.len().max(1) as f64
        })
        .collect();
    let alarms = innocents
        .iter()
        .filter(|plate| {
            find(**plate, &mut hits);
            !hits.is_empty()
        })
        .count();
    Row {
        entries: size,
        setting,
        recall,
        false_alarms_per_10k: if innocents.is_empty() {
            f64::NAN
        } else {
            alarms as f64 * 10_000.0 / innocents.len() as f64
        },
        possible_per_10k: f64::NAN,
        misreads_as_hits: f64::NAN,
        misreads_found: f64::NAN,
    }
}

/// The matcher's entries in the order they were listed (`e0..`, then `u0..`).
fn matcher_entries(matcher: &LiveMatcher) -> Vec<Arc<HotlistEntry>> {
    let mut entries = matcher.entries();
    entries.sort_by_key(|e| {
        (
            e.entry_id.starts_with('u'),
            e.entry_id[1..].parse::<usize>().unwrap_or(usize::MAX),
        )
    });
    entries
}
