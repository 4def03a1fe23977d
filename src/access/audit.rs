//! The SB 34 access log: every access to ALPR data and every security event,
//! in records chained by hash so a gap or an edit is detectable.
//!
//! Civil Code 1798.90.52 requires a record of each access: date and time,
//! who (username, organisation), what was searched, and why. [`Purpose`] is
//! required for every search and export: a category from a fixed list, a case
//! or incident number, and free text. Each [`AuditRecord`] carries the MAC of
//! the one before it; [`verify`] walks the chain and names the first record
//! that was edited, removed, reordered or written without the service key.
//! The MAC is HMAC-SHA256 under the service key ([`super::keys`]): write
//! access to the topic is not enough to append a record that verifies.
//! Because every record is keyed, each is its own signed checkpoint: once
//! retention has removed the oldest, `verify` starts from the first record
//! still kept, trusting its sequence number and link because its MAC
//! checks, and goes on from there. Events travel from every instance to
//! the one sealer signed too ([`sign_event`], [`open_event`]), so a forged
//! event is never sealed. A change that is not a search (a
//! hotlist upload) states a reason instead, checked by [`check_reason`].
//! Building and checking the chain is pure; writing it to `alpr.audit` is
//! [`crate::kafka::audit`]'s.

use super::auth::{Action, Role};
use super::keys::{Domain, ServiceKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a purpose or a chain is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("a purpose is required for {0:?}")]
    PurposeRequired(Action),
    #[error("purpose is invalid: {0}")]
    InvalidPurpose(&'static str),
    #[error("give a reason of at least {MIN_REASON_LEN} characters")]
    ReasonRequired,
    #[error("audit record {seq} is broken: {reason}")]
    Broken { seq: u64, reason: &'static str },
    #[error("audit event refused: {0}")]
    BadEvent(&'static str),
}

/// Why ALPR data was looked at: the fixed categories of official use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurposeCategory {
    CriminalInvestigation,
    StolenVehicle,
    MissingPerson,
    AmberAlert,
    OfficerSafety,
    CourtOrder,
    ComplianceAudit,
}

/// A stated purpose of use. Its `Debug` hides the details (free text
/// that may name a plate).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purpose {
    pub category: PurposeCategory,
    /// Case, incident or report number.
    pub case_number: String,
    pub details: String,
}

impl Purpose {
    /// Checks that the purpose says something: a case number of 3 to 40
    /// printable characters and details of 10 to 1000 characters.
    pub fn validate(&self) -> Result<(), AuditError> {
        let case = self.case_number.trim();
        if !(3..=40).contains(&case.len()) || !case.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(AuditError::InvalidPurpose(
                "case number must be 3 to 40 printable characters",
            ));
        }
        let details = self.details.trim().chars().count();
        if !(10..=1000).contains(&details) {
            return Err(AuditError::InvalidPurpose("details must be 10 to 1000 characters"));
        }
        Ok(())
    }
}

impl std::fmt::Debug for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Purpose")
            .field("category", &self.category)
            .field("case_number", &self.case_number)
            .field("details", &crate::text::Redacted(&self.details))
            .finish()
    }
}

/// Requires a valid purpose for every action on ALPR data.
pub fn require_purpose(action: Action, purpose: Option<&Purpose>) -> Result<(), AuditError> {
    match (action.touches_alpr_data(), purpose) {
        (true, None) => Err(AuditError::PurposeRequired(action)),
        (_, Some(p)) => p.validate(),
        (false, None) => Ok(()),
    }
}

/// Fewest characters, once trimmed, of the reason given for a change that
/// is not a search, such as replacing a hotlist.
pub const MIN_REASON_LEN: usize = 5;

/// Checks the reason given for a change (a hotlist upload, over HTTPS or
/// from the command line): at least [`MIN_REASON_LEN`] characters once
/// trimmed. Returns it trimmed, as it goes into the audit record.
pub fn check_reason(reason: &str) -> Result<&str, AuditError> {
    let reason = reason.trim();
    if reason.len() < MIN_REASON_LEN {
        return Err(AuditError::ReasonRequired);
    }
    Ok(reason)
}

/// What is being recorded, before it is chained. Its `Debug` hides the
/// values of query terms (they carry plates) and the purpose's details.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// As typed for a failed login (bounded and flagged by [`Chain::append`]).
    pub username: String,
    pub organisation: String,
    /// `None` for someone not logged in (a failed login, a request without
    /// a session).
    pub role: Option<Role>,
    /// The action, or a security event such as `login_failed`, `lockout`, `grant`.
    pub action: String,
    /// The data elements searched (a plate, a camera, a time range).
    pub query_terms: Vec<String>,
    pub purpose: Option<Purpose>,
    pub result_count: Option<u64>,
    pub client_addr: String,
    /// Set when a field was cut to its bound ([`AuditEvent::bounded`]), or
    /// the record could not be stored whole and only its outline was
    /// ([`AuditEvent::outline`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The query terms sealed under the audit key (hex), in place of
    /// `query_terms`, once the event leaves the process
    /// ([`crate::kafka::audit`]); the service opens them for readers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_terms: Option<String>,
}

impl std::fmt::Debug for AuditEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let terms: Vec<RedactedTerm<'_>> = self.query_terms.iter().map(|t| RedactedTerm(t)).collect();
        f.debug_struct("AuditEvent")
            .field("at", &self.at)
            .field("username", &self.username)
            .field("organisation", &self.organisation)
            .field("role", &self.role)
            .field("action", &self.action)
            .field("query_terms", &terms)
            .field("purpose", &self.purpose)
            .field("result_count", &self.result_count)
            .field("client_addr", &self.client_addr)
            .field("truncated", &self.truncated)
            .field("sealed_terms", &self.sealed_terms.as_ref().map(|t| t.len()))
            .finish()
    }
}

/// A query term in `Debug`: its name, its value redacted (`plate=<redacted 7 chars>`).
struct RedactedTerm<'a>(&'a str);

impl std::fmt::Debug for RedactedTerm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.split_once('=') {
            Some((name, value)) => write!(f, "{name}={:?}", crate::text::Redacted(value)),
            None => write!(f, "{:?}", crate::text::Redacted(self.0)),
        }
    }
}

/// Packs lists of items (plates added to and removed from a hotlist, the
/// ids of records exported) into query terms `name=a,b,c` of at most
/// [`bounds::TERM`] bytes each, at most `room` terms in all. Each list gets
/// an equal share of the room, and a list that needs less leaves the rest
/// to the others. Returns the terms, in the order of `lists`, and whether
/// every item fitted (a record whose items did not is flagged `truncated`
/// by its caller; its counts say how many there were).
pub fn packed_terms(lists: &[(&str, &[String])], room: usize) -> (Vec<String>, bool) {
    let chunked: Vec<Vec<String>> = lists.iter().map(|(name, items)| chunks(name, items)).collect();
    let mut share = vec![0; chunked.len()];
    let mut order: Vec<usize> = (0..chunked.len()).collect();
    order.sort_by_key(|&i| chunked[i].len());
    let mut left = room;
    for (n, &i) in order.iter().enumerate() {
        let fair = left / (order.len() - n);
        share[i] = chunked[i].len().min(fair);
        left -= share[i];
    }
    let complete = chunked.iter().zip(&share).all(|(c, &s)| c.len() == s);
    let terms = chunked
        .into_iter()
        .zip(share)
        .flat_map(|(c, s)| c.into_iter().take(s))
        .collect();
    (terms, complete)
}

/// Adds what an upload changed to its audit terms: `added_count=N`,
/// `removed_count=N`, `changed_count=N` first, then the plates added and
/// removed (`added=A,B,...`, `removed=C,...`) in as many of the remaining
/// terms as the audit bounds allow. Returns whether every plate fitted.
pub fn upload_terms(terms: &mut Vec<String>, report: &crate::hotlist::plan::UploadReport) -> bool {
    let plates = &report.plates;
    terms.push(format!("added_count={}", plates.added.len()));
    terms.push(format!("removed_count={}", plates.removed.len()));
    terms.push(format!("changed_count={}", report.changed));
    let room = bounds::TERMS.saturating_sub(terms.len());
    let (packed, complete) = packed_terms(&[("added", &plates.added), ("removed", &plates.removed)], room);
    terms.extend(packed);
    complete
}

/// `items` as terms `name=a,b,...` of at most [`bounds::TERM`] bytes (an
/// item too long for one term alone gets a term of its own, cut later).
fn chunks(name: &str, items: &[String]) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut current = String::new();
    for item in items {
        if !current.is_empty() && current.len() + 1 + item.len() > bounds::TERM {
            terms.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current = format!("{name}={item}");
        } else {
            current.push(',');
            current.push_str(item);
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
}

/// Bounds of the fields of an audit record, in bytes. Together they keep
/// a record far below the broker's message size, whatever a client sends.
pub mod bounds {
    /// Username, organisation, action, client address.
    pub const NAME: usize = 128;
    /// One query term.
    pub const TERM: usize = 512;
    /// Query terms kept.
    pub const TERMS: usize = 16;
    /// Case number and details of a purpose.
    pub const PURPOSE: usize = 1024;
    /// Sealed query terms, in hex: room for every term at its bound, as
    /// JSON, sealed.
    pub const SEALED_TERMS: usize = 2 * (TERMS * (TERM * 6 + 3) + 64);
}

impl AuditEvent {
    /// The event with every field cut to its [`bounds`], flagged
    /// `truncated` if anything was cut. Text is stored as typed (it is
    /// escaped when printed), only shortened.
    pub fn bounded(mut self) -> AuditEvent {
        let mut cut = false;
        let mut bound = |text: &mut String, max: usize| {
            let (kept, was_cut) = crate::text::truncated(text, max);
            if was_cut {
                *text = kept.to_owned();
                cut = true;
            }
        };
        bound(&mut self.username, bounds::NAME);
        bound(&mut self.organisation, bounds::NAME);
        bound(&mut self.action, bounds::NAME);
        bound(&mut self.client_addr, bounds::NAME);
        for term in &mut self.query_terms {
            bound(term, bounds::TERM);
        }
        if let Some(sealed) = &mut self.sealed_terms {
            bound(sealed, bounds::SEALED_TERMS);
        }
        if let Some(purpose) = &mut self.purpose {
            bound(&mut purpose.case_number, bounds::PURPOSE);
            bound(&mut purpose.details, bounds::PURPOSE);
        }
        if self.query_terms.len() > bounds::TERMS {
            self.query_terms.truncate(bounds::TERMS);
            cut = true;
        }
        self.truncated |= cut;
        self
    }

    /// What is left of an event the log could not store whole: who, when,
    /// what and from where, without terms or purpose, flagged `truncated`.
    pub fn outline(&self) -> AuditEvent {
        AuditEvent {
            query_terms: Vec::new(),
            sealed_terms: None,
            purpose: None,
            truncated: true,
            ..self.clone()
        }
        .bounded()
    }
}

/// One chained record of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Hex MAC of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// Hex HMAC-SHA256, under the service key, of this record's other fields.
    pub hash: String,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn digest(key: &ServiceKey, seq: u64, event: &AuditEvent, prev_hash: &str) -> String {
    let body = serde_json::to_vec(&(seq, event, prev_hash)).expect("audit events serialize");
    key.mac(Domain::AuditRecord, &[&body])
}

fn checks(key: &ServiceKey, record: &AuditRecord) -> bool {
    let body = serde_json::to_vec(&(record.seq, &record.event, &record.prev_hash)).expect("audit events serialize");
    key.verify(Domain::AuditRecord, &[&body], &record.hash)
}

/// Appends events to a chain.
#[derive(Debug, Clone)]
pub struct Chain {
    key: ServiceKey,
    next_seq: u64,
    last_hash: String,
}

impl Chain {
    /// A chain with no record yet.
    pub fn start(key: ServiceKey) -> Chain {
        Chain {
            key,
            next_seq: 0,
            last_hash: GENESIS.to_owned(),
        }
    }

    /// Continues a chain whose last record is `last` (after a restart or
    /// when another sealer takes over).
    pub fn after(key: ServiceKey, last: &AuditRecord) -> Chain {
        Chain {
            key,
            next_seq: last.seq + 1,
            last_hash: last.hash.clone(),
        }
    }

    /// Continues after the last record of `records` that carries the
    /// service key's MAC (a record anyone else wrote is passed over; `verify`
    /// names it), or starts afresh.
    pub fn after_last_of(key: ServiceKey, records: &[AuditRecord]) -> Chain {
        match records.iter().rev().find(|r| checks(&key, r)) {
            Some(last) => Chain::after(key, last),
            None => Chain::start(key),
        }
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Chains `event`, [bounded](AuditEvent::bounded) first.
    pub fn append(&mut self, event: AuditEvent) -> AuditRecord {
        let event = event.bounded();
        let hash = digest(&self.key, self.next_seq, &event, &self.last_hash);
        let record = AuditRecord {
            seq: self.next_seq,
            event,
            prev_hash: std::mem::replace(&mut self.last_hash, hash.clone()),
            hash,
        };
        self.next_seq += 1;
        record
    }
}

/// Checks a chain from its first retained record (record 0, or the oldest
/// retention left, whose own MAC vouches for where it starts); names the
/// first broken one.
pub fn verify(key: &ServiceKey, records: &[AuditRecord]) -> Result<(), AuditError> {
    let Some(first) = records.first() else { return Ok(()) };
    let mut expected_prev = if first.seq == 0 {
        GENESIS.to_owned()
    } else {
        first.prev_hash.clone()
    };
    for (expected_seq, record) in (first.seq..).zip(records) {
        let broken = |reason| AuditError::Broken {
            seq: record.seq,
            reason,
        };
        if !checks(key, record) {
            return Err(broken("not written with the service key, or changed since"));
        }
        if record.seq != expected_seq {
            return Err(broken("sequence gap: a record before it was removed or reordered"));
        }
        if record.prev_hash != expected_prev {
            return Err(broken("does not follow the record before it"));
        }
        expected_prev = record.hash.clone();
    }
    Ok(())
}

/// An event signed for the sealer: the MAC, a newline, the event's JSON.
pub fn sign_event(key: &ServiceKey, event: &AuditEvent) -> Vec<u8> {
    let json = serde_json::to_vec(event).expect("audit events serialize");
    let mut payload = key.mac(Domain::AuditEvent, &[&json]).into_bytes();
    payload.push(b'\n');
    payload.extend_from_slice(&json);
    payload
}

/// The event of a payload made by [`sign_event`] with the same key.
pub fn open_event(key: &ServiceKey, payload: &[u8]) -> Result<AuditEvent, AuditError> {
    let split = payload.iter().position(|&b| b == b'\n');
    let (mac, json) = split
        .map(|at| (&payload[..at], &payload[at + 1..]))
        .ok_or(AuditError::BadEvent("not a signed event"))?;
    let mac = std::str::from_utf8(mac).map_err(|_| AuditError::BadEvent("not a signed event"))?;
    if !key.verify(Domain::AuditEvent, &[json], mac) {
        return Err(AuditError::BadEvent("not signed with the service key"));
    }
    serde_json::from_slice(json).map_err(|_| AuditError::BadEvent("signed, but not an audit event"))
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
