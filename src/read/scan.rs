//! A hand-written, borrowing JSON parser for exactly the read record.
//!
//! It exists because parsing was most of the per-read cost (issue 16): a
//! general parser driven through serde's visitors spends its time on
//! dispatch, while this one walks the bytes once, matches the ten known keys
//! directly and borrows every string that has no escape. It must keep the
//! behaviour of the serde_json parse it replaced: a record that is not JSON
//! is a syntax error (`malformed_json`), JSON of the wrong shape (a missing,
//! duplicated or mistyped field) is a shape error (`schema`), unknown fields
//! are skipped without recursion however deep they nest, and nothing here
//! panics or allocates on a record without escapes or OCR candidates. Its
//! messages name fields and byte offsets, never values (they hold plates).

use std::borrow::Cow;

use uuid::Uuid;

use super::{Candidate, Location, MAX_CANDIDATES};

mod lexer;

use lexer::exact_f64;
#[cfg(test)]
use lexer::find_special;

/// Why the bytes are not a read record, before any field is validated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScanError {
    /// Not JSON at all (`malformed_json`).
    #[error("{what} at byte {at}")]
    Syntax { what: &'static str, at: usize },
    /// JSON, but not the read's shape (`schema`).
    #[error("{what}")]
    Shape { what: String },
}

fn shape(what: impl Into<String>) -> ScanError {
    ScanError::Shape { what: what.into() }
}

/// The record as it is on the wire; `read::validate` checks its values.
pub struct Wire<'a> {
    pub schema: Option<u32>,
    pub read_id: Uuid,
    pub camera_id: Cow<'a, str>,
    pub captured_at: Cow<'a, str>,
    pub plate: Cow<'a, str>,
    pub region: Option<Cow<'a, str>>,
    pub confidence: Option<f32>,
    pub location: Option<Location>,
    pub image_ref: Option<Cow<'a, str>>,
    /// At most `MAX_CANDIDATES + 1` are kept; [`Wire::too_many_candidates`] says whether more came.
    pub candidates: Vec<Candidate<'a>>,
    pub too_many_candidates: bool,
}

/// The members seen so far.
#[derive(Default)]
struct Partial<'a> {
    schema: Option<u32>,
    read_id: Option<Uuid>,
    camera_id: Option<Cow<'a, str>>,
    captured_at: Option<Cow<'a, str>>,
    plate: Option<Cow<'a, str>>,
    region: Option<Cow<'a, str>>,
    confidence: Option<f32>,
    location: Option<Location>,
    image_ref: Option<Cow<'a, str>>,
    candidates: Vec<Candidate<'a>>,
    too_many_candidates: bool,
}

/// Parses one record (already checked to be UTF-8) into its wire shape.
pub fn parse(text: &str) -> Result<Wire<'_>, ScanError> {
    let mut s = Scanner { text, pos: 0 };
    s.ws();
    match s.peek() {
        Some(b'{') => {}
        Some(b'[') => {
            // serde_json read an array as the fields in order and failed on
            // the first element's type; an empty or broken one is its own case.
            s.pos += 1;
            s.ws();
            if s.peek().is_none() {
                return Err(s.syntax("unexpected end of the record"));
            }
            return Err(shape("a read must be a JSON object"));
        }
        _ => {
            // Valid JSON of another kind is a shape error; anything else is not JSON.
            s.wrong_type::<()>("(the record)", "an object")?;
        }
    }
    let wire = s.record()?;
    s.end()?;
    Ok(wire)
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

/// Which of the record's keys a name is.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Schema,
    ReadId,
    CameraId,
    CapturedAt,
    Plate,
    Region,
    Confidence,
    Location,
    ImageRef,
    Candidates,
    Other,
}

impl Key {
    fn of(name: &str) -> Key {
        match name {
            "schema" => Key::Schema,
            "read_id" => Key::ReadId,
            "camera_id" => Key::CameraId,
            "captured_at" => Key::CapturedAt,
            "plate" => Key::Plate,
            "region" => Key::Region,
            "confidence" => Key::Confidence,
            "location" => Key::Location,
            "image_ref" => Key::ImageRef,
            "candidates" => Key::Candidates,
            _ => Key::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Key::Schema => "schema",
            Key::ReadId => "read_id",
            Key::CameraId => "camera_id",
            Key::CapturedAt => "captured_at",
            Key::Plate => "plate",
            Key::Region => "region",
            Key::Confidence => "confidence",
            Key::Location => "location",
            Key::ImageRef => "image_ref",
            Key::Candidates => "candidates",
            Key::Other => "(unknown)",
        }
    }
}

fn duplicate(field: &'static str) -> ScanError {
    shape(format!("duplicate field `{field}`"))
}

fn missing(field: &'static str) -> ScanError {
    shape(format!("missing field `{field}`"))
}

fn set<T>(slot: &mut Option<T>, field: &'static str, value: T) -> Result<(), ScanError> {
    if slot.is_some() {
        return Err(duplicate(field));
    }
    *slot = Some(value);
    Ok(())
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn syntax(&self, what: &'static str) -> ScanError {
        ScanError::Syntax { what, at: self.pos }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Skips whitespace and consumes `byte`, or fails with `what`.
    fn eat(&mut self, byte: u8, what: &'static str) -> Result<(), ScanError> {
        self.ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.eof_or(what))
        }
    }

    fn eof_or(&self, what: &'static str) -> ScanError {
        if self.pos >= self.text.len() {
            self.syntax("unexpected end of the record")
        } else {
            self.syntax(what)
        }
    }

    /// Only whitespace may follow the record.
    fn end(&mut self) -> Result<(), ScanError> {
        self.ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(self.syntax("trailing characters"))
        }
    }

    /// After a member: `,` then more (true), or the closing `close` (false).
    fn next_member(&mut self, close: u8) -> Result<bool, ScanError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.eof_or("expected `,` or the end of the object or array")),
        }
    }

    /// Consumes `{` and reports whether the object is empty (consuming `}`).
    fn open_object(&mut self) -> Result<bool, ScanError> {
        self.eat(b'{', "expected `{`")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A member's key and the `:` after it.
    fn key(&mut self) -> Result<Cow<'a, str>, ScanError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("expected a string key"));
        }
        let key = self.string()?;
        self.eat(b':', "expected `:`")?;
        self.ws();
        Ok(key)
    }

    fn record(&mut self) -> Result<Wire<'a>, ScanError> {
        let mut p = Partial::default();
        let mut seen = 0u16;
        if !self.open_object()? {
            loop {
                let key = Key::of(&self.key()?);
                if key != Key::Other {
                    let bit = 1 << key as u16;
                    if seen & bit != 0 {
                        return Err(duplicate(key.name()));
                    }
                    seen |= bit;
                }
                self.member(key, &mut p)?;
                if !self.next_member(b'}')? {
                    break;
                }
            }
        }
        Ok(Wire {
            schema: p.schema,
            read_id: p.read_id.ok_or_else(|| missing("read_id"))?,
            camera_id: p.camera_id.ok_or_else(|| missing("camera_id"))?,
            captured_at: p.captured_at.ok_or_else(|| missing("captured_at"))?,
            plate: p.plate.ok_or_else(|| missing("plate"))?,
            region: p.region,
            confidence: p.confidence,
            location: p.location,
            image_ref: p.image_ref,
            candidates: p.candidates,
            too_many_candidates: p.too_many_candidates,
        })
    }

    /// One member's value, by its key (seen for the first time).
    fn member(&mut self, key: Key, p: &mut Partial<'a>) -> Result<(), ScanError> {
        match key {
            Key::Schema => p.schema = self.nullable(Self::u32_value)?,
            Key::ReadId => p.read_id = Some(self.uuid()?),
            Key::CameraId => p.camera_id = Some(self.text_value("camera_id")?),
            Key::CapturedAt => p.captured_at = Some(self.text_value("captured_at")?),
            Key::Plate => p.plate = Some(self.text_value("plate")?),
            Key::Region => p.region = self.nullable(|s| s.text_value("region"))?,
            Key::Confidence => p.confidence = self.nullable(|s| s.f32_value("confidence"))?,
            Key::Location => p.location = self.nullable(Self::location)?,
            Key::ImageRef => p.image_ref = self.nullable(|s| s.text_value("image_ref"))?,
            Key::Candidates => {
                if !self.null()? {
                    self.candidates(p)?;
                }
            }
            Key::Other => self.skip_value()?,
        }
        Ok(())
    }

    /// Consumes `null` if it is next (whitespace already skipped).
    fn null(&mut self) -> Result<bool, ScanError> {
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Result<T, ScanError>) -> Result<Option<T>, ScanError> {
        if self.null()? {
            return Ok(None);
        }
        value(self).map(Some)
    }

    fn literal(&mut self, word: &'static str) -> Result<(), ScanError> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            return Ok(());
        }
        // Report where the literal stops matching (or ends).
        let rest = &self.bytes()[self.pos..];
        let same = rest.iter().zip(word.as_bytes()).take_while(|(a, b)| a == b).count();
        self.pos += same;
        Err(self.eof_or("expected a JSON value"))
    }

    /// A value that must be a string; any other valid JSON is a shape error.
    fn text_value(&mut self, field: &'static str) -> Result<Cow<'a, str>, ScanError> {
        if self.peek() == Some(b'"') {
            return self.string();
        }
        self.wrong_type(field, "a string")
    }

    /// Reads as much of the mistyped value as serde_json did (a string,
    /// number or literal whole; nothing of an object or array), so a value
    /// that is not JSON either is still a syntax error, then reports the
    /// shape error.
    fn wrong_type<T>(&mut self, field: &'static str, expected: &'static str) -> Result<T, ScanError> {
        match self.peek() {
            Some(b'{' | b'[') => {}
            Some(b'"') => {
                self.string()?;
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
            }
            Some(b't') => self.literal("true")?,
            Some(b'f') => self.literal("false")?,
            Some(b'n') => self.literal("null")?,
            _ => return Err(self.eof_or("expected a JSON value")),
        }
        Err(shape(format!("field `{field}` must be {expected}")))
    }

    fn uuid(&mut self) -> Result<Uuid, ScanError> {
        let text = self.text_value("read_id")?;
        Uuid::try_parse(&text).map_err(|_| shape("field `read_id` must be a UUID"))
    }

    fn u32_value(&mut self) -> Result<u32, ScanError> {
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return self.wrong_type("schema", "a whole number");
        }
        let number = self.number()?;
        number
            .parse::<u32>()
            .map_err(|_| shape("field `schema` must be a whole number"))
    }

    fn f64_value(&mut self, field: &'static str) -> Result<f64, ScanError> {
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return self.wrong_type(field, "a number");
        }
        let start = self.pos;
        let number = self.number()?;
        if let Some(v) = exact_f64(number) {
            return Ok(v);
        }
        match number.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(ScanError::Syntax {
                what: "number out of range",
                at: start,
            }),
        }
    }

    fn f32_value(&mut self, field: &'static str) -> Result<f32, ScanError> {
        // As serde does: the JSON number as f64, then narrowed.
        self.f64_value(field).map(|v| v as f32)
    }

    fn location(&mut self) -> Result<Location, ScanError> {
        match self.peek() {
            Some(b'{') => {}
            Some(b'[') => return self.location_seq(),
            _ => return self.wrong_type("location", "an object"),
        }
        let (mut lat, mut lon) = (None, None);
        if !self.open_object()? {
            loop {
                let key = self.key()?;
                match &*key {
                    "lat" => {
                        let v = self.f64_value("location.lat")?;
                        set(&mut lat, "lat", v)?
                    }
                    "lon" => {
                        let v = self.f64_value("location.lon")?;
                        set(&mut lon, "lon", v)?
                    }
                    _ => self.skip_value()?,
                }
                if !self.next_member(b'}')? {
                    break;
                }
            }
        }
        match (lat, lon) {
            (Some(lat), Some(lon)) => Ok(Location { lat, lon }),
            (None, _) => Err(missing("lat")),
            (_, None) => Err(missing("lon")),
        }
    }

    fn candidates(&mut self, w: &mut Partial<'a>) -> Result<(), ScanError> {
        if self.peek() != Some(b'[') {
            return self.wrong_type("candidates", "an array");
        }
        self.pos += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let candidate = self.candidate()?;
            if w.candidates.len() <= MAX_CANDIDATES {
                w.candidates.push(candidate);
            } else {
                w.too_many_candidates = true;
            }
            if !self.next_member(b']')? {
                return Ok(());
            }
        }
    }

    fn candidate(&mut self) -> Result<Candidate<'a>, ScanError> {
        match self.peek() {
            Some(b'{') => {}
            Some(b'[') => return self.candidate_seq(),
            _ => return self.wrong_type("candidates", "an array of objects"),
        }
        let (mut plate, mut confidence) = (None, None);
        if !self.open_object()? {
            loop {
                let key = self.key()?;
                match &*key {
                    "plate" => {
                        let v = self.text_value("candidates.plate")?;
                        set(&mut plate, "plate", v)?
                    }
                    "confidence" => {
                        if confidence.is_some() {
                            return Err(duplicate("confidence"));
                        }
                        confidence = Some(self.nullable(|s| s.f32_value("candidates.confidence"))?);
                    }
                    _ => self.skip_value()?,
                }
                if !self.next_member(b'}')? {
                    break;
                }
            }
        }
        Ok(Candidate {
            plate: plate.ok_or_else(|| missing("plate"))?,
            confidence: confidence.flatten(),
        })
    }

    /// `[lat, lon]`: serde read an object written as an array of its
    /// fields in order, and cameras may rely on it.
    fn location_seq(&mut self) -> Result<Location, ScanError> {
        self.pos += 1;
        if !self.seq_next(0)? {
            return Err(shape("field `location` as an array needs lat and lon"));
        }
        let lat = self.f64_value("location.lat")?;
        if !self.seq_next(1)? {
            return Err(shape("field `location` as an array needs lat and lon"));
        }
        let lon = self.f64_value("location.lon")?;
        self.seq_end()?;
        Ok(Location { lat, lon })
    }

    /// `[plate, confidence]` or `[plate]`, as serde read it.
    fn candidate_seq(&mut self) -> Result<Candidate<'a>, ScanError> {
        self.pos += 1;
        if !self.seq_next(0)? {
            return Err(shape("a candidate as an array needs a plate"));
        }
        let plate = self.text_value("candidates.plate")?;
        let confidence = if self.seq_next(1)? {
            self.nullable(|s| s.f32_value("candidates.confidence"))?
        } else {
            None
        };
        self.seq_end()?;
        Ok(Candidate { plate, confidence })
    }

    /// Before element `index` of an object written as an array: whether
    /// one follows (whitespace skipped), with serde_json's syntax checks.
    fn seq_next(&mut self, index: usize) -> Result<bool, ScanError> {
        self.ws();
        match self.peek() {
            Some(b']') => return Ok(false),
            Some(b',') if index > 0 => {
                self.pos += 1;
                self.ws();
            }
            Some(_) if index == 0 => {}
            _ => return Err(self.eof_or("expected `,` or `]`")),
        }
        match self.peek() {
            Some(b']') => Err(self.syntax("trailing comma")),
            Some(_) => Ok(true),
            None => Err(self.syntax("unexpected end of the record")),
        }
    }

    /// The `]` after the last field of an object written as an array.
    fn seq_end(&mut self) -> Result<(), ScanError> {
        self.ws();
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(self.eof_or("trailing characters in an array")),
        }
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
