//! The hotlist file formats agencies actually send, beside delimited text
//! ([`super::csv`]): fixed-width state and NCIC extracts, NCIC field-code
//! records, and JSON lines.
//!
//! Every parser reports every bad line with its number, the field and the
//! reason, and refuses the whole file if any line is bad (the same rules as
//! the CSV loader, through the same entry validation), so a clerk fixes the
//! file once instead of once per error. With `--skip-invalid` ([`accept`])
//! the good rows go ahead and every bad one is reported, unless so much of
//! the file is bad that it is more likely the wrong file. Pure: bytes in,
//! entries or a report out.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;

pub use super::csv::Parsed;
use super::csv::{build_entry, collect_rows, load_csv_rows, row_error, RawEntry};
use super::{Category, CsvLimits, EntryDetails, HotlistEntry, HotlistError, RowError};

/// The formats an upload may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Delimited text with a header row (comma, semicolon or tab).
    Delimited,
    /// Fixed columns, one entry a line.
    FixedWidth(Layout),
    /// NCIC field codes: `LIC/ABC123.LIS/CA.VMA/TOYT.NIC/V123456789`.
    NcicFields,
    /// One JSON object a line, with the delimited format's column names.
    JsonLines,
}

impl Format {
    /// Parses a format name: `csv`, `fixed`, `ncic`, `jsonl`.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "csv" | "delimited" => Some(Format::Delimited),
            "fixed" | "fixed-width" => Some(Format::FixedWidth(Layout::default())),
            "ncic" => Some(Format::NcicFields),
            "jsonl" | "json-lines" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

/// Byte columns of a fixed-width extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub plate: Range<usize>,
    pub state: Option<Range<usize>>,
    pub entry_date: Option<Range<usize>>,
    /// Everything from here to the end of the line describes the vehicle.
    pub vehicle_from: Option<usize>,
}

impl Default for Layout {
    /// The layout of the public OpenALPR hotlist importer: record type at
    /// column 0, entry date at 19..27, plate at 27..37, state at 37..39,
    /// then vehicle fields.
    fn default() -> Self {
        Layout {
            plate: 27..37,
            state: Some(37..39),
            entry_date: Some(19..27),
            vehicle_from: Some(39),
        }
    }
}

/// Where entries of a file without its own list and category go.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    pub list_id: String,
    pub category: Category,
    pub limits: CsvLimits,
}

/// Parses a whole upload, or reports every bad line and loads nothing.
pub fn parse(bytes: &[u8], format: &Format, options: &FeedOptions) -> Result<Vec<Arc<HotlistEntry>>, HotlistError> {
    parse_rows(bytes, format, options)?.strict()
}

/// `--skip-invalid`: the largest share of a file's rows, in percent, that
/// may be bad and skipped (`hotlist.max_invalid_percent`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkipInvalid {
    pub max_percent: f64,
}

/// What goes ahead of a parsed file: without `skip`, only a file with no
/// bad row; with it, the good rows, the bad ones kept for the report,
/// unless more than `max_percent` of the rows are bad.
pub fn accept(parsed: Parsed, skip: Option<SkipInvalid>) -> Result<Parsed, HotlistError> {
    let Some(skip) = skip else {
        return parsed.strict().map(|entries| Parsed {
            entries,
            errors: Vec::new(),
        });
    };
    let rows = parsed.rows();
    if parsed.errors.len() as f64 * 100.0 > skip.max_percent * rows as f64 {
        return Err(HotlistError::TooManyInvalid {
            rows,
            max_percent: skip.max_percent,
            errors: parsed.errors,
        });
    }
    Ok(parsed)
}

/// Entries without their own `effective_at` take `at` (`--effective-at`,
/// for formats such as NCIC and fixed-width extracts that carry no date).
pub fn effective_from(entries: Vec<Arc<HotlistEntry>>, at: chrono::DateTime<chrono::Utc>) -> Vec<Arc<HotlistEntry>> {
    entries
        .into_iter()
        .map(|e| match e.effective_at {
            Some(_) => e,
            None => Arc::new(HotlistEntry {
                effective_at: Some(at),
                ..(*e).clone()
            }),
        })
        .collect()
}

/// Parses a whole upload: its good entries and every bad line. Errors of
/// the file as a whole (too large, empty, no usable header) refuse it.
pub fn parse_rows(bytes: &[u8], format: &Format, options: &FeedOptions) -> Result<Parsed, HotlistError> {
    if bytes.len() as u64 > options.limits.max_bytes {
        return Err(HotlistError::TooLarge {
            size: bytes.len() as u64,
            max: options.limits.max_bytes,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(HotlistError::Header("the file is empty".into()));
    }
    let lines = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i as u64 + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace));
    match format {
        Format::Delimited => load_csv_rows(bytes, options.limits, Some(&options.list_id)),
        Format::FixedWidth(layout) => collect_rows(
            lines.map(|(n, l)| (n, fixed_width(l, n, layout, options))),
            options.limits,
            Some(&options.list_id),
        ),
        Format::NcicFields => collect_rows(
            lines.map(|(n, l)| (n, ncic(l, n, options))),
            options.limits,
            Some(&options.list_id),
        ),
        Format::JsonLines => collect_rows(
            lines.map(|(n, l)| (n, json_line(l, n, options))),
            options.limits,
            Some(&options.list_id),
        ),
    }
}

fn text(line: &[u8], n: u64) -> Result<&str, RowError> {
    std::str::from_utf8(line).map_err(|_| row_error(n, None, "is not UTF-8 text (save the file as UTF-8)"))
}

fn fixed_width(line: &[u8], n: u64, layout: &Layout, options: &FeedOptions) -> Result<Option<HotlistEntry>, RowError> {
    let line = text(line, n)?;
    if !line.is_ascii() {
        return Err(row_error(n, None, "fixed-width lines must be plain ASCII"));
    }
    let needed = [Some(&layout.plate), layout.state.as_ref(), layout.entry_date.as_ref()]
        .into_iter()
        .flatten()
        .map(|r| r.end)
        .max()
        .unwrap_or(0);
    if line.len() < needed {
        return Err(row_error(
            n,
            None,
            format!("is {} characters; the layout needs {needed}", line.len()),
        ));
    }
    let plate = line[layout.plate.clone()].trim();
    let state = layout.state.clone().map(|r| line[r].trim());
    let vehicle = layout
        .vehicle_from
        .and_then(|from| line.get(from..))
        .map(str::trim)
        .unwrap_or("");
    let date = layout.entry_date.clone().map(|r| line[r].trim()).unwrap_or("");
    // The id is the plate and state, in the id alphabet (a plate's
    // separators and wildcards are not part of it).
    let id_plate: String = plate
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let entry_id = format!("{id_plate}-{}", state.unwrap_or(""));
    let description = [vehicle, date]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" entered ");
    let raw = RawEntry {
        entry_id: &entry_id,
        list_id: &options.list_id,
        plate,
        category: options.category.name(),
        region: state,
        priority: None,
        description: Some(Cow::Owned(description)),
        expires_at: None,
        effective_at: None,
        details: EntryDetails::default(),
    };
    build_entry(&raw, n).map(Some)
}

/// NCIC vehicle and plate field codes this parser understands.
const NCIC_CODES: [&str; 13] = [
    "LIC", "LIS", "LIY", "LIT", "VMA", "VMO", "VYR", "VCO", "VST", "NIC", "ORI", "OCA", "MIS",
];

fn ncic(line: &[u8], n: u64, options: &FeedOptions) -> Result<Option<HotlistEntry>, RowError> {
    let line = text(line, n)?.trim();
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for segment in line.split('.').filter(|s| !s.trim().is_empty()) {
        let (code, value) = segment
            .split_once('/')
            .ok_or_else(|| row_error(n, None, format!("segment {segment:?} is not CODE/value")))?;
        let code = code.trim();
        if !NCIC_CODES.contains(&code) {
            return Err(row_error(n, Some(code), "is not a known NCIC field code"));
        }
        if fields.iter().any(|(c, _)| *c == code) {
            return Err(row_error(n, Some(code), "appears twice"));
        }
        fields.push((code, value.trim()));
    }
    let get = |code: &str| fields.iter().find(|(c, _)| *c == code).map(|(_, v)| *v);
    let plate = get("LIC").ok_or_else(|| row_error(n, Some("LIC"), "is missing (the plate)"))?;
    let nic = get("NIC").ok_or_else(|| row_error(n, Some("NIC"), "is missing (the NCIC number)"))?;
    let owned = |code: &str| get(code).map(str::to_owned);
    let details = EntryDetails {
        nic: Some(nic.to_owned()),
        ori: owned("ORI"),
        oca: owned("OCA"),
        plate_type: owned("LIT"),
        vehicle_year: owned("VYR"),
        vehicle_make: owned("VMA"),
        vehicle_model: owned("VMO"),
        vehicle_colour: owned("VCO"),
    };
    let description = ["VST", "LIY", "MIS"]
        .iter()
        .filter_map(|code| get(code).map(|v| format!("{code}/{v}")))
        .collect::<Vec<_>>()
        .join(" ");
    let raw = RawEntry {
        entry_id: nic,
        list_id: &options.list_id,
        plate,
        category: options.category.name(),
        region: get("LIS"),
        priority: None,
        description: Some(Cow::Owned(description)),
        expires_at: None,
        effective_at: None,
        details,
    };
    build_entry(&raw, n).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntry<'a> {
    #[serde(borrow)]
    entry_id: Cow<'a, str>,
    #[serde(default, borrow)]
    list_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    plate: Cow<'a, str>,
    #[serde(default, borrow)]
    category: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(default)]
    priority: Option<u8>,
    #[serde(default, borrow)]
    description: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    expires_at: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    effective_at: Option<Cow<'a, str>>,
    #[serde(flatten)]
    details: EntryDetails,
}

fn json_line(line: &[u8], n: u64, options: &FeedOptions) -> Result<Option<HotlistEntry>, RowError> {
    let line = text(line, n)?;
    let entry: JsonEntry<'_> = serde_json::from_str(line).map_err(|e| row_error(n, None, e.to_string()))?;
    let priority = entry.priority.map(|p| p.to_string());
    let raw = RawEntry {
        entry_id: &entry.entry_id,
        list_id: entry.list_id.as_deref().unwrap_or(&options.list_id),
        plate: &entry.plate,
        category: entry.category.as_deref().unwrap_or(options.category.name()),
        region: entry.region.as_deref(),
        priority: priority.as_deref(),
        description: entry.description.clone(),
        expires_at: entry.expires_at.as_deref(),
        effective_at: entry.effective_at.as_deref(),
        details: entry.details.clone(),
    };
    build_entry(&raw, n).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> FeedOptions {
        FeedOptions {
            list_id: "ca-doj-stolen".into(),
            category: Category::StolenVehicle,
            limits: CsvLimits::default(),
        }
    }

    fn errors(bytes: &[u8], format: &Format) -> Vec<String> {
        match parse(bytes, format, &options()) {
            Err(HotlistError::Rows(rows)) => rows.iter().map(ToString::to_string).collect(),
            other => panic!("expected row errors, got {other:?}"),
        }
    }

    /// One fixed-width line in the OpenALPR importer layout.
    fn fixed(kind: char, date: &str, plate: &str, state: &str, vehicle: &str) -> String {
        format!("{kind}{:18}{date:8}{plate:10}{state:2}{vehicle}", "")
    }

    #[test]
    fn fixed_width_extracts_load_with_the_openalpr_layout() {
        let file = [
            fixed('V', "20261120", "7ABC123", "CA", "2019 HOND CIV BLK"),
            fixed('V', "20261121", "ABC 1234", "AZ", ""),
        ]
        .join("\r\n");
        let entries = parse(file.as_bytes(), &Format::FixedWidth(Layout::default()), &options()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].plate.to_string(), "7ABC123");
        assert_eq!(entries[0].entry_id, "7ABC123-CA");
        assert_eq!(entries[0].region.unwrap().as_str(), "CA");
        assert_eq!(entries[0].description, "2019 HOND CIV BLK entered 20261120");
        assert_eq!(entries[1].entry_id, "ABC1234-AZ");
        assert_eq!(entries[1].list_id, "ca-doj-stolen");
    }

    #[test]
    fn broken_fixed_width_lines_are_all_reported() {
        let mut file = [
            fixed('V', "20261120", "7ABC123", "CA", "ok"),
            "V too short".to_string(),
            fixed('V', "20261120", "7AB#123", "CA", ""),
            fixed('V', "20261120", "7ABC123", "CA", "again"),
            fixed('V', "20261120", "8ABC123", "C1", ""),
        ]
        .join("\n")
        .into_bytes();
        file.extend_from_slice(b"\n");
        file.extend_from_slice(&fixed('V', "20261120", "9ABC123", "CA", "caf\u{e9}").into_bytes()[..40]);
        file.extend_from_slice(b"\xe9\n");
        assert_eq!(
            errors(&file, &Format::FixedWidth(Layout::default())),
            vec![
                "line 2: is 11 characters; the layout needs 39",
                "line 3, column plate: plate has a character that cannot be on a plate (U+0023) at position 3",
                "line 4, column entry_id: duplicate entry id in list ca-doj-stolen (first on line 1)",
                "line 5, column region: region must be 2 or 3 letters",
                "line 6: is not UTF-8 text (save the file as UTF-8)",
            ]
        );
    }

    #[test]
    fn ncic_field_code_records_load() {
        let file = "LIC/ABC123.LIS/CA.VMA/TOYT.VCO/BLK.NIC/V123456789.ORI/CA0330000\n\
                    LIC/7XYZ999.LIS/NV.VYR/2018.VMA/FORD.NIC/V987654321.OCA/RSO-26-1\n";
        let entries = parse(file.as_bytes(), &Format::NcicFields, &options()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].entry_id, "V123456789");
        assert_eq!(entries[0].plate.to_string(), "ABC123");
        assert_eq!(entries[0].description, "");
        assert_eq!(entries[0].details.nic.as_deref(), Some("V123456789"));
        assert_eq!(entries[0].details.ori.as_deref(), Some("CA0330000"));
        assert_eq!(entries[0].details.vehicle_make.as_deref(), Some("TOYT"));
        assert_eq!(entries[0].details.vehicle_colour.as_deref(), Some("BLK"));
        assert_eq!(entries[1].details.vehicle_year.as_deref(), Some("2018"));
        assert_eq!(entries[1].details.oca.as_deref(), Some("RSO-26-1"));
        assert_eq!(entries[1].region.unwrap().as_str(), "NV");
    }

    #[test]
    fn broken_ncic_records_are_all_reported() {
        let file = "LIC/ABC123.LIS/CA.NIC/V1\n\
                    LIS/CA.NIC/V2\n\
                    LIC/ABC124.NIC/V3.XYZ/1\n\
                    LIC ABC125 NIC V4\n\
                    LIC/ABC126.LIC/ABC127.NIC/V5\n\
                    LIC/ABC128.LIS/CA.NIC/V1\n\
                    LIC/ABC129.LIS/CA\n";
        assert_eq!(
            errors(file.as_bytes(), &Format::NcicFields),
            vec![
                "line 2, column LIC: is missing (the plate)",
                "line 3, column XYZ: is not a known NCIC field code",
                "line 4: segment \"LIC ABC125 NIC V4\" is not CODE/value",
                "line 5, column LIC: appears twice",
                "line 6, column entry_id: duplicate entry id in list ca-doj-stolen (first on line 1)",
                "line 7, column NIC: is missing (the NCIC number)",
            ]
        );
    }

    #[test]
    fn json_lines_load_and_report_bad_lines() {
        let good = "{\"entry_id\":\"a1\",\"plate\":\"4GET1T5\",\"category\":\"amber\",\"priority\":0}\n\
                    {\"entry_id\":\"a2\",\"plate\":\"7AB*\",\"region\":\"CA\",\"description\":\"partial\"}\n";
        let entries = parse(good.as_bytes(), &Format::JsonLines, &options()).unwrap();
        assert_eq!(entries[0].category, Category::Amber);
        assert_eq!(entries[0].priority, 0);
        assert_eq!(
            entries[1].category,
            Category::StolenVehicle,
            "the upload's category by default"
        );
        assert_eq!(entries[1].plate.to_string(), "7AB*");
        let bad = "{\"entry_id\":\"a1\",\"plate\":\"4GET1T5\"}\n\
                   {\"entry_id\":\"a2\",\"plate\":\"4GET1T6\"\n\
                   {\"entry_id\":\"a3\",\"plate\":\"4GET1T7\",\"colour\":\"red\"}\n\
                   [1,2]\n";
        let errs = errors(bad.as_bytes(), &Format::JsonLines);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("line 2: EOF while parsing"), "{errs:?}");
        assert!(errs[1].starts_with("line 3: unknown field `colour`"), "{errs:?}");
        assert!(errs[2].starts_with("line 4: invalid type"), "{errs:?}");
    }

    #[test]
    fn skip_invalid_keeps_exactly_the_good_rows_up_to_the_threshold() {
        let lines: Vec<String> = (0..200)
            .map(|i| match i {
                7 => "LIC/BAD#1.NIC/VBAD1".to_string(),
                150 => "LIC/ABC150".to_string(),
                _ => format!("LIC/ABC{i}.NIC/V{i}"),
            })
            .collect();
        let file = lines.join("\n");
        let parsed = || parse_rows(file.as_bytes(), &Format::NcicFields, &options()).unwrap();
        let one_percent = Some(SkipInvalid { max_percent: 1.0 });
        let kept = accept(parsed(), one_percent).unwrap();
        assert_eq!(kept.entries.len(), 198);
        assert!(kept.entries.iter().all(|e| e.entry_id != "VBAD1"));
        let skipped: Vec<_> = kept.errors.iter().map(|e| e.line).collect();
        assert_eq!(skipped, [8, 151], "every skipped row is reported");
        assert!(
            matches!(accept(parsed(), None), Err(HotlistError::Rows(rows)) if rows.len() == 2),
            "without --skip-invalid a bad row refuses the file"
        );
        match accept(parsed(), Some(SkipInvalid { max_percent: 0.5 })) {
            Err(e @ HotlistError::TooManyInvalid { rows: 200, .. }) => assert!(
                e.to_string()
                    .starts_with("2 of 200 row(s) are bad, more than the 0.5% that may be skipped"),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn effective_dates_are_read_in_every_format() {
        let line = r#"{"entry_id":"a1","plate":"4GET1T5","effective_at":"2026-12-07T06:00:00-08:00"}"#;
        let entries = parse(line.as_bytes(), &Format::JsonLines, &options()).unwrap();
        assert_eq!(
            entries[0].effective_at.unwrap().to_rfc3339(),
            "2026-12-07T14:00:00+00:00"
        );
        let csv = "entry_id,list_id,plate,category,effective_at,expires_at\n\
                   a,ca-doj-stolen,7ABC123,bolo,2026-12-07T00:00:00Z,2026-12-06T00:00:00Z\n\
                   b,ca-doj-stolen,7ABC124,bolo,soon,\n";
        assert_eq!(
            errors(csv.as_bytes(), &Format::Delimited),
            vec![
                "line 2, column effective_at: must be before expires_at",
                "line 3, column effective_at: must be an RFC 3339 date-time with offset",
            ]
        );
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-08T00:00:00Z")
            .unwrap()
            .to_utc();
        let ncic = parse(b"LIC/ABC123.NIC/V1", &Format::NcicFields, &options()).unwrap();
        let dated = effective_from(ncic, at);
        assert_eq!(
            dated[0].effective_at,
            Some(at),
            "--effective-at for a format without dates"
        );
        let own = effective_from(entries, at);
        assert_eq!(
            own[0].effective_at.unwrap().to_rfc3339(),
            "2026-12-07T14:00:00+00:00",
            "an entry's own date wins"
        );
    }

    #[test]
    fn empty_and_oversized_uploads_are_refused_in_every_format() {
        for format in [
            Format::NcicFields,
            Format::JsonLines,
            Format::FixedWidth(Layout::default()),
            Format::Delimited,
        ] {
            assert!(
                matches!(parse(b"", &format, &options()), Err(HotlistError::Header(_))),
                "{format:?}"
            );
            assert!(
                matches!(parse(b" \n\r\n", &format, &options()), Err(HotlistError::Header(_))),
                "{format:?}"
            );
            let small = FeedOptions {
                limits: CsvLimits {
                    max_bytes: 10,
                    max_rows: 10,
                },
                ..options()
            };
            assert!(
                matches!(parse(&[b'x'; 11], &format, &small), Err(HotlistError::TooLarge { .. })),
                "{format:?}"
            );
        }
        assert_eq!(Format::parse("ncic"), Some(Format::NcicFields));
        assert_eq!(Format::parse("xml"), None);
    }
}
