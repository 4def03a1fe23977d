//! Fuzzes the plate and region normalizers in `hotlist_matcher::normalize`
//! (`normalize` and `normalize_region`) with arbitrary UTF-8 text (inputs
//! that are not UTF-8 are skipped: both take `&str`). It asserts that neither
//! panics; that an accepted plate is 1 to `MAX_PLATE_LEN` characters of
//! `A-Z0-9` and is a fixed point (normalizing its canonical text again gives
//! the same plate); that an `InvalidCharacter` error names the character
//! actually at that position; and that an accepted region is 2 or 3 ASCII
//! capitals and likewise a fixed point.
#![no_main]

use hotlist_matcher::normalize::{normalize, normalize_region, NormalizeError, MAX_PLATE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    match normalize(raw) {
        Ok(plate) => {
            let text = plate.as_str();
            assert!((1..=MAX_PLATE_LEN).contains(&plate.len()), "length {}", plate.len());
            assert_eq!(text.len(), plate.len());
            assert!(
                text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                "not canonical: {text:?}"
            );
            assert_eq!(normalize(text), Ok(plate), "not idempotent: {text:?}");
        }
        Err(NormalizeError::InvalidCharacter { position, code_point }) => {
            let at = raw.chars().nth(position).map(u32::from);
            assert_eq!(at, Some(code_point), "error names the wrong character");
        }
        Err(NormalizeError::Empty | NormalizeError::TooLong) => {}
        Err(NormalizeError::InvalidRegion) => panic!("normalize returned a region error"),
    }
    if let Ok(region) = normalize_region(raw) {
        let code = region.as_str();
        assert!((2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase()));
        assert_eq!(normalize_region(code), Ok(region), "region not idempotent: {code:?}");
    }
});
