//! Raw OCR plate text to a canonical plate, and region codes to a canonical region.
//!
//! Cameras and agencies write the same plate many ways: `7abc-123`, `7ABC 123`,
//! `７ＡＢＣ１２３` from a full-width keyboard, or `7АВС123` with Cyrillic capitals
//! pasted from a document. Matching only works if both sides are brought to one
//! form first, so every read and every hotlist entry passes through [`normalize`].
//!
//! This module is pure: no I/O, no allocation, no logging. It must never guess
//! at an OCR misreading (that is the matcher's job, which knows the tolerance a
//! list allows); it only removes what carries no identity (case, separators,
//! look-alike code points) and refuses what cannot be a plate.

use std::fmt;

/// The longest canonical plate accepted. US plates have at most 8 characters;
/// 10 leaves room for foreign and special plates.
pub const MAX_PLATE_LEN: usize = 10;

/// Why raw text is not a plate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// Nothing but separators, or nothing at all.
    #[error("plate is empty after removing separators")]
    Empty,
    /// More than [`MAX_PLATE_LEN`] letters and digits.
    #[error("plate is longer than {MAX_PLATE_LEN} characters")]
    TooLong,
    /// A character that is neither a letter, a digit, a separator nor a
    /// known look-alike. The plate text itself is not repeated here.
    #[error("plate has a character that cannot be on a plate (U+{code_point:04X}) at position {position}")]
    InvalidCharacter { position: usize, code_point: u32 },
    /// A region code that is not two or three ASCII letters.
    #[error("region must be 2 or 3 letters")]
    InvalidRegion,
}

/// A canonical plate: 1 to [`MAX_PLATE_LEN`] ASCII characters `A-Z0-9`.
///
/// It is `Copy` and stored inline, so the hot path never allocates for it.
/// `Debug` deliberately hides the text (a plate is personal data and must not
/// reach logs by accident); use [`Plate::as_str`] where the text is needed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plate {
    len: u8,
    bytes: [u8; MAX_PLATE_LEN],
}

impl Plate {
    /// The canonical text, `A-Z0-9` only.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        std::str::from_utf8(self.as_bytes()).expect("plate bytes are ASCII")
    }

    /// The canonical bytes, `A-Z0-9` only.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Number of characters (1 to [`MAX_PLATE_LEN`]).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: an empty plate cannot be built.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plate(<{} chars>)", self.len)
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds a [`Plate`] one character at a time.
struct PlateBuilder {
    plate: Plate,
}

impl PlateBuilder {
    fn new() -> Self {
        PlateBuilder {
            plate: Plate {
                len: 0,
                bytes: [0; MAX_PLATE_LEN],
            },
        }
    }

    fn push(&mut self, upper_ascii: u8) -> Result<(), NormalizeError> {
        let len = self.plate.len as usize;
        if len == MAX_PLATE_LEN {
            return Err(NormalizeError::TooLong);
        }
        self.plate.bytes[len] = upper_ascii;
        self.plate.len += 1;
        Ok(())
    }

    fn finish(self) -> Result<Plate, NormalizeError> {
        if self.plate.len == 0 {
            Err(NormalizeError::Empty)
        } else {
            Ok(self.plate)
        }
    }
}

/// Turns raw plate text into its canonical form.
///
/// Upper-cases ASCII letters; drops separators (white space, dashes, dots,
/// slashes, underscores, middle dots, zero-width characters) and the symbols
/// some states print on special plates (heart, star, hand, plus), which NCIC
/// entries leave out; folds full-width forms and the Cyrillic and Greek letters
/// that look Latin to ASCII. Anything else is refused.
///
/// ```
/// use hotlist_matcher::normalize::normalize;
/// assert_eq!(normalize("7abc-123").unwrap().as_str(), "7ABC123");
/// assert_eq!(normalize("７ＡＢＣ１２３").unwrap().as_str(), "7ABC123");
/// assert!(normalize(" - ").is_err());
/// ```
pub fn normalize(raw: &str) -> Result<Plate, NormalizeError> {
    let mut out = PlateBuilder::new();
    if raw.is_ascii() {
        for (position, &b) in raw.as_bytes().iter().enumerate() {
            if b.is_ascii_alphanumeric() {
                out.push(b.to_ascii_uppercase())?;
            } else if !is_ascii_separator(b) {
                return Err(NormalizeError::InvalidCharacter {
                    position,
                    code_point: u32::from(b),
                });
            }
        }
        return out.finish();
    }
    for (position, c) in raw.chars().enumerate() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase() as u8)?;
        } else if let Some(folded) = fold_look_alike(c) {
            out.push(folded)?;
        } else if !is_separator(c) {
            return Err(NormalizeError::InvalidCharacter {
                position,
                code_point: u32::from(c),
            });
        }
    }
    out.finish()
}

fn is_ascii_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'-' | b'.' | b'_' | b'/' | b'\\' | b'+' | b'\'' | b'"'
    )
}

/// Separators and the decorative symbols of special-interest plates.
fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return is_ascii_separator(c as u8);
    }
    c.is_whitespace()
        || matches!(
            c,
            '\u{00B7}'              // middle dot
            | '\u{2010}'..='\u{2015}' // hyphens and dashes
            | '\u{2212}'            // minus sign
            | '\u{2022}'            // bullet
            | '\u{200B}'..='\u{200D}' // zero-width space, non-joiner, joiner
            | '\u{2060}'            // word joiner
            | '\u{FEFF}'            // byte-order mark
            | '\u{30FB}'            // katakana middle dot
            | '\u{FF0D}' | '\u{FF0E}' | '\u{FF0F}' | '\u{FF3F}' // full-width - . / _
            | '\u{2665}' | '\u{2764}' // heart (California "kids" plates)
            | '\u{2605}' | '\u{2606}' // star
            | '\u{270B}'            // raised hand
            | '\u{271A}' | '\u{FF0B}' // heavy and full-width plus
        )
}

/// Maps a non-ASCII character that looks like a Latin capital or digit to it.
fn fold_look_alike(c: char) -> Option<u8> {
    let code = u32::from(c);
    // Full-width digits and letters: U+FF10..FF19, U+FF21..FF3A, U+FF41..FF5A.
    if (0xFF10..=0xFF19).contains(&code) || (0xFF21..=0xFF3A).contains(&code) || (0xFF41..=0xFF5A).contains(&code) {
        return Some(((code - 0xFEE0) as u8).to_ascii_uppercase());
    }
    let latin = match c {
        // Cyrillic, capital and small.
        'А' | 'а' => 'A',
        'В' | 'в' => 'B',
        'Е' | 'е' | 'Ё' | 'ё' => 'E',
        'К' | 'к' => 'K',
        'М' | 'м' => 'M',
        'Н' | 'н' => 'H',
        'О' | 'о' => 'O',
        'Р' | 'р' => 'P',
        'С' | 'с' => 'C',
        'Т' | 'т' => 'T',
        'У' | 'у' => 'Y',
        'Х' | 'х' => 'X',
        'І' | 'і' => 'I',
        'Ј' | 'ј' => 'J',
        'Ѕ' | 'ѕ' => 'S',
        'Ԛ' | 'ԛ' => 'Q',
        'Ԝ' | 'ԝ' => 'W',
        // Greek capitals, and the small letters that look like Latin ones.
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' | 'κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' | 'ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        _ => return None,
    };
    Some(latin as u8)
}

/// A canonical region (state or province) code: 2 or 3 ASCII capitals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region {
    len: u8,
    bytes: [u8; 3],
}

impl Region {
    /// The code, e.g. `CA`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).expect("region bytes are ASCII")
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.as_str())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Canonicalises a region code: trims, upper-cases, accepts 2 or 3 letters
/// (`ca` → `CA`, `US-CA` → `CA`).
pub fn normalize_region(raw: &str) -> Result<Region, NormalizeError> {
    let trimmed = raw.trim();
    let code = trimmed
        .strip_prefix("US-")
        .or_else(|| trimmed.strip_prefix("us-"))
        .unwrap_or(trimmed);
    let bytes = code.as_bytes();
    if !(2..=3).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_alphabetic) {
        return Err(NormalizeError::InvalidRegion);
    }
    let mut region = Region {
        len: bytes.len() as u8,
        bytes: [0; 3],
    };
    for (slot, b) in region.bytes.iter_mut().zip(bytes) {
        *slot = b.to_ascii_uppercase();
    }
    Ok(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_world_plates_normalize_to_one_form() {
        let cases = [
            ("7ABC123", "7ABC123"),                 // California standard
            ("7abc123", "7ABC123"),                 // lower case from a hand entry
            ("7ABC-123", "7ABC123"),                // dash as printed on some states
            ("7 ABC 123", "7ABC123"),               // spaces
            ("7.ABC.123", "7ABC123"),               // dots from a CSV export
            ("ABC·1234", "ABC1234"),                // middle dot (Texas style)
            ("ABC\u{2013}1234", "ABC1234"),         // en dash from a word processor
            ("  ab c1 23\t", "ABC123"),             // stray white space
            ("\u{200B}ABC1234\u{FEFF}", "ABC1234"), // zero-width and BOM
            ("７ＡＢＣ１２３", "7ABC123"),          // full-width
            ("７ａｂｃ－１２３", "7ABC123"),        // full-width lower case and dash
            ("7АВС123", "7ABC123"),                 // Cyrillic А, В, С
            ("КНМ123", "KHM123"),                   // Cyrillic К, Н, М
            ("ΑΒΕ1234", "ABE1234"),                 // Greek capitals
            ("I\u{2665}NY", "INY"),                 // heart on a special plate
            ("KIDS\u{2605}1", "KIDS1"),             // star
            ("4GETIT", "4GETIT"),                   // vanity
            ("1", "1"),                             // shortest
            ("ABCDEFGHIJ", "ABCDEFGHIJ"),           // exactly the limit
            ("ABC-DEF-GHI-J", "ABCDEFGHIJ"),        // limit after separators
        ];
        for (raw, want) in cases {
            let got = normalize(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(got.as_str(), want, "raw {raw:?}");
            assert_eq!(got.len(), want.len());
        }
    }

    #[test]
    fn impossible_plates_are_refused_with_a_reason() {
        let cases = [
            ("", NormalizeError::Empty),
            ("   ", NormalizeError::Empty),
            ("- . -", NormalizeError::Empty),
            ("ABCDEFGHIJK", NormalizeError::TooLong),
            ("７ＡＢＣ１２３４５６７８", NormalizeError::TooLong),
            (
                "ABC#123",
                NormalizeError::InvalidCharacter {
                    position: 3,
                    code_point: '#' as u32,
                },
            ),
            (
                "ABÇ123",
                NormalizeError::InvalidCharacter {
                    position: 2,
                    code_point: 'Ç' as u32,
                },
            ),
            (
                "AB\u{0}1",
                NormalizeError::InvalidCharacter {
                    position: 2,
                    code_point: 0,
                },
            ),
            (
                "名古屋500",
                NormalizeError::InvalidCharacter {
                    position: 0,
                    code_point: '名' as u32,
                },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw), Err(want), "raw {raw:?}");
        }
    }

    #[test]
    fn an_oversized_input_fails_fast_without_reading_it_all() {
        let huge = "A".repeat(1 << 20);
        assert_eq!(normalize(&huge), Err(NormalizeError::TooLong));
    }

    #[test]
    fn debug_output_never_shows_the_plate() {
        let plate = normalize("7ABC123").unwrap();
        assert_eq!(format!("{plate:?}"), "Plate(<7 chars>)");
        assert_eq!(plate.to_string(), "7ABC123");
    }

    #[test]
    fn regions_are_canonical() {
        for (raw, want) in [
            ("CA", "CA"),
            ("ca", "CA"),
            (" nv ", "NV"),
            ("US-AZ", "AZ"),
            ("QRO", "QRO"),
        ] {
            assert_eq!(normalize_region(raw).unwrap().as_str(), want);
        }
        for raw in ["", "C", "CALI", "C1", "C-A", "ÇA"] {
            assert_eq!(normalize_region(raw), Err(NormalizeError::InvalidRegion), "{raw:?}");
        }
    }
}
