//! How sure a hit is: the probability that a read came from the listed
//! vehicle, and so whether dispatch sees it as a hit or a possible match.
//!
//! The probability is Bayes' rule over the plates that could have produced
//! the read. Each candidate true plate `t` has a prior, from the plate
//! formats of the read's state ([`super::formats::plate_prior`]: a standard
//! serial of that state is likely, any other shape only as a vanity plate),
//! and a likelihood of being read as the read, from an OCR error model
//! ([`ErrorModel`]: clean most of the time, then look-alikes, plausible
//! confusions, other substitutions, characters dropped, added or swapped,
//! and characters cut or added at either end, in the shares measured on
//! real OCR output). The entry's share of the total over the read itself and
//! every plate one error away is the probability. So a read that is itself
//! a valid plate of its state is most likely that plate, not a listed one a
//! confusion away; a read that fits no format of its state, and is one
//! look-alike from a listed plate that does, is that plate; a read with its
//! last character cut could be any of ten plates, and says so.
//!
//! Listed or not makes no difference to a plate's prior: a stolen car is
//! no likelier to pass than any other, which is what keeps the probability
//! honest on dense lists. Pure and allocation-free; it runs on hits only.

use std::sync::OnceLock;

use super::confusion::{canonical_byte, substitution_cost};
use super::formats::{formats_of, national_prior, plate_prior, Shape, STATES, VANITY_MAX};
use crate::normalize::{Plate, Region, MAX_PLATE_LEN};

/// How often OCR makes each kind of error, per read.
#[derive(Debug, Clone, Copy)]
pub struct ErrorModel {
    /// A read with no error.
    pub clean: f64,
    /// Shares of the errors (they sum to 1).
    pub lookalike: f64,
    pub plausible: f64,
    pub other: f64,
    pub dropped: f64,
    pub extra: f64,
    pub swapped: f64,
    pub end_cut: f64,
    pub end_added: f64,
    /// How often the OCR state estimate names another state.
    pub state_wrong: f64,
}

/// One read in seven wrong, the errors split as in a commercial engine's
/// output on US plates (a third at an end, a quarter look-alikes), and the
/// state estimate wrong one read in ten: the mix the accuracy harness
/// draws ([`crate::accuracy_national::REAL_MIX`]).
pub const ERRORS: ErrorModel = ErrorModel {
    clean: 6.0 / 7.0,
    lookalike: 0.25,
    plausible: 1.0 / 12.0,
    other: 1.0 / 12.0,
    dropped: 1.0 / 12.0,
    extra: 1.0 / 12.0,
    swapped: 1.0 / 12.0,
    end_cut: 1.0 / 6.0,
    end_added: 1.0 / 6.0,
    state_wrong: 0.1,
};

/// Characters a plate may hold.
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Plate priors by shape, per state (in [`STATES`] order) and nationally
/// (last); shapes up to [`VANITY_MAX`] characters, indexed by [`slot`].
fn priors() -> &'static Vec<[f64; 256]> {
    static PRIORS: OnceLock<Vec<[f64; 256]>> = OnceLock::new();
    PRIORS.get_or_init(|| {
        let table = |prior: &dyn Fn(Shape) -> f64| {
            let mut row = [0.0; 256];
            for len in 1..=VANITY_MAX as u8 {
                for letters in 0..(1u16 << len) {
                    row[slot(Shape { len, letters }).expect("short shape")] = prior(Shape { len, letters });
                }
            }
            row
        };
        let mut rows: Vec<[f64; 256]> = STATES.iter().map(|s| table(&|shape| plate_prior(s, shape))).collect();
        rows.push(table(&national_prior));
        rows
    })
}

fn slot(shape: Shape) -> Option<usize> {
    (usize::from(shape.len) <= VANITY_MAX).then(|| (1usize << shape.len) + usize::from(shape.letters))
}

/// The priors of plates of `region` (unknown or unlisted: the nation's).
fn row_of(region: Option<Region>) -> &'static [f64; 256] {
    let rows = priors();
    let at = region
        .and_then(|r| formats_of(r.as_str()))
        .and_then(|f| STATES.iter().position(|s| s.state == f.state))
        .unwrap_or(STATES.len());
    &rows[at]
}

fn prior(row: &[f64; 256], plate: &[u8]) -> f64 {
    slot(Shape::of(plate)).map_or(0.0, |i| row[i])
}

/// The prior of a plate known to be issued in `region`: that of a serial
/// of the state's least likely standard format (unknown state: of the
/// nation's commonest shape, ABC1234).
fn issued_prior(region: Option<Region>) -> f64 {
    match region.and_then(|r| formats_of(r.as_str())) {
        Some(state) => state
            .formats
            .iter()
            .map(|f| plate_prior(state, Shape::of_format(f)))
            .fold(f64::INFINITY, f64::min),
        None => national_prior(Shape::of_format("LLLDDDD")),
    }
}

/// The registration share of `region`, for how often an estimate names it.
fn share(region: Region) -> f64 {
    let total: u32 = STATES.iter().map(|s| s.vehicles).sum();
    formats_of(region.as_str()).map_or(1.0 / STATES.len() as f64, |s| f64::from(s.vehicles) / f64::from(total))
}

/// The probability that a read of `read` (state estimate `read_region`)
/// came from the vehicle with plate `entry` of `entry_region`.
pub fn probability(read: &Plate, read_region: Option<Region>, entry: &Plate, entry_region: Option<Region>) -> f32 {
    probability_with(&ERRORS, read.as_bytes(), read_region, entry.as_bytes(), entry_region) as f32
}

/// [`probability`] under another error model.
pub fn probability_with(
    model: &ErrorModel,
    read: &[u8],
    read_region: Option<Region>,
    entry: &[u8],
    entry_region: Option<Region>,
) -> f64 {
    let estimate = match (read_region, entry_region) {
        (Some(r), Some(e)) if r != e => model.state_wrong * share(r),
        (Some(_), Some(_)) => 1.0 - model.state_wrong,
        _ => 1.0,
    };
    // With no state on the read, the entry's vehicle must also be of its
    // state: the prior is joint, and other states' plates with the same
    // text are among the alternatives.
    let joint = read_region.is_none() && entry_region.is_some();
    // A listed plate is known to be issued: a vanity plate on a list is no
    // less likely than a serial of its state, whatever its shape.
    let issued = prior(row_of(entry_region.or(read_region)), entry).max(issued_prior(entry_region.or(read_region)));
    let own = match entry_region {
        Some(state) if joint => share(state) * issued,
        _ => issued,
    };
    let numerator = likelihood(model, read, entry) * own * estimate;
    if numerator == 0.0 {
        return 0.0;
    }
    // The read's own state explains it with plates of that state; the same
    // text as the entry's counts there too when the entry is of another state.
    let same_state = entry_region.is_none() || read_region.is_none() || entry_region == read_region;
    let row = row_of(read_region);
    let others_weight = if read_region.is_some() {
        1.0 - model.state_wrong
    } else {
        1.0
    };
    let mut others = 0.0;
    neighbours(model, read, |plate, l| {
        if !(same_state && plate == entry) {
            others += l * prior(row, plate);
        } else if joint {
            others += l * (prior(row, plate) - own).max(0.0);
        }
    });
    numerator / (numerator + others * others_weight)
}

/// The likelihood that OCR reads true plate `truth` as `read`: the product
/// of its errors' probabilities (look-alike substitutions and at most one
/// other edit; anything further is 0).
pub fn likelihood(model: &ErrorModel, read: &[u8], truth: &[u8]) -> f64 {
    let err = 1.0 - model.clean;
    let (n, m) = (read.len(), truth.len());
    if n == m {
        if read == truth {
            return model.clean;
        }
        let p = look_or_one(model, read, truth);
        return if p > 0.0 { p } else { best_single(model, read, truth) };
    }
    let mut best = 0.0f64;
    if n == m + 1 {
        for at in 0..n {
            let kind = if at == 0 || at == n - 1 {
                err * model.end_added / 2.0
            } else {
                err * model.extra / (n - 2).max(1) as f64
            } / 36.0;
            best = best.max(kind * look_or_one_shorter(model, read, at, truth));
        }
    } else if m == n + 1 {
        for at in 0..m {
            let kind = if at == 0 || at == m - 1 {
                err * model.end_cut / 2.0
            } else {
                err * model.dropped / (m - 2).max(1) as f64
            };
            best = best.max(kind * look_or_one_shorter(model, truth, at, read));
        }
    }
    best
}

/// How many look-alikes a character has: three for 0, O, D and Q, one for
/// the other classes.
fn alternatives(c: u8) -> f64 {
    if canonical_byte(c) == b'0' {
        3.0
    } else {
        1.0
    }
}

/// Characters that have a look-alike (0 O D Q 1 I 2 Z 5 S 8 B 6 G), of 36.
const WITH_LOOKALIKE: f64 = 14.0 / 36.0;

/// The probability of reading `truth`'s character as its look-alike `read`:
/// look-alike errors fall only on the characters that have one.
fn lookalike(model: &ErrorModel, read: u8, len: usize) -> f64 {
    (1.0 - model.clean) * model.lookalike / (len as f64 * WITH_LOOKALIKE) / alternatives(read)
}

/// 1 when `a` equals `b`; the look-alike probability when they differ only
/// by look-alikes; 0 otherwise.
fn look_or_one(model: &ErrorModel, a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x != y).fold(1.0, |p, (x, y)| {
        p * if canonical_byte(*x) == canonical_byte(*y) {
            lookalike(model, *x, a.len())
        } else {
            0.0
        }
    })
}

/// [`look_or_one`] of `long` without its character at `at`, against `short`.
fn look_or_one_shorter(model: &ErrorModel, long: &[u8], at: usize, short: &[u8]) -> f64 {
    let mut rest = [0u8; MAX_PLATE_LEN + 1];
    rest[..at].copy_from_slice(&long[..at]);
    rest[at..long.len() - 1].copy_from_slice(&long[at + 1..]);
    look_or_one(model, &rest[..long.len() - 1], short)
}

/// Equal lengths, not look-alikes only: one substitution or one swap, with
/// look-alikes elsewhere.
fn best_single(model: &ErrorModel, read: &[u8], truth: &[u8]) -> f64 {
    let err = 1.0 - model.clean;
    let n = read.len();
    let mut best = 0.0f64;
    for i in 0..n {
        if canonical_byte(read[i]) == canonical_byte(truth[i]) {
            continue;
        }
        let p = substitution(model, truth[i], read[i]) / n as f64;
        let mut rest_r = [0u8; MAX_PLATE_LEN];
        rest_r[..n].copy_from_slice(read);
        rest_r[i] = truth[i];
        best = best.max(p * look_or_one(model, &rest_r[..n], truth));
        if i + 1 < n {
            rest_r[..n].copy_from_slice(read);
            rest_r.swap(i, i + 1);
            best = best.max(err * model.swapped / (n - 1) as f64 * look_or_one(model, &rest_r[..n], truth));
        }
        break;
    }
    best
}

/// The probability of one substitution of `truth` by `read` (not a look-alike).
fn substitution(model: &ErrorModel, truth: u8, read: u8) -> f64 {
    let err = 1.0 - model.clean;
    if substitution_cost(canonical_byte(truth), canonical_byte(read)) < 1.0 {
        err * model.plausible / 2.0
    } else {
        err * model.other / 34.0
    }
}

/// Calls `f` with every plate one error from `read` (and the read itself),
/// and the likelihood that it is read as `read`.
fn neighbours(model: &ErrorModel, read: &[u8], mut f: impl FnMut(&[u8], f64)) {
    let err = 1.0 - model.clean;
    let n = read.len();
    f(read, model.clean);
    let mut buf = [0u8; MAX_PLATE_LEN + 1];
    // Substitutions and look-alikes.
    for i in 0..n {
        buf[..n].copy_from_slice(read);
        for &c in ALPHABET {
            if c == read[i] {
                continue;
            }
            buf[i] = c;
            let l = if canonical_byte(c) == canonical_byte(read[i]) {
                lookalike(model, read[i], n)
            } else {
                substitution(model, c, read[i]) / n as f64
            };
            f(&buf[..n], l);
        }
    }
    // The read has a character the plate lacks.
    if n >= 2 {
        for at in 0..n {
            buf[..at].copy_from_slice(&read[..at]);
            buf[at..n - 1].copy_from_slice(&read[at + 1..]);
            let l = if at == 0 || at == n - 1 {
                err * model.end_added / 2.0
            } else {
                err * model.extra / (n - 2).max(1) as f64
            } / 36.0;
            f(&buf[..n - 1], l);
        }
    }
    // The read lacks one of the plate's characters.
    if n < MAX_PLATE_LEN {
        let m = n + 1;
        for at in 0..m {
            let l = if at == 0 || at == m - 1 {
                err * model.end_cut / 2.0
            } else {
                err * model.dropped / (m - 2).max(1) as f64
            };
            buf[..at].copy_from_slice(&read[..at]);
            buf[at + 1..m].copy_from_slice(&read[at..]);
            for &c in ALPHABET {
                buf[at] = c;
                f(&buf[..m], l);
            }
        }
    }
    // Two neighbours swapped.
    for i in 0..n.saturating_sub(1) {
        if read[i] == read[i + 1] {
            continue;
        }
        buf[..n].copy_from_slice(read);
        buf.swap(i, i + 1);
        f(&buf[..n], err * model.swapped / (n - 1) as f64);
    }
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
