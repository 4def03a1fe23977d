//! Rules for untrusted text that names things or ends up in front of a
//! person: identifiers, display names, and how stored text is printed.
//!
//! A penetration test showed what happens without them: a list id with a
//! newline and ANSI codes that could never be deleted, an entry key that
//! overwrote a list's owner record (`#list/...`), organisation names with
//! zero-width and bidi characters, and usernames that printed forged lines
//! in the audit report. So identifiers are [`check_id`]'s narrow alphabet,
//! display names refuse every invisible or direction-changing character
//! ([`is_invisible`]), and anything stored as typed is printed through
//! [`escaped`]. Pure and dependency-free: every layer may use it.

use std::fmt::Write as _;

/// Longest identifier (list ids, entry ids).
pub const MAX_ID_LEN: usize = 64;

/// Why an identifier or a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be 1 to {MAX_ID_LEN} characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    BadId,
    #[error("must be {min} to {max} characters without control, invisible or direction-changing characters")]
    BadName { min: usize, max: usize },
}

/// Checks an identifier: 1 to [`MAX_ID_LEN`] characters of
/// `[A-Za-z0-9._-]`. Such ids never contain the `/` that joins a list and
/// an entry id into a record key, nor the `#` of a list's own record.
pub fn check_id(id: &str) -> Result<(), TextError> {
    let ok = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(TextError::BadId)
    }
}

/// True for characters a reader cannot see or that reorder what follows:
/// controls (newline, ESC, NUL), zero-width characters, bidi embeddings,
/// overrides and isolates, soft hyphen, byte-order mark, and the Unicode
/// tag and variation-selector blocks.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Checks a display name (an organisation, an agency): trimmed, `min` to
/// `max` characters, none of them [`is_invisible`]. Returns it trimmed.
pub fn check_name(name: &str, min: usize, max: usize) -> Result<&str, TextError> {
    let name = name.trim();
    if (min..=max).contains(&name.chars().count()) && !name.chars().any(is_invisible) {
        Ok(name)
    } else {
        Err(TextError::BadName { min, max })
    }
}

/// Text as typed, made safe to print on one terminal line: invisible
/// characters and backslashes become `\u{..}` escapes, so a stored newline,
/// ANSI sequence or bidi override shows as what it is.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_invisible(c) || c == '\\' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` bytes of `text`, cut on a character boundary; and whether
/// it was cut.
pub fn truncated(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// Text that must not be shown (a plate), shown in `Debug` as its length
/// only: `<redacted 7 chars>`. Wrap a field in it in a hand-written `Debug`.
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub &'a str);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<redacted {} chars>", self.0.chars().count())
    }
}

/// A list of texts that must not be shown, each [`Redacted`].
#[derive(Clone, Copy)]
pub struct RedactedList<'a, T: AsRef<str>>(pub &'a [T]);

impl<T: AsRef<str>> std::fmt::Debug for RedactedList<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|t| Redacted(t.as_ref())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_a_narrow_alphabet_with_no_key_separators() {
        for good in ["cadoj-stolen", "RSO_2026.11", "a", &"x".repeat(64)] {
            assert_eq!(check_id(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "#list",
            "a/b",
            "list\nname",
            "nul\0",
            "\u{1b}[31mred",
            "space here",
            "amber\u{200B}",
            &"x".repeat(65),
        ] {
            assert_eq!(check_id(bad), Err(TextError::BadId), "{bad:?}");
        }
    }

    #[test]
    fn names_refuse_invisible_and_direction_changing_characters() {
        assert_eq!(check_name("  Indio PD ", 2, 100), Ok("Indio PD"));
        assert_eq!(check_name("Policía de Coachella", 2, 100), Ok("Policía de Coachella"));
        for bad in [
            "Indio\u{200B}PD",
            "Indio \u{202E}DP",
            "Indio\u{2066}PD",
            "Indio\nPD",
            "\u{FEFF}Indio",
            "I",
            "Indio\u{E0041}PD",
        ] {
            assert_eq!(
                check_name(bad, 2, 100),
                Err(TextError::BadName { min: 2, max: 100 }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn escaped_text_prints_on_one_line_as_what_it_is() {
        assert_eq!(
            escaped("eve\n2026-11-27T00:00:00Z #9 custodian login"),
            "eve\\u{a}2026-11-27T00:00:00Z #9 custodian login"
        );
        assert_eq!(escaped("\u{1b}[2Jx"), "\\u{1b}[2Jx");
        assert_eq!(escaped("abc\u{202E}fed"), "abc\\u{202e}fed");
        assert_eq!(
            escaped("a\\u{a}"),
            "a\\u{5c}u{a}",
            "a typed escape is not mistaken for one"
        );
        assert_eq!(escaped("Policía"), "Policía");
    }

    #[test]
    fn redacted_text_shows_its_length_only() {
        assert_eq!(format!("{:?}", Redacted("7ABC123")), "<redacted 7 chars>");
        assert_eq!(
            format!("{:?}", RedactedList(&["7ABC123", "AB1"])),
            "[<redacted 7 chars>, <redacted 3 chars>]"
        );
    }

    #[test]
    fn truncation_cuts_on_a_character_boundary() {
        assert_eq!(truncated("abcdef", 10), ("abcdef", false));
        assert_eq!(truncated("abcdef", 3), ("abc", true));
        assert_eq!(truncated("aé", 2), ("a", true));
    }
}
