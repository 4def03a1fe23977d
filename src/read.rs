//! The plate-read record cameras publish to `alpr.reads`, and its parsing.
//!
//! A read is untrusted input from a device on a pole: it may be truncated,
//! not UTF-8, not JSON, missing fields, or far too large. [`parse`] turns raw
//! bytes into a validated [`PlateRead`] or a [`ReadError`] that says exactly
//! why not, so the pipeline can send the original bytes to the dead-letter
//! topic and carry on. It borrows from the input and allocates only for OCR
//! candidates and escaped text, because it runs once per read on the hot
//! path; the JSON itself is read by the hand-written parser in [`scan`].
//!
//! Schema (version 1, documented in `docs/SCHEMAS.md`): `read_id` (UUID),
//! `camera_id`, `captured_at` (RFC 3339), `plate` (raw OCR text), and the
//! optional `schema`, `region`, `confidence`, `location`, `image_ref`,
//! `candidates`. Unknown fields are ignored so cameras can add their own.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use uuid::Uuid;

use crate::normalize::{normalize_region, NormalizeError, Region};
use crate::text::Redacted;

mod scan;

/// The newest read schema this build understands.
pub const SCHEMA_VERSION: u32 = 1;
/// Longest accepted `camera_id`, in bytes.
pub const MAX_CAMERA_ID_LEN: usize = 128;
/// Longest accepted raw `plate` or candidate text, in bytes.
pub const MAX_RAW_PLATE_LEN: usize = 64;
/// Most OCR candidates kept from one read.
pub const MAX_CANDIDATES: usize = 16;
/// Longest accepted `image_ref`, in bytes.
pub const MAX_IMAGE_REF_LEN: usize = 2048;

/// Why a record is not a usable read. Each has a stable [`ReadError::code`]
/// for the dead-letter header and the metric label.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("record is {size} bytes, more than the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("record is empty")]
    Empty,
    #[error("record is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("record is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("record does not match the read schema: {0}")]
    Schema(String),
    #[error("schema version {0} is not supported (newest known: {SCHEMA_VERSION})")]
    UnsupportedVersion(u32),
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: &'static str },
    #[error("plate is not usable: {0}")]
    Plate(NormalizeError),
    #[error("captured more than {max_days} days ago: past the retention, not processed")]
    TooOld { max_days: u64 },
    #[error("sealed record cannot be opened: {0}")]
    Unopenable(&'static str),
}

// Not `#[from]`: the message carries the cause, which as a source too would
// be printed twice.
impl From<NormalizeError> for ReadError {
    fn from(error: NormalizeError) -> Self {
        ReadError::Plate(error)
    }
}

impl ReadError {
    /// A short, stable, data-free code for headers and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::TooLarge { .. } => "too_large",
            ReadError::Empty => "empty",
            ReadError::InvalidUtf8 { .. } => "invalid_utf8",
            ReadError::MalformedJson(_) => "malformed_json",
            ReadError::Schema(_) => "schema",
            ReadError::UnsupportedVersion(_) => "unsupported_version",
            ReadError::InvalidField { .. } => "invalid_field",
            ReadError::Plate(_) => "invalid_plate",
            ReadError::TooOld { .. } => "too_old",
            ReadError::Unopenable(_) => "unopenable",
        }
    }

    /// Every code [`ReadError::code`] can return, for pre-registering metrics.
    pub const CODES: [&'static str; 10] = [
        "too_large",
        "empty",
        "invalid_utf8",
        "malformed_json",
        "schema",
        "unsupported_version",
        "invalid_field",
        "invalid_plate",
        "too_old",
        "unopenable",
    ];
}

/// A camera position in WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// One alternative reading from the OCR engine. Its `Debug` hides the plate.
#[derive(Clone, PartialEq, Deserialize)]
pub struct Candidate<'a> {
    #[serde(borrow)]
    pub plate: Cow<'a, str>,
    #[serde(default)]
    pub confidence: Option<f32>,
}

/// A validated plate read, borrowing its text from the record bytes. Its
/// `Debug` hides the plate and the candidates' plates.
#[derive(Clone, PartialEq)]
pub struct PlateRead<'a> {
    pub read_id: Uuid,
    pub camera_id: Cow<'a, str>,
    pub captured_at: DateTime<FixedOffset>,
    /// The plate exactly as the OCR engine wrote it.
    pub plate: Cow<'a, str>,
    pub region: Option<Region>,
    pub confidence: Option<f32>,
    pub location: Option<Location>,
    pub image_ref: Option<Cow<'a, str>>,
    pub candidates: Vec<Candidate<'a>>,
}

impl std::fmt::Debug for Candidate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("plate", &Redacted(&self.plate))
            .field("confidence", &self.confidence)
            .finish()
    }
}

impl std::fmt::Debug for PlateRead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlateRead")
            .field("read_id", &self.read_id)
            .field("camera_id", &self.camera_id)
            .field("captured_at", &self.captured_at)
            .field("plate", &Redacted(&self.plate))
            .field("region", &self.region)
            .field("confidence", &self.confidence)
            .field("location", &self.location)
            .field("image_ref", &self.image_ref)
            .field("candidates", &self.candidates)
            .finish()
    }
}

/// Parses and validates one record of at most `max_bytes` bytes.
pub fn parse(bytes: &[u8], max_bytes: usize) -> Result<PlateRead<'_>, ReadError> {
    if bytes.len() > max_bytes {
        return Err(ReadError::TooLarge {
            size: bytes.len(),
            max: max_bytes,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::Empty);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ReadError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let wire = scan::parse(text).map_err(|e| match e {
        scan::ScanError::Syntax { .. } => ReadError::MalformedJson(e.to_string()),
        scan::ScanError::Shape { .. } => ReadError::Schema(e.to_string()),
    })?;
    validate(wire)
}

fn validate(wire: scan::Wire<'_>) -> Result<PlateRead<'_>, ReadError> {
    let version = wire.schema.unwrap_or(SCHEMA_VERSION);
    if version == 0 || version > SCHEMA_VERSION {
        return Err(ReadError::UnsupportedVersion(version));
    }
    check_text("camera_id", &wire.camera_id, MAX_CAMERA_ID_LEN)?;
    check_text("plate", &wire.plate, MAX_RAW_PLATE_LEN)?;
    if let Some(image_ref) = &wire.image_ref {
        check_text("image_ref", image_ref, MAX_IMAGE_REF_LEN)?;
    }
    check_confidence("confidence", wire.confidence)?;
    // RFC 3339 only; the dedicated parser is several times faster than serde's.
    let captured_at = DateTime::parse_from_rfc3339(&wire.captured_at)
        .map_err(|_| invalid("captured_at", "must be an RFC 3339 date-time with offset"))?;
    if let Some(location) = wire.location {
        let ok = (-90.0..=90.0).contains(&location.lat) && (-180.0..=180.0).contains(&location.lon);
        if !ok {
            return Err(invalid("location", "lat must be within ±90 and lon within ±180"));
        }
    }
    let region = match wire.region.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(normalize_region(raw).map_err(|_| invalid("region", "must be 2 or 3 letters"))?),
    };
    let candidates = wire.candidates;
    if wire.too_many_candidates || candidates.len() > MAX_CANDIDATES {
        return Err(invalid("candidates", "more than 16 candidates"));
    }
    for candidate in &candidates {
        check_text("candidates.plate", &candidate.plate, MAX_RAW_PLATE_LEN)?;
        check_confidence("candidates.confidence", candidate.confidence)?;
    }
    Ok(PlateRead {
        read_id: wire.read_id,
        camera_id: wire.camera_id,
        captured_at,
        plate: wire.plate,
        region,
        confidence: wire.confidence,
        location: wire.location,
        image_ref: wire.image_ref,
        candidates,
    })
}

fn invalid(field: &'static str, reason: &'static str) -> ReadError {
    ReadError::InvalidField { field, reason }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), ReadError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(invalid(field, "is too long"));
    }
    let control = if value.is_ascii() {
        // Not short-circuiting, so it compiles to a vector loop.
        value.bytes().fold(false, |found, b| found | (b < 0x20) | (b == 0x7F))
    } else {
        value.chars().any(char::is_control)
    };
    if control {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

fn check_confidence(field: &'static str, value: Option<f32>) -> Result<(), ReadError> {
    match value {
        Some(c) if !(0.0..=1.0).contains(&c) => Err(invalid(field, "must be between 0 and 1")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64 * 1024;
    const GOOD: &str = r#"{"schema":1,"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"coachella-hwy111-n","captured_at":"2026-11-27T03:12:45.120-08:00","plate":"7abc-123","region":"ca","confidence":0.91,"location":{"lat":33.6803,"lon":-116.1739},"image_ref":"s3://cam/1.jpg","candidates":[{"plate":"7ABC123","confidence":0.91},{"plate":"7A8C123","confidence":0.62}],"vendor_extra":{"x":1}}"#;

    #[test]
    fn a_full_record_parses_and_ignores_unknown_fields() {
        let read = parse(GOOD.as_bytes(), MAX).unwrap();
        assert_eq!(read.read_id.to_string(), "6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a");
        assert_eq!(read.camera_id, "coachella-hwy111-n");
        assert_eq!(read.captured_at.to_rfc3339(), "2026-11-27T03:12:45.120-08:00");
        assert_eq!(read.plate, "7abc-123");
        assert_eq!(read.region.unwrap().as_str(), "CA");
        assert_eq!(read.confidence, Some(0.91));
        assert_eq!(
            read.location,
            Some(Location {
                lat: 33.6803,
                lon: -116.1739
            })
        );
        assert_eq!(read.image_ref.as_deref(), Some("s3://cam/1.jpg"));
        assert_eq!(read.candidates.len(), 2);
        assert_eq!(read.candidates[1].plate, "7A8C123");
        assert_eq!(read.candidates[1].confidence, Some(0.62));
    }

    #[test]
    fn a_minimal_record_parses() {
        let raw = r#"{"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"c1","captured_at":"2026-11-27T11:12:45Z","plate":"ABC123"}"#;
        let read = parse(raw.as_bytes(), MAX).unwrap();
        assert_eq!(read.region, None);
        assert_eq!(read.candidates, vec![]);
        assert_eq!(read.location, None);
    }

    #[test]
    fn escaped_text_is_decoded() {
        let raw = r#"{"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"c\u0031","captured_at":"2026-11-27T11:12:45Z","plate":"\u0410BC123"}"#;
        let read = parse(raw.as_bytes(), MAX).unwrap();
        assert_eq!(read.camera_id, "c1");
        assert_eq!(read.plate, "АBC123");
    }

    #[test]
    fn broken_and_hostile_records_get_the_right_code() {
        let id = "6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a";
        let with = |fields: &str| {
            format!(r#"{{"read_id":"{id}","camera_id":"c1","captured_at":"2026-11-27T11:12:45Z",{fields}}}"#)
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "empty"),
            (b"  \n".to_vec(), "empty"),
            (vec![b'{', 0xff, 0xfe, b'}'], "invalid_utf8"),
            (b"{\"read_id\":".to_vec(), "malformed_json"),
            (b"not json at all".to_vec(), "malformed_json"),
            (
                format!("{}trailing", with(r#""plate":"A1""#)).into_bytes(),
                "malformed_json",
            ),
            (b"[1,2,3]".to_vec(), "schema"),
            (b"null".to_vec(), "schema"),
            (
                format!(r#"{{"read_id":"{id}","camera_id":"c1","captured_at":"2026-11-27T11:12:45Z"}}"#).into_bytes(),
                "schema",
            ),
            (with(r#""plate":12345"#).into_bytes(), "schema"),
            (with(r#""plate":"A1","captured_at":"yesterday""#).into_bytes(), "schema"),
            (
                r#"{"read_id":"not-a-uuid","camera_id":"c1","captured_at":"2026-11-27T11:12:45Z","plate":"A1"}"#
                    .as_bytes()
                    .to_vec(),
                "schema",
            ),
            (with(r#""plate":"A1","schema":2"#).into_bytes(), "unsupported_version"),
            (with(r#""plate":"A1","confidence":1.5"#).into_bytes(), "invalid_field"),
            (
                with(r#""plate":"A1","region":"California""#).into_bytes(),
                "invalid_field",
            ),
            (
                with(r#""plate":"A1","location":{"lat":95,"lon":0}"#).into_bytes(),
                "invalid_field",
            ),
            (with(r#""plate":"   ""#).into_bytes(), "invalid_field"),
            (
                with(&format!(r#""plate":"{}""#, "A".repeat(65))).into_bytes(),
                "invalid_field",
            ),
            (with(r#""plate":"A\u0000B""#).into_bytes(), "invalid_field"),
            (
                with(&format!(
                    r#""plate":"A1","candidates":[{}]"#,
                    vec![r#"{"plate":"A1"}"#; 17].join(",")
                ))
                .into_bytes(),
                "invalid_field",
            ),
            (vec![b' '; MAX + 1], "too_large"),
        ];
        for (bytes, code) in cases {
            let err = parse(&bytes, MAX).expect_err(&String::from_utf8_lossy(&bytes));
            assert_eq!(err.code(), code, "{err} for {:?}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn deeply_nested_json_is_refused_not_a_stack_overflow() {
        let raw = format!(r#"{{"vendor":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
        // Skipped without recursion; then the required fields are missing.
        assert_eq!(parse(raw.as_bytes(), MAX).unwrap_err().code(), "schema");
    }

    #[test]
    fn every_code_is_listed() {
        let all = [
            ReadError::TooLarge { size: 1, max: 0 },
            ReadError::Empty,
            ReadError::InvalidUtf8 { offset: 0 },
            ReadError::MalformedJson(String::new()),
            ReadError::Schema(String::new()),
            ReadError::UnsupportedVersion(9),
            invalid("x", "y"),
            ReadError::Plate(NormalizeError::Empty),
            ReadError::TooOld { max_days: 30 },
            ReadError::Unopenable("no key"),
        ];
        let codes: Vec<_> = all.iter().map(ReadError::code).collect();
        assert_eq!(codes, ReadError::CODES.to_vec());
    }
}
