//! How OCR confuses plate characters, and how far apart two plates are.
//!
//! Two facts drive matching. First, some characters are read as each other so
//! often that they are one character for matching purposes: Genetec AutoVu's
//! default OCR equivalence classes {0,O,D,Q}, {1,I}, {2,Z}, {5,S}, {8,B},
//! {6,G}. [`canonical`] collapses each class to one symbol, so any number of
//! such substitutions costs one lookup. Second, beyond the classes OCR makes
//! one-off errors: a plausible confusion (H/B, W/H, L/E, 8/2, 1/0, ...) is
//! cheap, an arbitrary substitution, a dropped or extra character, or two
//! swapped neighbours is expensive. [`compare`] finds the one edit (at most)
//! that separates two canonical plates and weighs it.
//!
//! Everything here is pure and allocation-free; it runs per candidate.

use crate::normalize::Plate;

/// The canonical symbol of each ASCII byte: OCR classes collapse to their
/// digit; every other byte maps to itself.
const CANONICAL: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        table[i] = i as u8;
        i += 1;
    }
    table[b'O' as usize] = b'0';
    table[b'D' as usize] = b'0';
    table[b'Q' as usize] = b'0';
    table[b'I' as usize] = b'1';
    table[b'Z' as usize] = b'2';
    table[b'S' as usize] = b'5';
    table[b'B' as usize] = b'8';
    table[b'G' as usize] = b'6';
    table
};

/// Pairs of canonical symbols OCR plausibly confuses beyond the classes
/// (after collapsing: B is 8, so H/B is H/8). Cheaper than an arbitrary
/// substitution.
const PLAUSIBLE: &[(u8, u8)] = &[
    (b'8', b'2'), // 8/2 (and B/Z)
    (b'H', b'8'), // H/B
    (b'W', b'H'),
    (b'L', b'E'),
    (b'1', b'0'), // 1/0 (and I/O)
    (b'1', b'7'),
    (b'1', b'L'),
    (b'1', b'T'),
    (b'3', b'8'),
    (b'4', b'A'),
    (b'M', b'N'),
    (b'M', b'W'),
    (b'U', b'V'),
    (b'V', b'Y'),
    (b'K', b'X'),
    (b'P', b'R'),
    (b'F', b'E'),
    (b'F', b'P'),
    (b'C', b'0'), // C/O
    (b'U', b'0'), // U/O
    (b'J', b'1'),
    (b'6', b'C'), // G/C
    (b'8', b'0'), // B/D
    (b'9', b'0'),
    (b'3', b'9'),
    (b'5', b'6'), // S/G, 5/6
];

/// The canonical byte of one plate character.
#[inline]
pub fn canonical_byte(b: u8) -> u8 {
    CANONICAL[(b & 0x7F) as usize]
}

/// The canonical form of a plate: the same length, classes collapsed.
#[inline]
pub fn canonical(plate: &Plate) -> ([u8; crate::normalize::MAX_PLATE_LEN], usize) {
    let mut out = [0u8; crate::normalize::MAX_PLATE_LEN];
    for (slot, &b) in out.iter_mut().zip(plate.as_bytes()) {
        *slot = canonical_byte(b);
    }
    (out, plate.len())
}

/// Cost of reading canonical symbol `a` where `b` was: 0 if equal, 0.5 for a
/// plausible OCR confusion, 1 otherwise.
#[inline]
pub fn substitution_cost(a: u8, b: u8) -> f32 {
    if a == b {
        0.0
    } else if PLAUSIBLE.iter().any(|&(x, y)| (x == a && y == b) || (x == b && y == a)) {
        0.5
    } else {
        1.0
    }
}

/// Cost of a dropped or extra character.
pub const INDEL_COST: f32 = 1.0;
/// Cost of two neighbouring characters read in swapped order.
pub const TRANSPOSITION_COST: f32 = 1.0;

/// The one edit, beyond OCR-class substitutions, between a read and an entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edit {
    /// The canonical forms are equal.
    None,
    /// One character read as another.
    Substitution { position: u8, cost: f32 },
    /// The read has a character the entry lacks.
    Insertion { position: u8 },
    /// The read lacks one of the entry's characters.
    Deletion { position: u8 },
    /// Two neighbouring characters swapped.
    Transposition { position: u8 },
}

impl Edit {
    /// The edit's weight (0 for [`Edit::None`]).
    pub fn cost(self) -> f32 {
        match self {
            Edit::None => 0.0,
            Edit::Substitution { cost, .. } => cost,
            Edit::Insertion { .. } | Edit::Deletion { .. } => INDEL_COST,
            Edit::Transposition { .. } => TRANSPOSITION_COST,
        }
    }
}

/// How a read compares with an entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// True when the raw plates are identical.
    pub identical: bool,
    /// The edit beyond OCR classes.
    pub edit: Edit,
    /// Read positions whose character differs from the entry's (OCR-class
    /// substitutions and the edit), as a bit set: bit `i` is position `i`.
    pub differing: u16,
}

impl Comparison {
    /// Positions of the read that differ from the entry, ascending.
    pub fn positions(&self) -> impl Iterator<Item = u8> + '_ {
        (0..16u8).filter(|i| self.differing & (1 << i) != 0)
    }

    /// Number of differing read positions.
    pub fn differences(&self) -> u32 {
        self.differing.count_ones()
    }
}

/// Compares a read with an entry: `None` when more than one edit beyond the
/// OCR classes separates them.
pub fn compare(read: &Plate, entry: &Plate) -> Option<Comparison> {
    let (r, e) = (read.as_bytes(), entry.as_bytes());
    if r == e {
        return Some(Comparison {
            identical: true,
            edit: Edit::None,
            differing: 0,
        });
    }
    let edit = match r.len() as isize - e.len() as isize {
        0 => same_length_edit(r, e)?,
        1 => Edit::Insertion {
            position: one_extra(r, e)?,
        },
        -1 => Edit::Deletion {
            position: one_extra(e, r)?,
        },
        _ => return None,
    };
    Some(Comparison {
        identical: false,
        edit,
        differing: differing_positions(r, e, edit),
    })
}

/// The single substitution or transposition between equal-length plates.
fn same_length_edit(r: &[u8], e: &[u8]) -> Option<Edit> {
    let mut first = None;
    let mut second = None;
    for i in 0..r.len() {
        if canonical_byte(r[i]) != canonical_byte(e[i]) {
            match (first, second) {
                (None, _) => first = Some(i),
                (Some(_), None) => second = Some(i),
                _ => return None,
            }
        }
    }
    match (first, second) {
        (None, _) => Some(Edit::None),
        (Some(i), None) => Some(Edit::Substitution {
            position: i as u8,
            cost: substitution_cost(canonical_byte(r[i]), canonical_byte(e[i])),
        }),
        (Some(i), Some(j)) => {
            let swapped = j == i + 1
                && canonical_byte(r[i]) == canonical_byte(e[j])
                && canonical_byte(r[j]) == canonical_byte(e[i]);
            swapped.then_some(Edit::Transposition { position: i as u8 })
        }
    }
}

/// Where `long` has one extra character compared with `short` (canonically),
/// the earliest such position.
fn one_extra(long: &[u8], short: &[u8]) -> Option<u8> {
    let prefix = long
        .iter()
        .zip(short)
        .take_while(|(a, b)| canonical_byte(**a) == canonical_byte(**b))
        .count();
    let rest_equal = long[prefix + 1..]
        .iter()
        .zip(&short[prefix..])
        .all(|(a, b)| canonical_byte(*a) == canonical_byte(*b));
    rest_equal.then_some(prefix as u8)
}

/// The read positions whose raw character differs from the entry's, once
/// the edit is accounted for.
fn differing_positions(r: &[u8], e: &[u8], edit: Edit) -> u16 {
    let mut bits = 0u16;
    let mut mark = |i: usize| bits |= 1 << i;
    match edit {
        Edit::Insertion { position } => {
            let p = position as usize;
            mark(p);
            for i in 0..r.len() {
                if i != p && r[i] != e[if i < p { i } else { i - 1 }] {
                    mark(i);
                }
            }
        }
        Edit::Deletion { position } => {
            let p = position as usize;
            // The read lacks e[p]: mark the read position where it is missing.
            if p < r.len() {
                mark(p);
            } else if p > 0 {
                mark(p - 1);
            }
            for i in 0..r.len() {
                if r[i] != e[if i < p { i } else { i + 1 }] {
                    mark(i);
                }
            }
        }
        _ => {
            for i in 0..r.len() {
                if r[i] != e[i] {
                    mark(i);
                }
            }
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn cmp(read: &str, entry: &str) -> Option<Comparison> {
        compare(&normalize(read).unwrap(), &normalize(entry).unwrap())
    }

    #[test]
    fn ocr_classes_collapse_to_one_symbol() {
        let canon = |s: &str| {
            let (bytes, len) = canonical(&normalize(s).unwrap());
            String::from_utf8(bytes[..len].to_vec()).unwrap()
        };
        assert_eq!(canon("ODQ0"), "0000");
        assert_eq!(canon("1I2Z5S8B6G"), "1122558866");
        assert_eq!(canon("7ABC123"), "7A8C123");
    }

    #[test]
    fn comparisons_name_the_one_edit_and_the_differing_positions() {
        let positions = |c: Comparison| c.positions().collect::<Vec<_>>();
        let same = cmp("7ABC123", "7ABC123").unwrap();
        assert!(same.identical);
        assert_eq!(positions(same), Vec::<u8>::new());

        let ocr = cmp("7A8C1Z3", "7ABC123").unwrap();
        assert_eq!((ocr.identical, ocr.edit), (false, Edit::None));
        assert_eq!(positions(ocr), [2, 5]);

        let plausible = cmp("7AHC123", "7ABC123").unwrap();
        assert_eq!(plausible.edit, Edit::Substitution { position: 2, cost: 0.5 });
        let arbitrary = cmp("7AXC123", "7ABC123").unwrap();
        assert_eq!(arbitrary.edit, Edit::Substitution { position: 2, cost: 1.0 });

        let extra = cmp("7ABCC123", "7ABC123").unwrap();
        // Either C could be the extra one; the later is reported.
        assert_eq!(extra.edit, Edit::Insertion { position: 4 });
        assert_eq!(positions(extra), [4]);
        let dropped = cmp("7AC123", "7ABC123").unwrap();
        assert_eq!(dropped.edit, Edit::Deletion { position: 2 });
        assert_eq!(positions(dropped), [2]);
        let dropped_last = cmp("7ABC12", "7ABC123").unwrap();
        assert_eq!(dropped_last.edit, Edit::Deletion { position: 6 });
        assert_eq!(positions(dropped_last), [5]);

        let swapped = cmp("7BAC123", "7ABC123").unwrap();
        assert_eq!(swapped.edit, Edit::Transposition { position: 1 });
        assert_eq!(positions(swapped), [1, 2]);

        // OCR-class substitutions ride along with the one edit.
        let both = cmp("7A8C1Z", "7ABC123").unwrap();
        assert_eq!(both.edit, Edit::Deletion { position: 6 });
    }

    #[test]
    fn two_edits_are_too_far() {
        for (read, entry) in [
            ("7AXC1Y3", "7ABC123"),
            ("7ABC1", "7ABC123"),
            ("7ABC12345", "7ABC123"),
            ("7XBC12", "7ABC123"),
            ("A7BC132", "7ABC123"),
        ] {
            assert_eq!(cmp(read, entry), None, "{read} vs {entry}");
        }
    }
}
