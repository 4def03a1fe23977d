//! Hotlists: the entries agencies ask us to look for, and how reads are
//! matched against them.
//!
//! An entry is one plate (or a wildcard or partial plate) an agency wants
//! found, with enough context for a dispatcher to act on a hit. The
//! [`Matcher`] trait is the single seam between the pipeline and the matching
//! engine: the pipeline hands it a normalized [`Query`] and gets back every
//! [`Hit`], best first. [`LiveMatcher`] is the engine: OCR-aware fuzzy
//! matching over an immutable index ([`index`]), patterns beside it
//! ([`pattern`]), tolerance per list ([`tolerance`]), live changes through an
//! overlay ([`live`]).
//!
//! Matching is pure and synchronous: no I/O, no locks a writer can hold, no
//! logging, because it runs once per read.

pub mod budget;
pub mod commit;
pub mod commit_join;
pub mod confusion;
pub(crate) mod csv;
pub mod evidence;
pub mod feed;
pub mod formats;
pub mod index;
pub mod listing;
pub mod live;
pub mod pattern;
pub mod plan;
pub mod preview;
pub mod record;
pub mod snapshot;
pub mod store;
pub mod tolerance;
mod weigh;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::normalize::{Plate, Region};

pub use self::csv::{load_csv, load_csv_file, CsvLimits};
pub use self::live::{Change, LiveMatcher};
pub use self::pattern::Pattern;
pub use self::tolerance::{RegionRule, Tolerance, TolerancePolicy};

/// Why a hotlist could not be loaded. Every bad row is reported, not just the first.
#[derive(Debug, thiserror::Error)]
pub enum HotlistError {
    #[error("cannot read hotlist {path}: {error}: check hotlist.path / HOTLIST_HOTLIST_PATH")]
    Io { path: String, error: std::io::Error },
    #[error("hotlist is {size} bytes, more than the {max}-byte limit")]
    TooLarge { size: u64, max: u64 },
    #[error("hotlist has more than {max} rows")]
    TooManyRows { max: usize },
    #[error("hotlist header is unusable: {0}")]
    Header(String),
    #[error("hotlist has {} bad row(s):\n{}", .0.len(), RowErrors(.0))]
    Rows(Vec<RowError>),
    /// `--skip-invalid`, but too much of the file is bad: more likely the
    /// wrong file than a few typing mistakes.
    #[error(
        "{} of {rows} row(s) are bad, more than the {max_percent}% that may be skipped \
         (hotlist.max_invalid_percent); is it the right file?\n{}",
        .errors.len(), RowErrors(.errors)
    )]
    TooManyInvalid {
        rows: usize,
        max_percent: f64,
        errors: Vec<RowError>,
    },
}

/// One bad row of a hotlist file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file.
    pub line: u64,
    /// The column at fault, by header name, when one is.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {}: {}", self.line, column, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

struct RowErrors<'a>(&'a [RowError]);

impl fmt::Display for RowErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in self.0 {
            writeln!(f, "  {row}")?;
        }
        Ok(())
    }
}

/// What kind of list an entry comes from. Drives priority and, later, tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    StolenVehicle,
    StolenPlate,
    FelonyVehicle,
    Amber,
    WantedPerson,
    Bolo,
    OfficerEntered,
    Other,
}

impl Category {
    /// Every category, in the order files document them.
    pub const ALL: [Category; 8] = [
        Category::StolenVehicle,
        Category::StolenPlate,
        Category::FelonyVehicle,
        Category::Amber,
        Category::WantedPerson,
        Category::Bolo,
        Category::OfficerEntered,
        Category::Other,
    ];

    /// The snake_case name used in files and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Category::StolenVehicle => "stolen_vehicle",
            Category::StolenPlate => "stolen_plate",
            Category::FelonyVehicle => "felony_vehicle",
            Category::Amber => "amber",
            Category::WantedPerson => "wanted_person",
            Category::Bolo => "bolo",
            Category::OfficerEntered => "officer_entered",
            Category::Other => "other",
        }
    }

    /// Parses a name, ignoring case and surrounding space.
    pub fn parse(name: &str) -> Option<Category> {
        let name = name.trim();
        Category::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// What an entry looks for: a whole plate, or a wildcard or partial one.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryPlate {
    Plate(Plate),
    Pattern(Pattern),
}

impl EntryPlate {
    /// The plate, when the entry is not a pattern.
    pub fn plate(&self) -> Option<Plate> {
        match self {
            EntryPlate::Plate(plate) => Some(*plate),
            EntryPlate::Pattern(_) => None,
        }
    }
}

impl fmt::Display for EntryPlate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryPlate::Plate(plate) => plate.fmt(f),
            EntryPlate::Pattern(pattern) => pattern.fmt(f),
        }
    }
}

impl From<Plate> for EntryPlate {
    fn from(plate: Plate) -> Self {
        EntryPlate::Plate(plate)
    }
}

/// What NCIC and state extracts say about an entry beyond its plate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDetails {
    /// NCIC number (NIC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic: Option<String>,
    /// Originating agency (ORI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ori: Option<String>,
    /// The originating agency's case number (OCA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_year: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_colour: Option<String>,
}

impl EntryDetails {
    /// Every field with its file column name, for loaders and validation.
    pub fn fields_mut(&mut self) -> [(&'static str, &mut Option<String>); 8] {
        [
            ("nic", &mut self.nic),
            ("ori", &mut self.ori),
            ("oca", &mut self.oca),
            ("plate_type", &mut self.plate_type),
            ("vehicle_year", &mut self.vehicle_year),
            ("vehicle_make", &mut self.vehicle_make),
            ("vehicle_model", &mut self.vehicle_model),
            ("vehicle_colour", &mut self.vehicle_colour),
        ]
    }
}

/// One plate an agency wants found.
#[derive(Debug, Clone, PartialEq)]
pub struct HotlistEntry {
    /// Unique within its list.
    pub entry_id: String,
    pub list_id: String,
    /// The canonical plate or pattern.
    pub plate: EntryPlate,
    /// The state that issued the plate, when known.
    pub region: Option<Region>,
    pub category: Category,
    /// 0 is the most urgent.
    pub priority: u8,
    /// What a dispatcher should know (vehicle, reason); never logged.
    pub description: String,
    /// When the entry stops matching, without a new upload.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the entry starts matching (a list published ahead of its
    /// date); `None` matches at once.
    pub effective_at: Option<chrono::DateTime<chrono::Utc>>,
    /// NCIC number, agencies, vehicle.
    pub details: EntryDetails,
}

impl HotlistEntry {
    /// Whether `other` is the same entry (same list and entry id), perhaps
    /// another copy of it: a hit carries its own copy, built from the
    /// matcher's packed record.
    pub fn is(&self, other: &HotlistEntry) -> bool {
        self.entry_id == other.entry_id && self.list_id == other.list_id
    }
}

/// A normalized read as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub plate: Plate,
    pub region: Option<Region>,
    /// The OCR engine's alternative readings, normalized, with their confidence.
    pub candidates: &'a [(Plate, Option<f32>)],
}

/// Normalized reads to match together ([`Matcher::find_batch`]), with
/// their OCR candidates in one buffer: cleared and refilled batch after
/// batch, it allocates only while it grows.
#[derive(Debug, Default)]
pub struct QueryBatch {
    /// Plate, region, and the end of the read's candidates in `candidates`.
    reads: Vec<(Plate, Option<Region>, u32)>,
    candidates: Vec<(Plate, Option<f32>)>,
}

impl QueryBatch {
    pub fn clear(&mut self) {
        self.reads.clear();
        self.candidates.clear();
    }

    /// Adds a read, without candidates yet.
    pub fn push(&mut self, plate: Plate, region: Option<Region>) {
        self.reads.push((plate, region, self.candidates.len() as u32));
    }

    /// Adds an OCR candidate to the last read, unless it is the read's own
    /// plate or one of its earlier candidates.
    pub fn push_candidate(&mut self, plate: Plate, confidence: Option<f32>) {
        let start = self.start_of_last();
        let Some((read, _, end)) = self.reads.last_mut() else {
            return;
        };
        if plate != *read && !self.candidates[start..].iter().any(|(c, _)| *c == plate) {
            self.candidates.push((plate, confidence));
            *end += 1;
        }
    }

    fn start_of_last(&self) -> usize {
        match self.reads.len() {
            0 | 1 => 0,
            n => self.reads[n - 2].2 as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.reads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }

    /// The `i`-th read as a query.
    pub fn get(&self, i: usize) -> Query<'_> {
        let (plate, region, end) = self.reads[i];
        let start = if i == 0 { 0 } else { self.reads[i - 1].2 as usize };
        Query {
            plate,
            region,
            candidates: &self.candidates[start..end as usize],
        }
    }
}

/// How a hit was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The canonical plates are identical.
    Exact,
    /// Equal once OCR-equivalent characters are treated as one.
    OcrEquivalent,
    /// One weighted edit beyond OCR equivalence.
    Fuzzy,
    /// A pattern with `?` or `*` matched the whole read.
    Wildcard,
    /// A fragment a witness saw was found inside the read.
    Partial,
}

impl MatchKind {
    /// The snake_case name used on the wire.
    pub fn name(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::OcrEquivalent => "ocr_equivalent",
            MatchKind::Fuzzy => "fuzzy",
            MatchKind::Wildcard => "wildcard",
            MatchKind::Partial => "partial",
        }
    }
}

/// How sure a hit is, which decides how dispatch sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Probably the listed vehicle: an alert to act on once verified.
    #[default]
    Hit,
    /// Might be the listed vehicle: shown at lower urgency, "verify the
    /// image and the plate before anything", never a hit for CAD.
    PossibleMatch,
}

impl Tier {
    /// The snake_case name used on the wire and in metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Hit => "hit",
            Tier::PossibleMatch => "possible_match",
        }
    }
}

/// Which OCR candidate of the read matched, when it was not the read itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CandidateHit {
    /// Position in the read's `candidates` array.
    pub index: u8,
    pub confidence: Option<f32>,
}

/// One hotlist entry that matches a read.
#[derive(Debug, Clone)]
pub struct Hit {
    pub entry: Arc<HotlistEntry>,
    pub kind: MatchKind,
    /// In [0, 1]; 1 is an exact match.
    pub score: f32,
    /// Weighted cost of the edit beyond OCR equivalence (0 for none).
    pub distance: f32,
    /// Read positions that differ from the entry, as a bit set (bit i = position i).
    pub differing: u16,
    /// Set when an OCR candidate, not the read itself, matched.
    pub candidate: Option<CandidateHit>,
    /// The read's state differs from the entry's (scored lower).
    pub region_mismatch: bool,
    /// The probability that the read came from this entry's vehicle.
    pub probability: f32,
    pub tier: Tier,
}

impl Hit {
    /// Read positions that differ from the entry, ascending.
    pub fn positions(&self) -> Vec<u8> {
        (0..16u8).filter(|i| self.differing & (1 << i) != 0).collect()
    }
}

/// Finds the hotlist entries that match a read.
///
/// Implementations must be cheap to call from many threads at once and must
/// never block on a writer.
pub trait Matcher: Send + Sync {
    /// Appends every matching entry to `hits`, best and most urgent first.
    fn find(&self, query: &Query<'_>, hits: &mut Vec<Hit>);

    /// Matches every query of `queries` in turn, as [`Matcher::find`] does
    /// each, appending their hits to `hits` and, after each query's, the
    /// length of `hits` to `ends`: query `i`'s hits are
    /// `hits[ends[i - 1]..ends[i]]` (from where `hits` began for the
    /// first). Engines override it to overlap the queries' memory round
    /// trips; this default just loops.
    fn find_batch(&self, queries: &QueryBatch, hits: &mut Vec<Hit>, ends: &mut Vec<usize>) {
        for i in 0..queries.len() {
            self.find(&queries.get(i), hits);
            ends.push(hits.len());
        }
    }

    /// Number of entries the matcher holds.
    fn len(&self) -> usize;

    /// True when the matcher holds no entry.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether an entry's region allows a read's region: equal, or either unknown.
pub fn regions_agree(entry: Option<Region>, read: Option<Region>) -> bool {
    match (entry, read) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}
