//! Wildcard and partial plates: what a witness saw, not a whole plate.
//!
//! An entry may be a pattern: `?` is one unknown character, `*` any run of
//! them. `7AB*` is "starts with 7AB"; `*XYZ*` is a partial plate, the
//! fragment anywhere in the read; `7AB?12?` has two unknown characters.
//! Patterns are compared in canonical form (OCR classes collapsed), so a
//! witness's `B` finds a read `8`. They live beside the plate index: an
//! Aho-Corasick automaton over each pattern's longest literal run finds the
//! few patterns worth checking, and only those are matched in full.

use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind as AcMatchKind};

use super::confusion::canonical_byte;
use super::{regions_agree, Hit, HotlistEntry, MatchKind, Tier};
use crate::normalize::{normalize, NormalizeError, Plate, Region, MAX_PLATE_LEN};

/// Fewest known characters a pattern must have: fewer would hit half the road.
pub const MIN_LITERALS: usize = 3;

/// Why a pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern has a character that cannot be on a plate: {0}")]
    Literal(NormalizeError),
    #[error("pattern needs at least {MIN_LITERALS} known characters")]
    TooVague,
    #[error("pattern is longer than {MAX_PLATE_LEN} characters")]
    TooLong,
}

// Not `#[from]`: that would make the error its source too, and a chain
// printed with its sources would show it twice.
impl From<NormalizeError> for PatternError {
    fn from(error: NormalizeError) -> Self {
        PatternError::Literal(error)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A canonical character.
    Literal(u8),
    /// `?`
    One,
    /// `*`
    Run,
}

/// A parsed wildcard or partial plate.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The normalized pattern text, e.g. `7AB?12*`.
    text: String,
    tokens: Vec<Token>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern(<{} tokens>)", self.tokens.len())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Pattern {
    /// Parses a pattern; literal runs are normalized like plates.
    pub fn parse(raw: &str) -> Result<Pattern, PatternError> {
        let mut pattern = Pattern {
            text: String::new(),
            tokens: Vec::new(),
        };
        let mut rest = raw;
        while let Some(at) = rest.find(['?', '*']) {
            pattern.push_literals(&rest[..at])?;
            let token = if rest.as_bytes()[at] == b'?' {
                Token::One
            } else {
                Token::Run
            };
            if !(token == Token::Run && pattern.tokens.last() == Some(&Token::Run)) {
                pattern.tokens.push(token);
                pattern.text.push(rest.as_bytes()[at] as char);
            }
            rest = &rest[at + 1..];
        }
        pattern.push_literals(rest)?;
        let literals = pattern.tokens.iter().filter(|t| matches!(t, Token::Literal(_))).count();
        if literals < MIN_LITERALS {
            return Err(PatternError::TooVague);
        }
        if pattern.tokens.iter().filter(|t| **t != Token::Run).count() > MAX_PLATE_LEN {
            return Err(PatternError::TooLong);
        }
        Ok(pattern)
    }

    fn push_literals(&mut self, piece: &str) -> Result<(), PatternError> {
        match normalize(piece) {
            Ok(plate) => {
                self.text.push_str(plate.as_str());
                let literals = plate.as_bytes().iter().map(|&b| Token::Literal(canonical_byte(b)));
                self.tokens.extend(literals);
                Ok(())
            }
            Err(NormalizeError::Empty) => Ok(()),
            Err(NormalizeError::TooLong) => Err(PatternError::TooLong),
            Err(e) => Err(e.into()),
        }
    }

    /// True when the text has a wildcard, i.e. is a pattern rather than a plate.
    pub fn is_pattern(raw: &str) -> bool {
        raw.contains(['?', '*'])
    }

    /// A partial plate is `*FRAGMENT*`: known characters, anywhere in the read.
    pub fn is_partial(&self) -> bool {
        self.tokens.len() > 2
            && self.tokens.first() == Some(&Token::Run)
            && self.tokens.last() == Some(&Token::Run)
            && self.tokens[1..self.tokens.len() - 1]
                .iter()
                .all(|t| matches!(t, Token::Literal(_)))
    }

    /// The longest run of literal canonical characters.
    fn anchor(&self) -> Vec<u8> {
        let mut best: &[Token] = &[];
        for run in self.tokens.split(|t| !matches!(t, Token::Literal(_))) {
            if run.len() > best.len() {
                best = run;
            }
        }
        best.iter()
            .map(|t| match t {
                Token::Literal(b) => *b,
                _ => unreachable!("runs hold literals only"),
            })
            .collect()
    }

    /// Matches the whole canonical read; returns the read positions not
    /// covered by a literal (the unknown characters) as a bit set.
    fn matches(&self, read: &[u8]) -> Option<u16> {
        glob(&self.tokens, read, 0)
    }
}

fn glob(tokens: &[Token], read: &[u8], at: usize) -> Option<u16> {
    match tokens.first() {
        None => read.is_empty().then_some(0),
        Some(Token::Literal(b)) => match read.first() {
            Some(c) if c == b => glob(&tokens[1..], &read[1..], at + 1),
            _ => None,
        },
        Some(Token::One) => {
            let rest = glob(&tokens[1..], read.get(1..)?, at + 1)?;
            Some(rest | 1 << at)
        }
        Some(Token::Run) => (0..=read.len()).find_map(|skip| {
            let rest = glob(&tokens[1..], &read[skip..], at + skip)?;
            let run = ((1u32 << skip) - 1) as u16;
            Some(rest | run << at)
        }),
    }
}

/// Every pattern entry, ready to match.
#[derive(Debug, Default)]
pub struct PatternSet {
    automaton: Option<AhoCorasick>,
    /// Per anchor: the entries whose pattern has it.
    by_anchor: Vec<Vec<usize>>,
    entries: Vec<(Arc<HotlistEntry>, Pattern)>,
}

impl PatternSet {
    pub fn build(entries: Vec<(Arc<HotlistEntry>, Pattern)>) -> PatternSet {
        let mut anchors: Vec<Vec<u8>> = Vec::new();
        let mut by_anchor: Vec<Vec<usize>> = Vec::new();
        for (i, (_, pattern)) in entries.iter().enumerate() {
            let anchor = pattern.anchor();
            match anchors.iter().position(|a| *a == anchor) {
                Some(at) => by_anchor[at].push(i),
                None => {
                    anchors.push(anchor);
                    by_anchor.push(vec![i]);
                }
            }
        }
        let automaton = (!anchors.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(AcMatchKind::Standard)
                .build(&anchors)
                .expect("anchors are short literals")
        });
        PatternSet {
            automaton,
            by_anchor,
            entries,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every pattern entry.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<HotlistEntry>> {
        self.entries.iter().map(|(entry, _)| entry)
    }

    /// Appends a hit for every pattern the read matches (once per entry,
    /// however many of its anchors the read holds; hits already in `hits`
    /// are other reads' when reads are matched in a batch).
    pub fn find(&self, plate: &Plate, region: Option<Region>, reject_region: bool, hits: &mut Vec<Hit>) {
        let Some(automaton) = &self.automaton else { return };
        let start = hits.len();
        let mut canon = [0u8; MAX_PLATE_LEN];
        for (slot, &b) in canon.iter_mut().zip(plate.as_bytes()) {
            *slot = canonical_byte(b);
        }
        let canon = &canon[..plate.len()];
        for found in automaton.find_overlapping_iter(canon) {
            for &i in &self.by_anchor[found.pattern().as_usize()] {
                let (entry, pattern) = &self.entries[i];
                if hits[start..].iter().any(|h| Arc::ptr_eq(&h.entry, entry)) {
                    continue;
                }
                let Some(unknown) = pattern.matches(canon) else {
                    continue;
                };
                let agrees = regions_agree(entry.region, region);
                if !agrees && reject_region {
                    continue;
                }
                let (kind, base) = if pattern.is_partial() {
                    (MatchKind::Partial, 0.6)
                } else {
                    (MatchKind::Wildcard, 0.8 - 0.05 * unknown.count_ones() as f32)
                };
                hits.push(Hit {
                    entry: Arc::clone(entry),
                    kind,
                    score: if agrees { base } else { base * 0.5 }.max(0.05),
                    distance: 0.0,
                    differing: unknown,
                    candidate: None,
                    region_mismatch: !agrees,
                    probability: if agrees { base } else { base * 0.5 },
                    tier: if agrees { Tier::Hit } else { Tier::PossibleMatch },
                });
            }
        }
    }
}
