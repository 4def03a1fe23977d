//! Loading a hotlist from delimited text with a header row.
//!
//! Agency clerks export these from spreadsheets, so the loader expects
//! mistakes: it checks every row, collects every problem with its line and
//! column, and refuses the whole file if any row is bad, so a half-loaded list
//! never goes live. The columns, in any order and any case:
//! `entry_id`, `list_id`, `plate`, `category` (required), `region`,
//! `priority` (0 = most urgent, default 5), `description`, `expires_at`
//! (RFC 3339; the entry stops matching then) and `effective_at` (RFC 3339;
//! the entry matches only from then on) (optional).
//! Other columns are ignored. A plate with `?` (one unknown character) or
//! `*` (any run) is a wildcard or partial plate.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use super::{Category, EntryDetails, EntryPlate, HotlistEntry, HotlistError, Pattern, RowError};
use crate::normalize::{normalize, normalize_region};

/// Size limits for one hotlist file.
#[derive(Debug, Clone, Copy)]
pub struct CsvLimits {
    pub max_bytes: u64,
    pub max_rows: usize,
}

impl Default for CsvLimits {
    fn default() -> Self {
        CsvLimits {
            max_bytes: 512 * 1024 * 1024,
            max_rows: 20_000_000,
        }
    }
}

const REQUIRED: [&str; 4] = ["entry_id", "list_id", "plate", "category"];
const DEFAULT_PRIORITY: u8 = 5;
const MAX_ID_LEN: usize = 64;
const MAX_DESCRIPTION_LEN: usize = 1024;

/// Where each known column sits in a row.
struct Columns {
    entry_id: usize,
    list_id: usize,
    plate: usize,
    category: usize,
    region: Option<usize>,
    priority: Option<usize>,
    description: Option<usize>,
    expires_at: Option<usize>,
    effective_at: Option<usize>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Columns, HotlistError> {
        let find = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
        let missing: Vec<&str> = REQUIRED.into_iter().filter(|n| find(n).is_none()).collect();
        if !missing.is_empty() {
            return Err(HotlistError::Header(format!(
                "missing column(s): {}",
                missing.join(", ")
            )));
        }
        Ok(Columns {
            entry_id: find("entry_id").expect("checked"),
            list_id: find("list_id").expect("checked"),
            plate: find("plate").expect("checked"),
            category: find("category").expect("checked"),
            region: find("region"),
            priority: find("priority"),
            description: find("description"),
            expires_at: find("expires_at"),
            effective_at: find("effective_at"),
        })
    }
}

/// Reads a hotlist file from disk; see [`load_csv`].
pub fn load_csv_file(path: &std::path::Path, limits: CsvLimits) -> Result<Vec<Arc<HotlistEntry>>, HotlistError> {
    let io = |error| HotlistError::Io {
        path: path.display().to_string(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limits.max_bytes {
        return Err(HotlistError::TooLarge {
            size,
            max: limits.max_bytes,
        });
    }
    load_csv(std::io::BufReader::new(file), limits)
}

/// Parses a whole hotlist, or reports every bad row and loads nothing.
///
/// The delimiter (comma, semicolon or tab) is taken from the header line.
pub fn load_csv(input: impl Read, limits: CsvLimits) -> Result<Vec<Arc<HotlistEntry>>, HotlistError> {
    load_csv_for(input, limits, None)
}

/// [`load_csv`] for an upload that replaces list `only_list`: a row that
/// names another list is a bad row (it would otherwise be dropped and the
/// uploader's own list emptied of it).
pub fn load_csv_for(
    input: impl Read,
    limits: CsvLimits,
    only_list: Option<&str>,
) -> Result<Vec<Arc<HotlistEntry>>, HotlistError> {
    load_csv_rows(input, limits, only_list)?.strict()
}

/// [`load_csv_for`], keeping the good rows beside the bad ones (for an
/// upload that skips bad rows, [`super::feed::accept`]).
pub(crate) fn load_csv_rows(
    mut input: impl Read,
    limits: CsvLimits,
    only_list: Option<&str>,
) -> Result<Parsed, HotlistError> {
    let mut bytes = Vec::new();
    input
        .by_ref()
        .take(limits.max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| HotlistError::Io {
            path: "<input>".into(),
            error,
        })?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(HotlistError::TooLarge {
            size: bytes.len() as u64,
            max: limits.max_bytes,
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(&bytes))
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = reader
        .headers()
        .map_err(|e| HotlistError::Header(e.to_string()))?
        .clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(HotlistError::Header("the file is empty".into()));
    }
    let columns = Columns::from_header(&header)?;
    let rows = reader.byte_records().map(|record| match record {
        Ok(record) => {
            let line = record.position().map_or(0, |p| p.line());
            (line, parse_row(&record, &columns, &header, line))
        }
        Err(e) => {
            let line = e.position().map_or(0, |p| p.line());
            (line, Err(row_error(line, None, e.to_string())))
        }
    });
    collect_rows(rows, limits, only_list)
}

/// A file's good entries and every bad row, once the whole file was read.
#[derive(Debug, Default)]
pub struct Parsed {
    pub entries: Vec<Arc<HotlistEntry>>,
    pub errors: Vec<RowError>,
}

impl Parsed {
    /// The entries of a file without a bad row; otherwise every bad row.
    pub fn strict(self) -> Result<Vec<Arc<HotlistEntry>>, HotlistError> {
        if self.errors.is_empty() {
            Ok(self.entries)
        } else {
            Err(HotlistError::Rows(self.errors))
        }
    }

    /// Rows read, good and bad.
    pub fn rows(&self) -> usize {
        self.entries.len() + self.errors.len()
    }
}

/// Gathers parsed rows into a list: every bad row, every duplicate
/// `(list, entry)` id and, with `only_list`, every row for another list is
/// reported beside the good entries.
pub(crate) fn collect_rows(
    rows: impl Iterator<Item = (u64, Result<Option<HotlistEntry>, RowError>)>,
    limits: CsvLimits,
    only_list: Option<&str>,
) -> Result<Parsed, HotlistError> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for (line, result) in rows {
        if entries.len() + errors.len() >= limits.max_rows {
            return Err(HotlistError::TooManyRows { max: limits.max_rows });
        }
        match result {
            Ok(None) => {}
            Ok(Some(entry)) if only_list.is_some_and(|list| entry.list_id != list) => errors.push(row_error(
                line,
                Some("list_id"),
                format!(
                    "names list {}, but this upload replaces list {}; upload each list on its own",
                    entry.list_id,
                    only_list.unwrap_or_default()
                ),
            )),
            Ok(Some(entry)) => {
                let key = (entry.list_id.clone(), entry.entry_id.clone());
                match seen.get(&key) {
                    Some(first) => errors.push(row_error(
                        line,
                        Some("entry_id"),
                        format!("duplicate entry id in list {} (first on line {first})", key.0),
                    )),
                    None => {
                        seen.insert(key, line);
                        entries.push(Arc::new(entry));
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    Ok(Parsed { entries, errors })
}

fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .filter(|d| first_line.contains(d))
        .unwrap_or(b',')
}

pub(crate) fn row_error(line: u64, column: Option<&str>, reason: impl Into<String>) -> RowError {
    RowError {
        line,
        column: column.map(str::to_owned),
        reason: reason.into(),
    }
}

/// One row to an entry; `Ok(None)` for a blank row.
fn parse_row(
    record: &csv::ByteRecord,
    columns: &Columns,
    header: &csv::StringRecord,
    line: u64,
) -> Result<Option<HotlistEntry>, RowError> {
    if record.iter().all(|field| field.iter().all(u8::is_ascii_whitespace)) {
        return Ok(None);
    }
    if record.len() != header.len() {
        return Err(row_error(
            line,
            None,
            format!("has {} fields, the header has {}", record.len(), header.len()),
        ));
    }
    let field = |index: usize, name: &str| -> Result<&str, RowError> {
        let raw = record.get(index).unwrap_or_default();
        std::str::from_utf8(raw)
            .map(str::trim)
            .map_err(|_| row_error(line, Some(name), "is not UTF-8 text (save the file as UTF-8)"))
    };
    let optional = |index: Option<usize>, name: &str| index.map(|i| field(i, name)).transpose();
    let raw = RawEntry {
        entry_id: field(columns.entry_id, "entry_id")?,
        list_id: field(columns.list_id, "list_id")?,
        plate: field(columns.plate, "plate")?,
        category: field(columns.category, "category")?,
        region: optional(columns.region, "region")?,
        priority: optional(columns.priority, "priority")?,
        description: optional(columns.description, "description")?.map(Cow::Borrowed),
        expires_at: optional(columns.expires_at, "expires_at")?,
        effective_at: optional(columns.effective_at, "effective_at")?,
        details: details_of(record, header, line)?,
    };
    build_entry(&raw, line).map(Some)
}

/// The optional detail columns (`nic`, `ori`, `oca`, `plate_type`,
/// `vehicle_year`, `vehicle_make`, `vehicle_model`, `vehicle_colour`).
fn details_of(record: &csv::ByteRecord, header: &csv::StringRecord, line: u64) -> Result<EntryDetails, RowError> {
    let mut details = EntryDetails::default();
    for (name, value) in details.fields_mut() {
        let Some(index) = header.iter().position(|h| h.trim().eq_ignore_ascii_case(name)) else {
            continue;
        };
        let raw = record.get(index).unwrap_or_default();
        let text = std::str::from_utf8(raw)
            .map_err(|_| row_error(line, Some(name), "is not UTF-8 text (save the file as UTF-8)"))?;
        *value = Some(text.to_owned());
    }
    Ok(details)
}

/// The text fields of one entry, however the file laid them out. Its
/// `Debug` hides the plate.
#[derive(Default)]
pub(crate) struct RawEntry<'a> {
    pub entry_id: &'a str,
    pub list_id: &'a str,
    pub plate: &'a str,
    pub category: &'a str,
    pub region: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub description: Option<Cow<'a, str>>,
    /// RFC 3339; empty or absent for no expiry.
    pub expires_at: Option<&'a str>,
    /// RFC 3339; empty or absent to match at once.
    pub effective_at: Option<&'a str>,
    pub details: EntryDetails,
}

impl std::fmt::Debug for RawEntry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawEntry")
            .field("entry_id", &self.entry_id)
            .field("list_id", &self.list_id)
            .field("plate", &crate::text::Redacted(self.plate))
            .field("category", &self.category)
            .field("region", &self.region)
            .field("priority", &self.priority)
            .field("description", &self.description)
            .field("expires_at", &self.expires_at)
            .field("effective_at", &self.effective_at)
            .field("details", &self.details)
            .finish()
    }
}

/// Validates the fields of one row into an entry; `line` locates errors.
pub(crate) fn build_entry(raw: &RawEntry<'_>, line: u64) -> Result<HotlistEntry, RowError> {
    let entry_id = checked_id(raw.entry_id, "entry_id", line)?;
    let list_id = checked_id(raw.list_id, "list_id", line)?;
    let plate = parse_plate(raw.plate).map_err(|e| row_error(line, Some("plate"), e))?;
    let category = Category::parse(raw.category).ok_or_else(|| {
        let names: Vec<_> = Category::ALL.iter().map(|c| c.name()).collect();
        row_error(line, Some("category"), format!("must be one of {}", names.join(", ")))
    })?;
    let region = match raw.region.map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(normalize_region(text).map_err(|e| row_error(line, Some("region"), e.to_string()))?),
    };
    let priority = match raw.priority.map(str::trim) {
        None | Some("") => DEFAULT_PRIORITY,
        Some(text) => text
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 9)
            .ok_or_else(|| row_error(line, Some("priority"), "must be a whole number from 0 to 9"))?,
    };
    let description = raw.description.as_deref().unwrap_or_default().trim();
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(row_error(line, Some("description"), "is longer than 1024 bytes"));
    }
    let expires_at = date_time(raw.expires_at, "expires_at", line)?;
    let effective_at = date_time(raw.effective_at, "effective_at", line)?;
    if let (Some(from), Some(until)) = (effective_at, expires_at) {
        if from >= until {
            return Err(row_error(line, Some("effective_at"), "must be before expires_at"));
        }
    }
    if category == Category::OfficerEntered {
        // Hand-entered plates are the likeliest to outlive their reason.
        if expires_at.is_none() {
            return Err(row_error(
                line,
                Some("expires_at"),
                "officer-entered entries must have an expiry",
            ));
        }
        if description.is_empty() {
            return Err(row_error(
                line,
                Some("description"),
                "officer-entered entries must give a reason",
            ));
        }
    }
    let mut details = raw.details.clone();
    for (name, value) in details.fields_mut() {
        if let Some(text) = value.as_deref().map(str::trim) {
            if text.len() > MAX_ID_LEN || text.chars().any(char::is_control) {
                return Err(row_error(line, Some(name), "must be at most 64 printable characters"));
            }
            *value = (!text.is_empty()).then(|| text.to_owned());
        }
    }
    Ok(HotlistEntry {
        entry_id,
        list_id,
        plate,
        region,
        category,
        priority,
        description: description.to_owned(),
        expires_at,
        effective_at,
        details,
    })
}

/// An optional RFC 3339 column; empty or absent is `None`.
fn date_time(text: Option<&str>, name: &str, line: u64) -> Result<Option<chrono::DateTime<chrono::Utc>>, RowError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&chrono::Utc)))
            .map_err(|_| row_error(line, Some(name), "must be an RFC 3339 date-time with offset")),
    }
}

/// A whole plate, or a wildcard or partial one when it has `?` or `*`.
fn parse_plate(text: &str) -> Result<EntryPlate, String> {
    if Pattern::is_pattern(text) {
        Pattern::parse(text).map(EntryPlate::Pattern).map_err(|e| e.to_string())
    } else {
        normalize(text).map(EntryPlate::Plate).map_err(|e| e.to_string())
    }
}

fn checked_id(text: &str, name: &str, line: u64) -> Result<String, RowError> {
    crate::text::check_id(text).map_err(|e| row_error(line, Some(name), e.to_string()))?;
    Ok(text.to_owned())
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
