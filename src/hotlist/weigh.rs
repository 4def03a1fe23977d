//! Weighing one read's hits against each other once every level has been
//! searched: expired and shadowed hits dropped (by the caller, with
//! [`retain_from`]), the rest ranked best first, one hit per entry, and
//! fuzzy hits that a likelier hit explains away dropped, with each hit's
//! probability renormalized over them all.

use super::{Hit, MatchKind, Tier};

/// A match this many times less likely than the read's best is explained
/// away by it: a read of one listed plate is not also a possible match for
/// every listed plate one confusion from it.
pub const EXPLAINED_AWAY: f32 = 0.01;

/// Weighs the hits from `start` on against each other: each hit's
/// probability was computed against every plate that could explain the
/// read, listed or not, but with the priors of unlisted plates; listed
/// plates explain the read as well as they explain their own hits, so the
/// probabilities are renormalized over the hits' odds together. A hit with
/// an edit that the best of them explains away ([`EXPLAINED_AWAY`]) is
/// dropped (a plate read as listed, in any list or state, never is), and a hit
/// whose renormalized probability falls below `hit_probability` becomes a
/// possible match. Order is kept.
pub(super) fn explain_away(hits: &mut Vec<Hit>, start: usize, hit_probability: f32) {
    if hits.len() <= start + 1 {
        return;
    }
    let odds = |p: f32| f64::from(p.min(0.999_999)) / (1.0 - f64::from(p.min(0.999_999)));
    let total: f64 = hits[start..].iter().map(|h| odds(h.probability)).sum();
    let best = hits[start..].iter().map(|h| odds(h.probability)).fold(0.0, f64::max);
    let kept: Vec<Hit> = hits
        .drain(start..)
        .filter(|h| h.kind != MatchKind::Fuzzy || odds(h.probability) >= best * f64::from(EXPLAINED_AWAY))
        .map(|mut h| {
            h.probability = (odds(h.probability) / (1.0 + total)) as f32;
            if h.probability < hit_probability {
                h.tier = Tier::PossibleMatch;
            }
            h
        })
        .collect();
    hits.extend(kept);
}

/// Keeps the hits from `start` on for which `keep` holds (order is not kept).
pub(super) fn retain_from(hits: &mut Vec<Hit>, start: usize, keep: impl Fn(&Hit) -> bool) {
    let mut i = start;
    while i < hits.len() {
        if keep(&hits[i]) {
            i += 1;
        } else {
            hits.swap_remove(i);
        }
    }
}

/// Best first: higher score, then more urgent, then entry id for stability.
pub(super) fn rank(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.entry.priority.cmp(&b.entry.priority))
            .then_with(|| a.entry.list_id.cmp(&b.entry.list_id))
            .then_with(|| a.entry.entry_id.cmp(&b.entry.entry_id))
    });
}

/// Keeps the first (best) hit of each entry; a read and its OCR candidate
/// may both find the same entry (each hit builds its own copy of it).
pub(super) fn dedup_entries(hits: &mut Vec<Hit>, start: usize) {
    let mut i = start + 1;
    while i < hits.len() {
        if hits[start..i].iter().any(|h| h.entry.is(&hits[i].entry)) {
            hits.remove(i);
        } else {
            i += 1;
        }
    }
}
