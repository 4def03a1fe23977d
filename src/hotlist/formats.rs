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
}
