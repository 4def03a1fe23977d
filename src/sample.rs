//! Synthetic but realistic data for the demo, the tests and the benchmarks.
//!
//! Real reads and hotlists are personal data and never leave their system,
//! so everything that needs plates to play with makes them here, from a seed:
//! the same seed gives the same plates on every machine. Plates follow US
//! formats (California `1ABC234`, `ABC1234` of many states, `123ABC`, vanity).
//! Nothing here is used by the service itself.

use std::sync::Arc;

use uuid::Uuid;

use crate::hotlist::{Category, HotlistEntry};
use crate::normalize::{normalize, normalize_region, Plate};

/// A small, fast, seedable generator (SplitMix64). Not for secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A version-4-shaped UUID from this generator.
    pub fn uuid(&mut self) -> Uuid {
        let bytes = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        uuid::Builder::from_random_bytes(bytes.to_be_bytes()).into_uuid()
    }
}

const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const REGIONS: &[&str] = &["CA", "CA", "CA", "CA", "CA", "CA", "AZ", "NV", "OR", "TX"];

/// A plate in a US format chosen at random.
pub fn random_plate(rng: &mut Rng) -> Plate {
    let mut text = String::with_capacity(8);
    let letters =
        |rng: &mut Rng, n: usize, text: &mut String| (0..n).for_each(|_| text.push(*rng.pick(LETTERS) as char));
    let digits = |rng: &mut Rng, n: usize, text: &mut String| (0..n).for_each(|_| text.push(*rng.pick(DIGITS) as char));
    match rng.below(10) {
        0..=4 => {
            // California: 1ABC234
            text.push((b'1' + rng.below(9) as u8) as char);
            letters(rng, 3, &mut text);
            digits(rng, 3, &mut text);
        }
        5..=7 => {
            // Arizona, Texas and others: ABC1234
            letters(rng, 3, &mut text);
            digits(rng, 4, &mut text);
        }
        8 => {
            // Older and commercial: 123ABC
            digits(rng, 3, &mut text);
            letters(rng, 3, &mut text);
        }
        _ => {
            // Vanity: 4 to 7 characters, mostly letters.
            for _ in 0..4 + rng.below(4) {
                let pool = if rng.chance(80) { LETTERS } else { DIGITS };
                text.push(*rng.pick(pool) as char);
            }
        }
    }
    normalize(&text).expect("generated plates are valid")
}

/// `n` hotlist entries with distinct plates, ids `e0..`, in list `list_id`.
pub fn hotlist(rng: &mut Rng, n: usize, list_id: &str) -> Vec<Arc<HotlistEntry>> {
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut entries = Vec::with_capacity(n);
    while entries.len() < n {
        let plate = random_plate(rng);
        if !seen.insert(plate) {
            continue;
        }
        let category = *rng.pick(&[
            Category::StolenVehicle,
            Category::StolenVehicle,
            Category::StolenPlate,
            Category::FelonyVehicle,
            Category::WantedPerson,
            Category::Amber,
        ]);
        entries.push(Arc::new(HotlistEntry {
            entry_id: format!("e{}", entries.len()),
            list_id: list_id.to_owned(),
            plate: plate.into(),
            region: rng
                .chance(80)
                .then(|| normalize_region(rng.pick::<&str>(REGIONS)).expect("valid")),
            category,
            priority: if category == Category::Amber {
                0
            } else {
                1 + rng.below(5) as u8
            },
            description: String::new(),
            expires_at: None,
            effective_at: None,
            details: Default::default(),
        }));
    }
    entries
}

/// [`hotlist`] with what a state extract gives each entry besides its
/// plate, for sizing memory: a 40-byte description of the vehicle and the
/// theft (year, make, model, colour, date, city: nearly every one differs),
/// a NIC of its own, and the ORI of one of 800 agencies.
pub fn detailed_hotlist(rng: &mut Rng, n: usize, list_id: &str) -> Vec<Arc<HotlistEntry>> {
    const MAKES: &[&str] = &[
        "HONDA CIVIC",
        "TOYOTA CAMRY",
        "FORD F150",
        "CHEVY SILVERADO",
        "NISSAN ALTIMA",
        "HONDA ACCORD",
        "TOYOTA COROLLA",
        "DODGE RAM",
        "JEEP WRANGLER",
        "KIA OPTIMA",
        "HYUNDAI ELANTRA",
        "BMW 328I",
        "TESLA MODEL 3",
        "SUBARU OUTBACK",
        "VW JETTA",
        "MAZDA 3",
    ];
    const COLOURS: &[&str] = &[
        "BLK", "WHI", "SIL", "GRY", "RED", "BLU", "GRN", "TAN", "MAR", "GLD", "BRO", "YEL",
    ];
    const CITIES: &[&str] = &[
        "INDIO",
        "COACHELLA",
        "PALM SPRINGS",
        "RIVERSIDE",
        "CATHEDRAL CITY",
        "LA QUINTA",
        "BLYTHE",
        "HEMET",
        "TEMECULA",
        "BANNING",
        "THERMAL",
        "MECCA",
    ];
    hotlist(rng, n, list_id)
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let mut entry = Arc::unwrap_or_clone(entry);
            let text = format!(
                "{} {} {}, STOLEN {:02}/{:02} {}",
                1995 + rng.below(31),
                rng.pick(MAKES),
                rng.pick(COLOURS),
                1 + rng.below(12),
                1 + rng.below(28),
                rng.pick(CITIES)
            );
            // Exactly 40 bytes, none of them trailing space (feeds trim it).
            let mut description = format!("{text} CASE {i:09}");
            description.truncate(40);
            if description.ends_with(' ') {
                description.pop();
                description.push('.');
            }
            entry.description = description;
            entry.details.nic = Some(format!("V{:09}", 100_000_000 + i));
            entry.details.ori = Some(format!("CA0{:06}", rng.below(800) * 100));
            Arc::new(entry)
        })
        .collect()
}

/// A nightly replacement of `entries`, as state extracts make them: every
/// entry's description changed, the first entry gone, and one new entry
/// (`new-<night>`, plate `NEW` and the night in five digits: eight characters,
/// a length [`random_plate`] never makes).
pub fn replacement(entries: &[Arc<HotlistEntry>], night: u32) -> Replacement {
    let mut next: Vec<_> = entries[1..]
        .iter()
        .map(|e| {
            let mut e = (**e).clone();
            e.description = format!("night {night}: refreshed from the state extract");
            Arc::new(e)
        })
        .collect();
    let list_id = entries.first().map_or("bench", |e| e.list_id.as_str());
    let added = Arc::new(HotlistEntry {
        entry_id: format!("new-{night}"),
        list_id: list_id.to_owned(),
        plate: normalize(&format!("NEW{night:05}")).expect("valid").into(),
        region: None,
        category: Category::StolenVehicle,
        priority: 1,
        description: format!("night {night}: new theft"),
        expires_at: None,
        effective_at: None,
        details: Default::default(),
    });
    next.push(Arc::clone(&added));
    Replacement {
        entries: next,
        removed: Arc::clone(&entries[0]),
        added,
    }
}

/// What [`replacement`] made.
pub struct Replacement {
    pub entries: Vec<Arc<HotlistEntry>>,
    pub removed: Arc<HotlistEntry>,
    pub added: Arc<HotlistEntry>,
}

/// The ways the demo and tests disguise a listed plate that should still hit
/// exactly: case, separators, and look-alike code points.
pub fn disguise(rng: &mut Rng, plate: &str) -> String {
    match rng.below(5) {
        0 => plate.to_owned(),
        1 => plate.to_ascii_lowercase(),
        2 => {
            let (a, b) = plate.split_at(plate.len() / 2);
            format!("{a}{}{b}", rng.pick(&["-", " ", ".", " - ", "\u{00B7}"]))
        }
        3 => plate
            .chars()
            .map(|c| char::from_u32(u32::from(c) + 0xFEE0).expect("full-width form exists"))
            .collect(),
        _ => plate
            .chars()
            .map(|c| match c {
                'A' => 'А',
                'B' => 'В',
                'C' => 'С',
                'E' => 'Е',
                'H' => 'Н',
                'K' => 'К',
                'M' => 'М',
                'O' => 'О',
                'P' => 'Р',
                'T' => 'Т',
                'X' => 'Х',
                other => other,
            })
            .collect(),
    }
}

/// A plausible OCR misreading of `plate`: one character swapped for its look-alike.
/// Returns `None` when the plate has no confusable character.
pub fn misread(rng: &mut Rng, plate: &str) -> Option<String> {
    let swap = |c: char| match c {
        '0' => Some('O'),
        'O' | 'D' | 'Q' => Some('0'),
        '1' => Some('I'),
        'I' => Some('1'),
        '5' => Some('S'),
        'S' => Some('5'),
        '8' => Some('B'),
        'B' => Some('8'),
        '2' => Some('Z'),
        'Z' => Some('2'),
        '6' => Some('G'),
        'G' => Some('6'),
        _ => None,
    };
    let positions: Vec<usize> = plate
        .char_indices()
        .filter(|(_, c)| swap(*c).is_some())
        .map(|(i, _)| i)
        .collect();
    if positions.is_empty() {
        return None;
    }
    let at = *rng.pick(&positions);
    let mut out = String::with_capacity(plate.len());
    for (i, c) in plate.char_indices() {
        out.push(if i == at { swap(c).expect("confusable") } else { c });
    }
    Some(out)
}

/// An OCR error beyond the confusion classes: one character dropped, one
/// extra, or one replaced by an unrelated one.
pub fn one_edit(rng: &mut Rng, plate: &str) -> String {
    let mut chars: Vec<char> = plate.chars().collect();
    let at = rng.below(chars.len());
    match rng.below(3) {
        0 if chars.len() > 5 => {
            chars.remove(at);
        }
        1 if chars.len() < 8 => chars.insert(at, *rng.pick(&['A', 'K', 'M', 'R', 'W', '4', '7'])),
        _ => {
            let old = chars[at];
            let new = *rng.pick(&['K', 'M', 'R', 'W', '4', '7', 'X', 'F']);
            chars[at] = if new == old { 'N' } else { new };
        }
    }
    chars.into_iter().collect()
}

/// A plate that a wildcard or partial pattern (`?` one character, `*` a run)
/// matches, with random characters for the unknowns.
pub fn fill_pattern(rng: &mut Rng, pattern: &str) -> String {
    let mut out = String::new();
    for c in pattern.chars() {
        match c {
            '?' => out.push(*rng.pick(DIGITS) as char),
            '*' => (0..1 + rng.below(2)).for_each(|_| out.push(*rng.pick(LETTERS) as char)),
            other => out.push(other),
        }
    }
    out
}

/// One read record in the wire format, as a camera would send it.
/// A capture time yesterday (by the UTC date) at `time` (`HH:MM:SS`,
/// Pacific standard time): sample and test reads stay inside the 30-day
/// retention whatever day they run, and keep their times of day.
pub fn yesterday_at(time: &str) -> String {
    let day = (chrono::Utc::now() - chrono::Duration::days(1)).date_naive();
    format!("{day}T{time}-08:00")
}

pub fn read_json(read_id: Uuid, camera_id: &str, captured_at: &str, plate: &str, region: Option<&str>) -> Vec<u8> {
    let record = serde_json::json!({
        "schema": 1,
        "read_id": read_id,
        "camera_id": camera_id,
        "captured_at": captured_at,
        "plate": plate,
        "region": region,
        "confidence": 0.87,
        "location": {"lat": 33.6803, "lon": -116.1739},
        "image_ref": format!("cam/{camera_id}/{read_id}.jpg"),
    });
    serde_json::to_vec(&record).expect("json")
}

/// Malformed records of every kind the dead-letter path must handle, with
/// the reason code each must get.
pub fn malformed_records(rng: &mut Rng, max_record_bytes: usize) -> Vec<(Vec<u8>, &'static str)> {
    let id = rng.uuid();
    let ok = |plate: &str| read_json(id, "cam-x", "2026-11-27T03:00:00-08:00", plate, Some("CA"));
    let with_field = |field: &str, value: &str| {
        let mut v: serde_json::Value = serde_json::from_slice(&ok("7ABC123")).expect("json");
        v[field] = serde_json::from_str(value).expect("json value");
        serde_json::to_vec(&v).expect("json")
    };
    let mut oversized = ok("7ABC123");
    oversized.splice(
        1..1,
        format!("\"padding\":\"{}\",", "x".repeat(max_record_bytes)).into_bytes(),
    );
    let mut truncated = ok("7ABC123");
    truncated.truncate(truncated.len() / 2);
    let mut bad_utf8 = ok("7ABC123");
    let at = bad_utf8.len() / 2;
    bad_utf8[at] = 0xFF;
    vec![
        (b"this is not json".to_vec(), "malformed_json"),
        (truncated, "malformed_json"),
        (bad_utf8, "invalid_utf8"),
        (Vec::new(), "empty"),
        (b"[]".to_vec(), "schema"),
        (with_field("read_id", "\"not-a-uuid\""), "schema"),
        (with_field("captured_at", "\"last tuesday\""), "invalid_field"),
        (with_field("plate", "null"), "schema"),
        (with_field("schema", "7"), "unsupported_version"),
        (with_field("confidence", "3.5"), "invalid_field"),
        (with_field("region", "\"California\""), "invalid_field"),
        (ok("7ABC#123"), "invalid_plate"),
        (ok("ABCDEFGHIJKL"), "invalid_plate"),
        (ok("- -"), "invalid_plate"),
        (oversized, "too_large"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::parse;

    #[test]
    fn the_same_seed_gives_the_same_plates() {
        let a: Vec<_> = (0..50)
            .map({
                let mut r = Rng::new(7);
                move |_| random_plate(&mut r)
            })
            .collect();
        let b: Vec<_> = (0..50)
            .map({
                let mut r = Rng::new(7);
                move |_| random_plate(&mut r)
            })
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|p| (4..=7).contains(&p.len())), "{a:?}");
    }

    #[test]
    fn disguises_normalize_back_to_the_plate() {
        let mut rng = Rng::new(1);
        for _ in 0..500 {
            let plate = random_plate(&mut rng);
            let shown = disguise(&mut rng, plate.as_str());
            assert_eq!(normalize(&shown).unwrap(), plate, "{shown:?}");
        }
    }

    #[test]
    fn misreads_change_exactly_one_character() {
        let mut rng = Rng::new(2);
        let bad = misread(&mut rng, "7ABC123").unwrap();
        let diff = bad.chars().zip("7ABC123".chars()).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 1, "{bad}");
        assert_eq!(misread(&mut rng, "XYWHAT"), None);
    }

    #[test]
    fn filled_patterns_match_their_shape() {
        let mut rng = Rng::new(4);
        let plate = fill_pattern(&mut rng, "7AB?1?3");
        assert_eq!(plate.len(), 7);
        assert!(plate.starts_with("7AB") && plate.ends_with('3'), "{plate}");
        let partial = fill_pattern(&mut rng, "*KXR*");
        assert!(partial.contains("KXR") && (5..=7).contains(&partial.len()), "{partial}");
    }

    #[test]
    fn one_edit_changes_the_plate() {
        let mut rng = Rng::new(5);
        for _ in 0..100 {
            let edited = one_edit(&mut rng, "7ABC123");
            assert_ne!(edited, "7ABC123");
            assert!((6..=8).contains(&edited.len()), "{edited}");
        }
    }

    #[test]
    fn malformed_records_fail_with_their_codes() {
        let mut rng = Rng::new(3);
        for (bytes, code) in malformed_records(&mut rng, 4096) {
            let got = parse(&bytes, 4096).and_then(|r| normalize(&r.plate).map(|_| ()).map_err(Into::into));
            assert_eq!(got.unwrap_err().code(), code, "{:?}", String::from_utf8_lossy(&bytes));
        }
    }
}
