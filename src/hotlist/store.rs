//! Entries packed for memory: what a million-entry list costs is mostly its
//! text, so a snapshot keeps each entry as one small record in a byte arena
//! instead of an `Arc<HotlistEntry>` with a dozen `String`s.
//!
//! A record holds the category, priority and flags in three bytes, then
//! the entry id, description and the details that differ per entry (NIC,
//! OCA) as length-prefixed text, and the details that repeat across a list
//! (list id, ORI, plate type, vehicle year, make, model and colour) as
//! numbers into the store's table of distinct strings. The plate and state
//! live beside the record in the index, which needs them on every read.
//! Nothing is decoded while matching: a [`HotlistEntry`] is rebuilt from its
//! record only on a hit ([`EntryStore::entry`]), and rebuilding a snapshot
//! copies records from store to store without rebuilding entries
//! ([`Source`]).

use std::collections::HashMap;
use std::sync::Arc;

use super::{Category, EntryDetails, EntryPlate, HotlistEntry};
use crate::normalize::{Plate, Region};

/// What an entry is for the budgets and the index: its list, category,
/// state and plate, read without building the entry.
pub trait EntryKey {
    fn list_id(&self) -> &str;
    fn category(&self) -> Category;
    fn region(&self) -> Option<Region>;
    /// The plate, or `None` for a pattern.
    fn plate(&self) -> Option<Plate>;
}

impl EntryKey for HotlistEntry {
    fn list_id(&self) -> &str {
        &self.list_id
    }
    fn category(&self) -> Category {
        self.category
    }
    fn region(&self) -> Option<Region> {
        self.region
    }
    fn plate(&self) -> Option<Plate> {
        self.plate.plate()
    }
}

impl<T: EntryKey + ?Sized> EntryKey for &T {
    fn list_id(&self) -> &str {
        (**self).list_id()
    }
    fn category(&self) -> Category {
        (**self).category()
    }
    fn region(&self) -> Option<Region> {
        (**self).region()
    }
    fn plate(&self) -> Option<Plate> {
        (**self).plate()
    }
}

impl<T: EntryKey + ?Sized> EntryKey for Arc<T> {
    fn list_id(&self) -> &str {
        (**self).list_id()
    }
    fn category(&self) -> Category {
        (**self).category()
    }
    fn region(&self) -> Option<Region> {
        (**self).region()
    }
    fn plate(&self) -> Option<Plate> {
        (**self).plate()
    }
}

/// Which details are numbers into the string table (they repeat across a
/// list); the others (NIC, OCA) are stored inline. In the order of
/// [`EntryDetails::fields_mut`].
const INTERNED: [bool; 8] = [false, true, false, true, true, true, true, true];
const EXPIRES: u8 = 1;
const EFFECTIVE: u8 = 2;

/// One snapshot's entries, packed.
#[derive(Debug, Default)]
pub struct EntryStore {
    /// Where each entry's record starts in `bytes`.
    starts: Vec<u32>,
    bytes: Vec<u8>,
    /// Distinct repeated strings (list ids, ORIs, vehicle makes, ...).
    strings: Vec<Arc<str>>,
}

/// An entry's fields, borrowed from an entry or a store's record.
#[derive(Debug, Clone)]
struct Fields<'a> {
    category: Category,
    priority: u8,
    list_id: &'a str,
    entry_id: &'a str,
    description: &'a str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    effective_at: Option<chrono::DateTime<chrono::Utc>>,
    details: [Option<&'a str>; 8],
}

impl<'a> Fields<'a> {
    fn of(entry: &'a HotlistEntry) -> Fields<'a> {
        let d = &entry.details;
        Fields {
            category: entry.category,
            priority: entry.priority,
            list_id: &entry.list_id,
            entry_id: &entry.entry_id,
            description: &entry.description,
            expires_at: entry.expires_at,
            effective_at: entry.effective_at,
            details: [
                &d.nic,
                &d.ori,
                &d.oca,
                &d.plate_type,
                &d.vehicle_year,
                &d.vehicle_make,
                &d.vehicle_model,
                &d.vehicle_colour,
            ]
            .map(|f| f.as_deref()),
        }
    }

    fn into_entry(self, plate: EntryPlate, region: Option<Region>) -> HotlistEntry {
        let mut details = EntryDetails::default();
        for ((_, slot), value) in details.fields_mut().into_iter().zip(self.details) {
            *slot = value.map(str::to_owned);
        }
        HotlistEntry {
            entry_id: self.entry_id.to_owned(),
            list_id: self.list_id.to_owned(),
            plate,
            region,
            category: self.category,
            priority: self.priority,
            description: self.description.to_owned(),
            expires_at: self.expires_at,
            effective_at: self.effective_at,
            details,
        }
    }
}

impl EntryStore {
    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 4
            + self.bytes.capacity()
            + self.strings.capacity() * std::mem::size_of::<Arc<str>>()
            + self.strings.iter().map(|s| s.len() + 16).sum::<usize>()
    }

    /// Entry `number`, rebuilt with its plate and state (which the index keeps).
    pub fn entry(&self, number: u32, plate: Plate, region: Option<Region>) -> HotlistEntry {
        self.fields(number).into_entry(plate.into(), region)
    }

    /// The list of entry `number`.
    pub fn list_id(&self, number: u32) -> &str {
        let mut r = self.record(number);
        r.skip(3);
        &self.strings[r.varint() as usize]
    }

    /// The id of entry `number` within its list.
    pub fn entry_id(&self, number: u32) -> &str {
        let mut r = self.record(number);
        r.skip(3);
        r.varint();
        r.text()
    }

    /// The category of entry `number`.
    pub fn category(&self, number: u32) -> Category {
        Category::ALL[usize::from(self.record(number).byte())]
    }

    fn record(&self, number: u32) -> Reader<'_> {
        Reader {
            bytes: &self.bytes,
            at: self.starts[number as usize] as usize,
        }
    }

    fn fields(&self, number: u32) -> Fields<'_> {
        let mut r = self.record(number);
        let category = Category::ALL[usize::from(r.byte())];
        let priority = r.byte();
        let flags = r.byte();
        let list_id = &*self.strings[r.varint() as usize];
        let entry_id = r.text();
        let description = r.text();
        let expires_at = (flags & EXPIRES != 0).then(|| r.time());
        let effective_at = (flags & EFFECTIVE != 0).then(|| r.time());
        let present = r.byte();
        let mut details = [None; 8];
        for (i, slot) in details.iter_mut().enumerate() {
            if present & (1 << i) != 0 {
                *slot = Some(if INTERNED[i] {
                    &*self.strings[r.varint() as usize]
                } else {
                    r.text()
                });
            }
        }
        Fields {
            category,
            priority,
            list_id,
            entry_id,
            description,
            expires_at,
            effective_at,
            details,
        }
    }
}

/// Reads a record's fields in order.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip(&mut self, n: usize) {
        self.at += n;
    }

    fn byte(&mut self) -> u8 {
        self.at += 1;
        self.bytes[self.at - 1]
    }

    fn varint(&mut self) -> u64 {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte();
            value |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }

    fn text(&mut self) -> &'a str {
        let len = self.varint() as usize;
        self.at += len;
        let bytes = &self.bytes[self.at - len..self.at];
        // Written from a `&str` by `Builder::text`, so always UTF-8.
        std::str::from_utf8(bytes).expect("store text is UTF-8")
    }

    fn time(&mut self) -> chrono::DateTime<chrono::Utc> {
        let mut secs = [0u8; 8];
        secs.copy_from_slice(&self.bytes[self.at..self.at + 8]);
        let mut nanos = [0u8; 4];
        nanos.copy_from_slice(&self.bytes[self.at + 8..self.at + 12]);
        self.at += 12;
        chrono::DateTime::from_timestamp(i64::from_le_bytes(secs), u32::from_le_bytes(nanos))
            .expect("written from a valid time")
    }
}

/// Builds an [`EntryStore`], interning repeated strings as it goes.
#[derive(Default)]
pub struct StoreBuilder {
    store: EntryStore,
    interned: HashMap<Arc<str>, u32>,
}

impl StoreBuilder {
    pub fn with_capacity(entries: usize) -> StoreBuilder {
        let mut builder = StoreBuilder::default();
        builder.store.starts.reserve_exact(entries);
        builder
    }

    /// Appends `source`'s entry; returns its number.
    pub fn push(&mut self, source: &Source<'_>) -> u32 {
        match source {
            Source::Entry(entry) => self.push_fields(&Fields::of(entry)),
            Source::Packed { store, number, .. } => self.push_fields(&store.fields(*number)),
        }
    }

    fn push_fields(&mut self, f: &Fields<'_>) -> u32 {
        let number = self.store.starts.len() as u32;
        let start = u32::try_from(self.store.bytes.len()).expect("a snapshot holds under 4 GiB of entry text");
        self.store.starts.push(start);
        let flags = (u8::from(f.expires_at.is_some()) * EXPIRES) | (u8::from(f.effective_at.is_some()) * EFFECTIVE);
        self.store
            .bytes
            .extend_from_slice(&[f.category as u8, f.priority, flags]);
        self.intern(f.list_id);
        self.text(f.entry_id);
        self.text(f.description);
        for time in [f.expires_at, f.effective_at].into_iter().flatten() {
            self.store.bytes.extend_from_slice(&time.timestamp().to_le_bytes());
            self.store
                .bytes
                .extend_from_slice(&time.timestamp_subsec_nanos().to_le_bytes());
        }
        let present = f
            .details
            .iter()
            .enumerate()
            .fold(0u8, |mask, (i, d)| mask | (u8::from(d.is_some()) << i));
        self.store.bytes.push(present);
        for (i, detail) in f.details.iter().enumerate() {
            if let Some(value) = detail {
                if INTERNED[i] {
                    self.intern(value);
                } else {
                    self.text(value);
                }
            }
        }
        number
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.store.bytes.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.store.bytes.push(value as u8);
    }

    fn text(&mut self, text: &str) {
        self.varint(text.len() as u64);
        self.store.bytes.extend_from_slice(text.as_bytes());
    }

    fn intern(&mut self, text: &str) {
        let index = match self.interned.get(text) {
            Some(&index) => index,
            None => {
                let index = self.store.strings.len() as u32;
                let shared: Arc<str> = Arc::from(text);
                self.store.strings.push(Arc::clone(&shared));
                self.interned.insert(shared, index);
                index
            }
        };
        self.varint(u64::from(index));
    }

    /// The store, trimmed to what it holds.
    pub fn finish(mut self) -> EntryStore {
        self.store.starts.shrink_to_fit();
        self.store.bytes.shrink_to_fit();
        self.store.strings.shrink_to_fit();
        self.store
    }
}

/// An entry as a snapshot is built from it: as a feed gave it, or already
/// packed in another snapshot's store (a merge or a rebuild copies records
/// without building entries).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Entry(&'a Arc<HotlistEntry>),
    Packed {
        store: &'a EntryStore,
        number: u32,
        plate: Plate,
        region: Option<Region>,
    },
}

impl Source<'_> {
    pub fn entry_id(&self) -> &str {
        match self {
            Source::Entry(entry) => &entry.entry_id,
            Source::Packed { store, number, .. } => store.entry_id(*number),
        }
    }

    /// The entry itself (built anew when packed).
    pub fn to_entry(&self) -> Arc<HotlistEntry> {
        match self {
            Source::Entry(entry) => Arc::clone(entry),
            Source::Packed {
                store,
                number,
                plate,
                region,
            } => Arc::new(store.entry(*number, *plate, *region)),
        }
    }
}

impl EntryKey for Source<'_> {
    fn list_id(&self) -> &str {
        match self {
            Source::Entry(entry) => &entry.list_id,
            Source::Packed { store, number, .. } => store.list_id(*number),
        }
    }
    fn category(&self) -> Category {
        match self {
            Source::Entry(entry) => entry.category,
            Source::Packed { store, number, .. } => store.category(*number),
        }
    }
    fn region(&self) -> Option<Region> {
        match self {
            Source::Entry(entry) => entry.region,
            Source::Packed { region, .. } => *region,
        }
    }
    fn plate(&self) -> Option<Plate> {
        match self {
            Source::Entry(entry) => entry.plate.plate(),
            Source::Packed { plate, .. } => Some(*plate),
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
