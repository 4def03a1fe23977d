//! A read that cannot hit, told without parsing it: why a historical
//! replay over millions of retained reads costs little more than reading
//! them (issue 16, item 5).
//!
//! A replay checks every retained read against the few entries an upload
//! added, so nearly every read hits nothing, and the full parse of the
//! record was most of its cost. [`cannot_hit`] finds the plate and state in
//! the raw bytes and asks the matcher first; only a read that may hit, or
//! one it cannot be sure of, goes through [`super::Processor`]. It is sure
//! only where the record's text leaves no doubt about what the parser
//! would read: no backslash anywhere (so every quote delimits a string and
//! every key is spelt plainly), exactly one `"plate"` key directly followed
//! by its string, at most one `"region"` key directly followed by a string
//! or null, and no OCR candidates. Anything else falls through to the full
//! parse, so a replay finds exactly the alerts it found before. Pure: no
//! I/O, no logging.

use crate::hotlist::{Hit, Matcher, Query};
use crate::normalize::{normalize, normalize_region, Region};

/// True only when `payload` is sure to raise no alert on `matcher`;
/// `hits` is scratch space (left empty).
pub fn cannot_hit(payload: &[u8], matcher: &dyn Matcher, hits: &mut Vec<Hit>) -> bool {
    let Some((plate, region)) = plate_and_region(payload) else {
        return false;
    };
    let Ok(plate) = normalize(plate) else {
        return false;
    };
    hits.clear();
    matcher.find(
        &Query {
            plate,
            region,
            candidates: &[],
        },
        hits,
    );
    let none = hits.is_empty();
    hits.clear();
    none
}

/// The plate text and state of a record whose text leaves no doubt about
/// them (see the module's rules); `None` when in doubt. One pass over the
/// record's quotes.
fn plate_and_region(payload: &[u8]) -> Option<(&str, Option<Region>)> {
    let (mut plate, mut region) = (None, None);
    let mut from = 0;
    while let Some(found) = payload[from..].iter().position(|b| *b == b'"' || *b == b'\\') {
        let at = from + found;
        let rest = &payload[at..];
        if rest[0] == b'\\' || rest.starts_with(b"\"candidates\"") {
            return None;
        }
        for (key, slot) in [(&b"\"plate\""[..], &mut plate), (&b"\"region\""[..], &mut region)] {
            if rest.starts_with(key) && slot.replace(at + key.len()).is_some() {
                return None; // twice
            }
        }
        from = at + 1;
    }
    let plate = match value_at(payload, plate?)? {
        Value::Text(text) => text,
        Value::Null => return None,
    };
    let region = match region {
        None => None,
        Some(at) => match value_at(payload, at)? {
            Value::Null => None,
            Value::Text(text) => match text.trim() {
                "" => None,
                text => Some(normalize_region(text).ok()?),
            },
        },
    };
    Some((plate, region))
}

enum Value<'a> {
    Null,
    Text(&'a str),
}

/// The value right after a key ending at `at`: `:` then a string or null,
/// with nothing between.
fn value_at(payload: &[u8], at: usize) -> Option<Value<'_>> {
    let rest = payload.get(at..)?.strip_prefix(b":")?;
    if rest.starts_with(b"null") {
        return Some(Value::Null);
    }
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok().map(Value::Text)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::hotlist::LiveMatcher;
    use crate::pipeline::{Outcome, Processor};

    const READ: &str = r#"{"schema":1,"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"cam-1","captured_at":"2026-11-27T03:12:45.120-08:00","plate":"PLATE","region":"ca","confidence":0.91,"location":{"lat":33.6,"lon":-116.1},"image_ref":"s3://cam/1.jpg"}"#;

    fn matcher() -> Arc<dyn Matcher> {
        let text = "entry_id,list_id,plate,category,region\ne1,new,7ABC123,stolen_vehicle,CA\n";
        let entries = crate::hotlist::load_csv(text.as_bytes(), Default::default()).unwrap();
        Arc::new(LiveMatcher::new(entries, Default::default()))
    }

    fn read(plate: &str) -> String {
        READ.replace("PLATE", plate)
    }

    /// The filter never skips a read the full path alerts on.
    fn agrees(record: &str) -> bool {
        let matcher = matcher();
        let skipped = cannot_hit(record.as_bytes(), &*matcher, &mut Vec::new());
        let alerts = matches!(
            Processor::historical(matcher, 65_536).process(record.as_bytes()),
            Outcome::Alerts(_)
        );
        assert!(!(skipped && alerts), "skipped a read that alerts: {record}");
        skipped
    }

    #[test]
    fn a_plain_read_of_another_plate_is_skipped_and_a_listed_one_is_not() {
        assert!(agrees(&read("9ZZZ999")));
        assert!(!agrees(&read("7ABC123")));
        assert!(!agrees(&read("7A8C123")), "a look-alike goes to the full path");
    }

    #[test]
    fn anything_in_doubt_goes_to_the_full_path() {
        let doubtful = [
            read("7AB\\u0043123"),
            READ.replace("\"plate\":\"PLATE\"", "\"plate\" : \"7ABC123\""),
            READ.replace(
                "\"plate\":\"PLATE\"",
                "\"plate\":\"9ZZZ999\",\"vehicle\":{\"plate\":\"7ABC123\"}",
            ),
            READ.replace(
                "\"plate\":\"PLATE\"",
                "\"candidates\":[{\"plate\":\"7ABC123\"}],\"plate\":\"9ZZZ999\"",
            ),
            READ.replace("\"region\":\"ca\"", "\"region\":\"ca\",\"region\":\"nv\"")
                .replace("PLATE", "9ZZZ999"),
            READ.replace("\"region\":\"ca\"", "\"region\":\"California\"")
                .replace("PLATE", "9ZZZ999"),
            READ.replace("\"plate\":\"PLATE\",", ""),
            read("%%%"),
        ];
        for record in doubtful {
            assert!(!agrees(&record), "{record}");
        }
    }

    #[test]
    fn a_missing_or_null_state_is_read_as_none() {
        assert!(agrees(
            &READ.replace(",\"region\":\"ca\"", "").replace("PLATE", "9ZZZ999")
        ));
        assert!(agrees(
            &READ
                .replace("\"region\":\"ca\"", "\"region\":null")
                .replace("PLATE", "9ZZZ999")
        ));
        assert!(agrees(
            &READ
                .replace("\"region\":\"ca\"", "\"region\":\" \"")
                .replace("PLATE", "9ZZZ999")
        ));
    }
}
