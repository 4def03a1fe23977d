//! Fuzzes the plate-read record parser, `hotlist_matcher::read::parse`, with
//! arbitrary bytes (a camera's record off `alpr.reads`: maybe not UTF-8, not
//! JSON, or not a read). It asserts that the parser never panics and that
//! every outcome is either a `ReadError` with one of the stable dead-letter
//! codes in `ReadError::CODES`, or a read that satisfies the documented
//! schema bounds (field lengths, no control characters, confidence 0..=1,
//! location in range, at most 16 candidates, a 2-3 letter region). The read's
//! plate and candidates are then normalized as the pipeline does, which must
//! not panic either.
#![no_main]

use hotlist_matcher::normalize::normalize;
use hotlist_matcher::read::{self, ReadError};
use libfuzzer_sys::fuzz_target;

/// A little under `-max_len` (4096, scripts/fuzz.sh), so the size check is reached too.
const MAX_BYTES: usize = 4000;

fn text_ok(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

fn confidence_ok(c: Option<f32>) -> bool {
    c.is_none_or(|c| (0.0..=1.0).contains(&c))
}

fuzz_target!(|data: &[u8]| {
    match read::parse(data, MAX_BYTES) {
        Err(e) => {
            assert!(ReadError::CODES.contains(&e.code()), "unknown code {}", e.code());
            // The reason goes into a dead-letter header: formatting must not panic.
            let _ = e.to_string();
        }
        Ok(r) => {
            assert!(data.len() <= MAX_BYTES);
            assert!(text_ok(&r.camera_id, read::MAX_CAMERA_ID_LEN), "camera_id");
            assert!(text_ok(&r.plate, read::MAX_RAW_PLATE_LEN), "plate");
            if let Some(image_ref) = &r.image_ref {
                assert!(text_ok(image_ref, read::MAX_IMAGE_REF_LEN), "image_ref");
            }
            assert!(confidence_ok(r.confidence), "confidence");
            if let Some(loc) = r.location {
                assert!((-90.0..=90.0).contains(&loc.lat) && (-180.0..=180.0).contains(&loc.lon));
            }
            if let Some(region) = r.region {
                let code = region.as_str();
                assert!((2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase()));
            }
            assert!(r.candidates.len() <= read::MAX_CANDIDATES);
            for c in &r.candidates {
                assert!(text_ok(&c.plate, read::MAX_RAW_PLATE_LEN), "candidate plate");
                assert!(confidence_ok(c.confidence), "candidate confidence");
                let _ = normalize(&c.plate);
            }
            let _ = normalize(&r.plate);
        }
    }
});
