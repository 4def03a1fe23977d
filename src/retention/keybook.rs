//! Which day keys an instance holds, as the day-key topic tells it: the pure
//! bookkeeping behind [`crate::kafka::day_keys`].
//!
//! Every instance follows one compacted, single-partition topic and applies
//! its records in offset order, so all agree on each day's key without a
//! leader: a record is keyed `YYYY-MM-DD/<candidate>` and holds a day key
//! wrapped under the master key; the first record of a day whose wrapping
//! opens is that day's key, and later candidates (two instances that both
//! made one at midnight) are only remembered so they can be tombstoned too.
//! Distinct record keys mean compaction never replaces the chosen key with a
//! loser. A tombstone of the chosen record destroys the day: its key leaves
//! memory and is never adopted again. Each instance also forgets an expired
//! day by its own clock ([`KeyBook::expired`]), without waiting for the
//! tombstone. A record that does not unwrap (written without the master
//! key) is refused, never adopted.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::seal::{day_id, expired, parse_day_id, DayKey, MasterKey};

/// What one record of the day-key topic did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The first good key of its day: now the day's key.
    Adopted(NaiveDate),
    /// A later candidate, or one for a destroyed day: kept only by name.
    Ignored(NaiveDate),
    /// The tombstone of the day's key: the day is destroyed.
    Destroyed(NaiveDate),
    /// A tombstone of a candidate that was not the day's key.
    Tidied(NaiveDate),
    /// Not a day-key record, or a key the master key does not open.
    Refused(String),
}

/// The day keys one instance holds, and the record names of each day.
#[derive(Default)]
pub struct KeyBook {
    keys: BTreeMap<NaiveDate, (String, DayKey)>,
    names: BTreeMap<NaiveDate, BTreeSet<String>>,
    destroyed: BTreeSet<NaiveDate>,
}

/// The record key of a candidate key for `day`.
pub fn record_name(day: NaiveDate, candidate: &str) -> String {
    format!("{}/{candidate}", day_id(day))
}

impl KeyBook {
    /// Applies one record (`value` `None` is a tombstone), in offset order.
    pub fn apply(&mut self, master: &MasterKey, name: &str, value: Option<&[u8]>) -> Applied {
        let Some(day) = name.split_once('/').and_then(|(day, _)| parse_day_id(day)) else {
            return Applied::Refused("record key is not DAY/candidate".into());
        };
        let Some(wrapped) = value else {
            if let Some(names) = self.names.get_mut(&day) {
                names.remove(name);
            }
            if self.keys.get(&day).is_some_and(|(chosen, _)| chosen == name) {
                self.forget(day);
                return Applied::Destroyed(day);
            }
            return Applied::Tidied(day);
        };
        let key = match master.unwrap(day, wrapped) {
            Ok(key) => key,
            Err(e) => return Applied::Refused(format!("day key {}: {e}", day_id(day))),
        };
        self.names.entry(day).or_default().insert(name.to_owned());
        if self.destroyed.contains(&day) || self.keys.contains_key(&day) {
            return Applied::Ignored(day);
        }
        self.keys.insert(day, (name.to_owned(), key));
        Applied::Adopted(day)
    }

    /// The key of `day`, if this instance holds it.
    pub fn get(&self, day: NaiveDate) -> Option<&DayKey> {
        self.keys.get(&day).map(|(_, key)| key)
    }

    /// Whether `day`'s key was destroyed while this instance watched.
    pub fn is_destroyed(&self, day: NaiveDate) -> bool {
        self.destroyed.contains(&day)
    }

    /// The days whose keys this instance holds, oldest first.
    pub fn days(&self) -> Vec<NaiveDate> {
        self.keys.keys().copied().collect()
    }

    /// Days with a key or a record name that are past the retention at `now`.
    pub fn expired(&self, now: DateTime<Utc>, retention_days: u32) -> Vec<NaiveDate> {
        let days: BTreeSet<NaiveDate> = self.keys.keys().chain(self.names.keys()).copied().collect();
        days.into_iter()
            .filter(|day| expired(*day, now, retention_days))
            .collect()
    }

    /// Destroys `day` here: its key leaves memory for good. Returns the
    /// record names to tombstone on the topic.
    pub fn forget(&mut self, day: NaiveDate) -> Vec<String> {
        self.keys.remove(&day);
        self.destroyed.insert(day);
        self.names.remove(&day).unwrap_or_default().into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn master() -> MasterKey {
        MasterKey::from_bytes(&[9u8; 32]).unwrap()
    }

    #[test]
    fn the_first_good_key_of_a_day_wins_and_its_tombstone_destroys_the_day() {
        let master = master();
        let mut book = KeyBook::default();
        let first = DayKey::generate(day(5)).unwrap();
        let second = DayKey::generate(day(5)).unwrap();
        let sealed = first.seal(b"alert").unwrap();
        let (a, b) = (record_name(day(5), "a"), record_name(day(5), "b"));
        assert_eq!(
            book.apply(&master, &a, Some(&master.wrap(&first).unwrap())),
            Applied::Adopted(day(5))
        );
        assert_eq!(
            book.apply(&master, &b, Some(&master.wrap(&second).unwrap())),
            Applied::Ignored(day(5))
        );
        assert_eq!(book.get(day(5)).unwrap().open(&sealed).unwrap(), b"alert");
        assert_eq!(book.apply(&master, &b, None), Applied::Tidied(day(5)));
        assert!(book.get(day(5)).is_some(), "a loser's tombstone leaves the day's key");
        assert_eq!(book.apply(&master, &a, None), Applied::Destroyed(day(5)));
        assert!(book.get(day(5)).is_none() && book.is_destroyed(day(5)));
        assert_eq!(
            book.apply(&master, &record_name(day(5), "c"), Some(&master.wrap(&second).unwrap())),
            Applied::Ignored(day(5)),
            "a destroyed day never gets a key again"
        );
    }

    #[test]
    fn a_key_not_wrapped_with_the_master_key_or_a_bad_name_is_refused() {
        let mut book = KeyBook::default();
        let forged = MasterKey::from_bytes(&[1u8; 32]).unwrap();
        let key = DayKey::generate(day(5)).unwrap();
        let applied = book.apply(&master(), &record_name(day(5), "x"), Some(&forged.wrap(&key).unwrap()));
        assert!(matches!(applied, Applied::Refused(_)), "{applied:?}");
        assert!(book.get(day(5)).is_none());
        let wrapped = master().wrap(&key).unwrap();
        assert!(matches!(
            book.apply(&master(), "2026-11-05", Some(&wrapped)),
            Applied::Refused(_)
        ));
        assert!(matches!(
            book.apply(&master(), "05-11-2026/x", Some(&wrapped)),
            Applied::Refused(_)
        ));
        assert!(
            matches!(
                book.apply(&master(), &record_name(day(6), "x"), Some(&wrapped)),
                Applied::Refused(_)
            ),
            "a key wrapped for the 5th is not the 6th's"
        );
    }

    #[test]
    fn expired_days_are_forgotten_with_every_record_name_to_tombstone() {
        let master = master();
        let mut book = KeyBook::default();
        for (d, name) in [(5, "a"), (5, "b"), (6, "a")] {
            let key = DayKey::generate(day(d)).unwrap();
            book.apply(&master, &record_name(day(d), name), Some(&master.wrap(&key).unwrap()));
        }
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(book.expired(at("2026-12-05T23:59:59Z"), 30), Vec::<NaiveDate>::new());
        assert_eq!(book.expired(at("2026-12-06T00:00:00Z"), 30), vec![day(5)]);
        assert_eq!(
            book.forget(day(5)),
            vec!["2026-11-05/a".to_owned(), "2026-11-05/b".to_owned()]
        );
        assert_eq!(book.days(), vec![day(6)]);
        assert_eq!(book.expired(at("2026-12-06T00:00:00Z"), 30), Vec::<NaiveDate>::new());
    }
}
