//! US license plate formats by state: the standard passenger serial formats
//! of the 50 states and DC, as shapes of letters (`L`) and digits (`D`), and
//! how many vehicles each state registers.
//!
//! Real hotlists mix every state's formats, many of them 6 characters long,
//! so a list of a million plates is far denser in some formats than a list
//! of California-style 7-character plates; the accuracy harness
//! ([`crate::accuracy`]) draws lists and innocent traffic from this table,
//! and format-aware matching reads it to tell, per position, whether a
//! look-alike is a digit or a letter. The shapes are the current and
//! recent standard issues as commonly documented (state DMV pages and plate
//! references), simplified to letters and digits; specialty and vanity
//! plates are of any shape up to [`VANITY_MAX`] characters.

/// The formats of one state.
#[derive(Debug, Clone, Copy)]
pub struct StateFormats {
    /// USPS code.
    pub state: &'static str,
    /// Registered light vehicles, in hundreds of thousands (a weight for a
    /// national mix of plates).
    pub vehicles: u32,
    /// Standard serial formats, most common first.
    pub formats: &'static [&'static str],
}

/// The longest vanity plate (most states allow 7; a few 8).
pub const VANITY_MAX: usize = 7;

/// Every state and DC.
pub const STATES: [StateFormats; 51] = [
    s("AK", 8, &["LLLDDD"]),
    s("AL", 53, &["DDLLDDD", "DLLDDDD"]),
    s("AR", 28, &["DDDLLL", "LLLDDD"]),
    s("AZ", 62, &["LLLDDDD"]),
    s("CA", 310, &["DLLLDDD"]),
    s("CO", 55, &["LLLDDDD", "DDDLLL"]),
    s("CT", 29, &["LLDDDDD", "DLLDDD"]),
    s("DC", 3, &["LLDDDD"]),
    s("DE", 9, &["DDDDDD"]),
    s("FL", 180, &["LLLLDD", "DDDLLL", "LLLDLL"]),
    s("GA", 86, &["LLLDDDD"]),
    s("HI", 12, &["LLLDDD"]),
    s("IA", 37, &["LLLDDD"]),
    s("ID", 17, &["DLDDDDD", "DLLDDDD"]),
    s("IL", 104, &["LLDDDDD"]),
    s("IN", 62, &["DDDLLL", "DDDL"]),
    s("KS", 26, &["DDDLLL"]),
    s("KY", 41, &["DDDLLL"]),
    s("LA", 39, &["DDDLLL", "LLLDDD"]),
    s("MA", 51, &["DLLLDD", "DLLDDD"]),
    s("MD", 42, &["DLLDDDD"]),
    s("ME", 11, &["DDDDLL"]),
    s("MI", 85, &["LLLDDDD", "DLLLDD"]),
    s("MN", 55, &["DDDLLL", "LLLDDD"]),
    s("MO", 53, &["LLDLDLL"]),
    s("MS", 21, &["LLLDDDD"]),
    s("MT", 10, &["DDDDDDL"]),
    s("NC", 85, &["LLLDDDD"]),
    s("ND", 8, &["LLLDDDD"]),
    s("NE", 18, &["LLLDDD", "DLDDDD"]),
    s("NH", 13, &["DDDDDDD"]),
    s("NJ", 60, &["LDDLLL"]),
    s("NM", 17, &["LLLDDD"]),
    s("NV", 26, &["DDLDDD"]),
    s("NY", 115, &["LLLDDDD"]),
    s("OH", 105, &["LLLDDDD"]),
    s("OK", 35, &["LLLDDD"]),
    s("OR", 32, &["DDDLLL"]),
    s("PA", 102, &["LLLDDDD"]),
    s("RI", 8, &["DDDDDD", "LLDDD"]),
    s("SC", 43, &["DDDLLL", "LLLDDD"]),
    s("SD", 9, &["DLDDDD"]),
    s("TN", 55, &["DLLDDD", "LLLDDD"]),
    s("TX", 225, &["LLLDDDD"]),
    s("UT", 23, &["LDDDLL", "DDDLLL"]),
    s("VA", 72, &["LLLDDDD"]),
    s("VT", 6, &["LLLDDD"]),
    s("WA", 61, &["LLLDDDD"]),
    s("WI", 52, &["LLLDDDD", "DDDLLL"]),
    s("WV", 14, &["DLLDDD", "LLLDDD"]),
    s("WY", 8, &["DDDDDD"]),
];

const fn s(state: &'static str, vehicles: u32, formats: &'static [&'static str]) -> StateFormats {
    StateFormats {
        state,
        vehicles,
        formats,
    }
}

/// The formats of `state` (a USPS code), if it is one of [`STATES`].
pub fn formats_of(state: &str) -> Option<&'static StateFormats> {
    STATES.iter().find(|s| s.state == state)
}

/// Whether `plate` (normalized: A-Z and 0-9) has the shape of `format`.
pub fn fits(plate: &str, format: &str) -> bool {
    plate.len() == format.len()
        && plate.bytes().zip(format.bytes()).all(|(c, f)| match f {
            b'L' => c.is_ascii_uppercase(),
            b'D' => c.is_ascii_digit(),
            _ => false,
        })
}

/// The standard format of `state` that `plate` has, if any (a vanity or
/// specialty plate has none).
pub fn standard_format(state: &str, plate: &str) -> Option<&'static str> {
    formats_of(state)?.formats.iter().copied().find(|f| fits(plate, f))
}

/// Letters a standard serial draws from: most states skip I, O and Q.
pub const SERIAL_LETTERS: f64 = 23.0;
/// Characters a vanity plate draws from.
pub const VANITY_ALPHABET: f64 = 36.0;
/// Share of plates that are vanity or specialty plates of any shape.
pub const VANITY_SHARE: f64 = 0.05;

/// The letter/digit shape of a plate: its length and a bit per letter
/// position (bit `i` set: position `i` is a letter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    pub len: u8,
    pub letters: u16,
}

impl Shape {
    /// The shape of normalized plate bytes (A-Z, 0-9).
    pub fn of(plate: &[u8]) -> Shape {
        let letters = plate
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_alphabetic())
            .fold(0u16, |bits, (i, _)| bits | 1 << i);
        Shape {
            len: plate.len() as u8,
            letters,
        }
    }

    /// The shape of a format such as `DLLLDDD`.
    pub fn of_format(format: &str) -> Shape {
        let letters = format
            .bytes()
            .enumerate()
            .filter(|(_, f)| *f == b'L')
            .fold(0u16, |bits, (i, _)| bits | 1 << i);
        Shape {
            len: format.len() as u8,
            letters,
        }
    }

    /// Whether position `i` is a letter.
    pub fn is_letter(self, i: usize) -> bool {
        self.letters & (1 << i) != 0
    }

    /// How many plates a standard serial of this shape can be.
    pub fn space(self) -> f64 {
        let letters = self.letters.count_ones() as i32;
        SERIAL_LETTERS.powi(letters) * 10f64.powi(i32::from(self.len) - letters)
    }
}

/// The probability that a vehicle of `state` carries exactly the plate of
/// shape `shape`: a standard serial of one of the state's formats (equally
/// likely), or a vanity plate of any shape up to [`VANITY_MAX`].
pub fn plate_prior(state: &StateFormats, shape: Shape) -> f64 {
    let standard = state.formats.iter().filter(|f| Shape::of_format(f) == shape).count() as f64;
    let mut prior = (1.0 - VANITY_SHARE) * standard / state.formats.len() as f64 / shape.space();
    if (2..=VANITY_MAX).contains(&usize::from(shape.len)) {
        prior += VANITY_SHARE / (VANITY_MAX - 1) as f64 / VANITY_ALPHABET.powi(i32::from(shape.len));
    }
    prior
}

/// [`plate_prior`] over the whole country, states weighed by registrations.
pub fn national_prior(shape: Shape) -> f64 {
    let total: u32 = STATES.iter().map(|s| s.vehicles).sum();
    STATES
        .iter()
        .map(|s| f64::from(s.vehicles) / f64::from(total) * plate_prior(s, shape))
        .sum()
}

/// A read resolved by a state's format: look-alikes put right where the
/// format says a position is a digit or a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub text: String,
    /// Letter positions where the read shows one of O, D, Q or 0, which a
    /// format cannot tell apart (bit `i`: position `i`).
    pub ambiguous: u16,
}

/// Resolves `plate` (normalized) by the first standard format of `state`
/// that it fits once look-alikes are read as the format wants: in a digit
/// position O, D and Q are 0, I is 1, Z is 2, S is 5, B is 8, G is 6; in a
/// letter position 1 is I, 2 is Z, 5 is S, 8 is B, 6 is G, and 0 is O, D or
/// Q (left as read and marked ambiguous). `None` when no format fits.
pub fn resolve(state: &str, plate: &str) -> Option<Resolved> {
    formats_of(state)?
        .formats
        .iter()
        .find_map(|format| resolve_by(plate, Shape::of_format(format)))
}

fn resolve_by(plate: &str, shape: Shape) -> Option<Resolved> {
    if plate.len() != usize::from(shape.len) {
        return None;
    }
    let mut ambiguous = 0u16;
    let mut text = String::with_capacity(plate.len());
    for (i, c) in plate.bytes().enumerate() {
        let letter = shape.is_letter(i);
        let resolved = if letter {
            if matches!(c, b'0' | b'O' | b'D' | b'Q') {
                ambiguous |= 1 << i;
            }
            as_letter(c)?
        } else {
            as_digit(c)?
        };
        text.push(resolved as char);
    }
    Some(Resolved { text, ambiguous })
}

fn as_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c),
        b'O' | b'D' | b'Q' => Some(b'0'),
        b'I' => Some(b'1'),
        b'Z' => Some(b'2'),
        b'S' => Some(b'5'),
        b'B' => Some(b'8'),
        b'G' => Some(b'6'),
        _ => None,
    }
}

fn as_letter(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c),
        b'0' => Some(b'O'),
        b'1' => Some(b'I'),
        b'2' => Some(b'Z'),
        b'5' => Some(b'S'),
        b'8' => Some(b'B'),
        b'6' => Some(b'G'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_dc_has_standard_formats_of_letters_and_digits() {
        let codes: std::collections::BTreeSet<&str> = STATES.iter().map(|s| s.state).collect();
        assert_eq!(codes.len(), 51);
        for state in &STATES {
            assert!(!state.formats.is_empty() && state.vehicles > 0, "{}", state.state);
            for format in state.formats {
                assert!((4..=VANITY_MAX).contains(&format.len()), "{} {format}", state.state);
                assert!(
                    format.bytes().all(|b| b == b'L' || b == b'D'),
                    "{} {format}",
                    state.state
                );
            }
        }
        let six = STATES.iter().filter(|s| s.formats[0].len() == 6).count();
        assert!(six >= 20, "many states issue 6-character plates: {six}");
    }

    #[test]
    fn a_plate_fits_its_states_format() {
        assert_eq!(standard_format("CA", "7ABC123"), Some("DLLLDDD"));
        assert_eq!(standard_format("TX", "ABC1234"), Some("LLLDDDD"));
        assert_eq!(standard_format("FL", "123ABC"), Some("DDDLLL"));
        assert_eq!(standard_format("CA", "ABC1234"), None, "a Texas shape in California");
        assert_eq!(standard_format("CA", "GO4IT"), None, "vanity");
        assert_eq!(standard_format("XX", "7ABC123"), None);
        assert!(!fits("7ABC12", "DLLLDDD"));
    }

    #[test]
    fn look_alikes_resolve_by_each_states_format() {
        let resolved = |state: &str, plate: &str| resolve(state, plate).map(|r| (r.text, r.ambiguous));
        // California 1ABC234: an O or a D in a digit position is a 0, an 8
        // in a letter position a B, a Z in a digit position a 2.
        assert_eq!(resolved("CA", "7A8C1Z3"), Some(("7ABC123".into(), 0)));
        assert_eq!(resolved("CA", "O8BCI23"), Some(("0BBC123".into(), 0)));
        // An O read in a letter position stays: O, D and Q are all letters.
        assert_eq!(resolved("CA", "7AOC123"), Some(("7AOC123".into(), 1 << 2)));
        assert_eq!(resolved("CA", "70BC123"), Some(("7OBC123".into(), 1 << 1)));
        // Texas ABC1234 and New Jersey A12BCD read the same characters
        // differently by position.
        assert_eq!(resolved("TX", "A8C12S4"), Some(("ABC1254".into(), 0)));
        assert_eq!(resolved("NJ", "A1Z8CD"), Some(("A12BCD".into(), 1 << 5)));
        assert_eq!(resolved("NJ", "8128CD"), Some(("B12BCD".into(), 1 << 5)));
        // Florida has three formats: the first that fits wins.
        assert_eq!(resolved("FL", "ABCD12"), Some(("ABCD12".into(), 1 << 3)));
        assert_eq!(resolved("FL", "123ABC"), Some(("123ABC".into(), 0)));
        // No format of the state fits: a letter with no digit look-alike in
        // a digit position, the wrong length, an unknown state.
        assert_eq!(resolved("CA", "7ABCX23"), None);
        assert_eq!(resolved("CA", "7ABC12"), None);
        assert_eq!(resolved("XX", "7ABC123"), None);
    }

    #[test]
    fn priors_follow_the_formats_and_sum_to_one_per_state() {
        let ca = formats_of("CA").unwrap();
        let standard = Shape::of(b"7ABC123");
        assert!(plate_prior(ca, standard) > 1e-9, "a CA serial is likely");
        assert!(
            plate_prior(ca, Shape::of(b"ABC1234")) < 1e-12,
            "a TX shape in CA is a vanity plate"
        );
        assert_eq!(plate_prior(ca, Shape::of(b"ABCDEFGH")), 0.0, "longer than any plate");
        // Over every shape, a state's priors times the plates of each shape sum to 1.
        let mut total = 0.0;
        for len in 2..=VANITY_MAX as u8 {
            for letters in 0..(1u16 << len) {
                let shape = Shape { len, letters };
                let vanity_plates =
                    26f64.powi(letters.count_ones() as i32) * 10f64.powi(i32::from(len) - letters.count_ones() as i32);
                let vanity = VANITY_SHARE / (VANITY_MAX - 1) as f64 / VANITY_ALPHABET.powi(i32::from(len));
                total += (plate_prior(ca, shape) - vanity) * shape.space() + vanity * vanity_plates;
            }
        }
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }
}
