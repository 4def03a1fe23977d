//! Tests of the hand-written read parser, most of them against the serde_json
//! parse it replaced (kept here as the reference): every record built by
//! truncating, mutating or deleting bytes of real records must get the same
//! verdict (syntax error, shape error, or the same fields) from both.

use std::borrow::Cow;

use serde::Deserialize;

use super::*;

/// The serde_json wire shape the service used before issue 16.
#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(default)]
    schema: Option<u32>,
    read_id: Uuid,
    #[serde(borrow)]
    camera_id: Cow<'a, str>,
    #[serde(borrow)]
    captured_at: Cow<'a, str>,
    #[serde(borrow)]
    plate: Cow<'a, str>,
    #[serde(default, borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(default)]
    confidence: Option<f32>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default, borrow)]
    image_ref: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    candidates: Option<Vec<Candidate<'a>>>,
}

/// One verdict, comparable across the two parsers.
#[derive(Debug, PartialEq)]
enum Verdict {
    Syntax,
    Shape,
    Read(String),
}

fn describe(fields: impl std::fmt::Debug, optional: impl std::fmt::Debug, candidates: &[Candidate<'_>]) -> Verdict {
    let candidates: Vec<_> = candidates.iter().map(|c| (c.plate.to_string(), c.confidence)).collect();
    Verdict::Read(format!("{fields:?} {optional:?} {candidates:?}"))
}

fn reference(text: &str) -> Verdict {
    match serde_json::from_str::<Reference<'_>>(text) {
        Ok(w) => {
            let candidates = w.candidates.unwrap_or_default();
            describe(
                (&w.schema, &w.read_id, &w.camera_id, &w.captured_at, &w.plate),
                (&w.region, &w.confidence, &w.location, &w.image_ref),
                &candidates[..candidates.len().min(MAX_CANDIDATES + 1)],
            )
        }
        Err(e) if e.is_data() => Verdict::Shape,
        Err(_) => Verdict::Syntax,
    }
}

fn scanned(text: &str) -> Verdict {
    match parse(text) {
        Ok(w) => describe(
            (&w.schema, &w.read_id, &w.camera_id, &w.captured_at, &w.plate),
            (&w.region, &w.confidence, &w.location, &w.image_ref),
            &w.candidates,
        ),
        Err(ScanError::Syntax { .. }) => Verdict::Syntax,
        Err(ScanError::Shape { .. }) => Verdict::Shape,
    }
}

const FULL: &str = r#"{"schema":1,"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"coachella-hwy111-n","captured_at":"2026-11-27T03:12:45.120-08:00","plate":"7abc-123","region":"ca","confidence":0.91,"location":{"lat":33.6803,"lon":-116.1739},"image_ref":"s3://cam/1.jpg","candidates":[{"plate":"7ABC123","confidence":0.91},{"plate":"7A8C123","confidence":null}],"vendor_extra":{"x":[1,true,false,null,"y",{"z":-1.5e3}]}}"#;
const ESCAPED: &str = r#" {"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"c\u0031\n","captured_at":"2026-11-27T11:12:45Z","plate":"\u0410B\"C\\1\/23\ud83d\ude97","region":null,"location":null,"candidates":null,"schema":null} "#;

fn agree(text: &str) {
    assert_eq!(scanned(text), reference(text), "for {text:?}");
}

#[test]
fn whole_records_agree_with_serde_json() {
    agree(FULL);
    agree(ESCAPED);
    assert!(matches!(scanned(FULL), Verdict::Read(_)));
    assert!(matches!(scanned(ESCAPED), Verdict::Read(_)));
}

#[test]
fn every_truncation_agrees_with_serde_json() {
    for record in [FULL, ESCAPED] {
        for end in (0..record.len()).filter(|&i| record.is_char_boundary(i)) {
            agree(&record[..end]);
        }
    }
}

#[test]
fn every_deleted_byte_and_every_mutation_agrees_with_serde_json() {
    const BYTES: &[u8] = b"\"{}[],:\\ a0-1.eEn+\x01tfu";
    for record in [FULL, ESCAPED] {
        let bytes = record.as_bytes();
        for i in 0..bytes.len() {
            let mut deleted = bytes.to_vec();
            deleted.remove(i);
            if let Ok(text) = std::str::from_utf8(&deleted) {
                agree(text);
            }
            for &b in BYTES {
                let mut mutated = bytes.to_vec();
                mutated[i] = b;
                if let Ok(text) = std::str::from_utf8(&mutated) {
                    agree(text);
                }
            }
        }
    }
}

#[test]
fn hand_picked_cases_agree_with_serde_json() {
    let id = "6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a";
    let base = format!(r#""read_id":"{id}","camera_id":"c1","captured_at":"2026-11-27T11:12:45Z","plate":"A1""#);
    let cases = [
        "{}".to_string(),
        "[]".to_string(),
        "[1,2,3]".to_string(),
        "null".to_string(),
        "true".to_string(),
        "12".to_string(),
        "-".to_string(),
        "\"text\"".to_string(),
        format!("{{{base}}}"),
        format!("{{{base},\"schema\":1.0}}"),
        format!("{{{base},\"schema\":-1}}"),
        format!("{{{base},\"schema\":99999999999999999999999}}"),
        format!("{{{base},\"confidence\":1e400}}"),
        format!("{{{base},\"confidence\":-0}}"),
        format!("{{{base},\"confidence\":\"high\"}}"),
        format!("{{{base},\"confidence\":null,\"confidence\":0.5}}"),
        format!("{{{base},\"region\":null,\"region\":\"CA\"}}"),
        format!("{{{base},\"plate\":\"B2\"}}"),
        format!("{{{base},\"vendor\":1,\"vendor\":2}}"),
        format!("{{{base},\"location\":{{\"lat\":1}}}}"),
        format!("{{{base},\"location\":{{\"lat\":1,\"lon\":2,\"lat\":3}}}}"),
        format!("{{{base},\"location\":{{\"lat\":1,\"lon\":2,\"alt\":[{{}}]}}}}"),
        format!("{{{base},\"candidates\":[{{\"confidence\":0.5}}]}}"),
        format!("{{{base},\"candidates\":[{{\"plate\":\"A\",\"plate\":\"B\"}}]}}"),
        format!("{{{base},\"candidates\":[1]}}"),
        format!("{{{base},\"candidates\":[[\"A\"],[\"B\",0.5],[\"C\",null]]}}"),
        format!("{{{base},\"candidates\":[[\"A\",0.5,1]]}}"),
        format!("{{{base},\"candidates\":[[]]}}"),
        format!("{{{base},\"location\":[1,2]}}"),
        format!("{{{base},\"location\":[1]}}"),
        format!("{{{base},\"location\":[1,2,]}}"),
        format!("{{{base},\"candidates\":{{}}}}"),
        format!("{{{base},\"candidates\":[],\"candidates\":[]}}"),
        format!("{{{base},\"candidates\":null,\"candidates\":[]}}"),
        format!("{{{base},\"x\":\"\\ud800\"}}"),
        format!("{{{base},\"x\":\"\\udc00\"}}"),
        format!("{{{base},\"x\":\"\\ud800\\u0041\"}}"),
        format!("{{{base},\"x\":\"\\q\"}}"),
        format!("{{{base},\"x\":01}}"),
        format!("{{{base},\"x\":1.}}"),
        format!("{{{base},\"x\":1e}}"),
        format!("{{{base},\"x\":[1,]}}"),
        format!("{{{base},}}"),
        format!("{{{base}}}x"),
        format!("{{\"read\\u005fid\":\"{id}\",\"camera_id\":\"c1\",\"captured_at\":\"t\",\"plate\":\"A1\"}}"),
        format!(
            "{{\"read_id\":\"{}\",\"camera_id\":\"c1\",\"captured_at\":\"t\",\"plate\":\"A1\"}}",
            id.replace('-', "")
        ),
        format!("{{\"read_id\":\"urn:uuid:{id}\",\"camera_id\":\"c1\",\"captured_at\":\"t\",\"plate\":\"A1\"}}"),
    ];
    for case in &cases {
        agree(case);
    }
}

#[test]
fn more_than_the_kept_candidates_are_counted_not_stored() {
    let id = "6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a";
    let candidates = vec![r#"{"plate":"A1"}"#; 40].join(",");
    let text =
        format!(r#"{{"read_id":"{id}","camera_id":"c1","captured_at":"t","plate":"A1","candidates":[{candidates}]}}"#);
    let wire = parse(&text).unwrap();
    assert_eq!(wire.candidates.len(), MAX_CANDIDATES + 1);
    assert!(wire.too_many_candidates);
}

#[test]
fn unescaped_text_is_borrowed_and_escaped_text_owned() {
    let wire = parse(FULL).unwrap();
    assert!(matches!(wire.plate, Cow::Borrowed("7abc-123")));
    let wire = parse(ESCAPED).unwrap();
    assert!(matches!(wire.camera_id, Cow::Owned(ref s) if s == "c1\n"));
    assert_eq!(wire.plate, "АB\"C\\1/23\u{1F697}");
}

#[test]
fn deep_nesting_in_an_unknown_field_is_skipped_without_recursion() {
    let id = "6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a";
    let deep = format!("{}1{}", "[{\"a\":".repeat(50_000), "}]".repeat(50_000));
    let text = format!(r#"{{"v":{deep},"read_id":"{id}","camera_id":"c1","captured_at":"t","plate":"A1"}}"#);
    assert!(parse(&text).is_ok(), "{:?}", parse(&text).err());
    let unbalanced = format!(r#"{{"v":{}]}}"#, "[{\"a\":".repeat(300));
    assert!(matches!(parse(&unbalanced), Err(ScanError::Syntax { .. })));
}

#[test]
fn messages_name_fields_and_offsets_never_values() {
    let id = "6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a";
    let text = format!(r#"{{"read_id":"{id}","camera_id":"c1","captured_at":"t","plate":7123}}"#);
    assert_eq!(
        parse(&text).err().unwrap().to_string(),
        "field `plate` must be a string"
    );
    let text = r#"{"plate":"7ABC123" "#;
    assert_eq!(
        parse(text).err().unwrap().to_string(),
        "unexpected end of the record at byte 19"
    );
}

#[test]
fn the_word_scan_finds_the_first_special_byte_at_every_offset() {
    for special in [b'"', b'\\', 0x00, 0x1F] {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                // Bytes just above the specials' values and high bytes must not be flagged.
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = [b'a', b'#', b'[', b'\x20', 0xC3, 0x7F][i % 6];
                }
                if at < len {
                    bytes[at] = special;
                }
                for from in 0..=at.min(len) {
                    assert_eq!(find_special(&bytes, from), at, "{special} at {at} of {len} from {from}");
                }
            }
        }
    }
}

#[test]
fn exact_conversion_equals_the_standard_parse() {
    let mut rng = crate::sample::Rng::new(3);
    let mut texts = vec![
        "0".to_string(),
        "-0".to_string(),
        "0.91".to_string(),
        "-116.1739".to_string(),
    ];
    for _ in 0..20_000 {
        let digits = 1 + rng.below(17);
        let mut text: String = (0..digits).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
        if rng.below(2) == 0 {
            text.insert(1 + rng.below(digits), '.');
            if text.ends_with('.') {
                text.push('5');
            }
        }
        if rng.below(2) == 0 {
            text.insert(0, '-');
        }
        texts.push(text);
    }
    for text in &texts {
        let standard: f64 = text.parse().unwrap();
        if let Some(exact) = exact_f64(text) {
            assert_eq!(exact.to_bits(), standard.to_bits(), "{text}");
        }
    }
    assert_eq!(exact_f64("1e5"), None);
    assert_eq!(exact_f64("1234567890123456"), None);
}
