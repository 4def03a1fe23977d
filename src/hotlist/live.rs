//! The matcher the pipeline uses: a large immutable base plus a few small
//! immutable levels for the changes made since, all swapped atomically.
//!
//! Readers load the current [`View`] with one atomic pointer read (arc-swap)
//! and never wait for a writer, never build anything. A writer applies a
//! batch of changes (everything a poll of the hotlist topic returned) as one
//! new level, indexed on its own, so the cost of a batch is the size of the
//! batch, not of everything changed before it. Levels of similar size are
//! merged, as in a log-structured merge tree, so a read probes only a few of
//! them; when the levels together pass a fraction of the base, the base is
//! rebuilt from base plus levels on a background thread and swapped in,
//! while reads and further batches go on. A hit from an older level on an
//! entry that a newer level changed or removed is dropped.
//!
//! Writers are serialized among themselves; they are rare (list uploads),
//! reads are not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use arc_swap::ArcSwap;

use super::budget::Census;
use super::snapshot::{entry_hash, key_hash, source_hash, Snapshot};
use super::store::Source;
use super::tolerance::TolerancePolicy;
pub use super::weigh::EXPLAINED_AWAY;
use super::weigh::{dedup_entries, explain_away, rank, retain_from};
use super::{Hit, HotlistEntry, Matcher, Query, QueryBatch};

/// One change to the hotlist, as the hotlist topic carries it.
#[derive(Debug, Clone)]
pub enum Change {
    /// Adds an entry, or replaces the one with the same list and entry id.
    Upsert(Arc<HotlistEntry>),
    /// Removes an entry; unknown ids are ignored.
    Remove { list_id: String, entry_id: String },
}

impl Change {
    fn list_id(&self) -> &str {
        match self {
            Change::Upsert(entry) => &entry.list_id,
            Change::Remove { list_id, .. } => list_id,
        }
    }

    fn hash(&self) -> u64 {
        match self {
            Change::Upsert(entry) => entry_hash(entry),
            Change::Remove { list_id, entry_id } => key_hash(list_id, entry_id),
        }
    }
}

/// Default share of the base the levels may reach before the base is rebuilt.
pub const DEFAULT_FOLD_FRACTION: f64 = 0.1;
/// The levels are folded into the base from this many changes on, whatever the fraction.
const MIN_FOLD: usize = 1024;
/// When the topic goes quiet, changes past this share of the base are folded into it.
pub const QUIET_FOLD_FRACTION: f64 = 0.01;
/// Most levels above the base before the newest are merged regardless of size.
const MAX_LEVELS: usize = 6;

/// Entries indexed together, and the identities they set.
struct Level {
    snapshot: Snapshot,
    /// Identity hashes of the entries present in this level, sorted.
    present: Vec<u64>,
    /// Identity hashes this level removes, sorted (empty for the base).
    removed: Vec<u64>,
}

impl Level {
    /// A level of `changes` (identity, entry or removal), one per identity.
    fn build(changes: Vec<(u64, Option<Source<'_>>)>, policy: &TolerancePolicy, census: &Census) -> Level {
        let mut present = Vec::with_capacity(changes.len());
        let mut removed = Vec::new();
        let mut entries = Vec::with_capacity(changes.len());
        for (hash, entry) in changes {
            match entry {
                Some(entry) => {
                    present.push(hash);
                    entries.push(entry);
                }
                None => removed.push(hash),
            }
        }
        present.sort_unstable();
        removed.sort_unstable();
        Level {
            snapshot: Snapshot::build(&entries, policy, census),
            present,
            removed,
        }
    }

    /// `Some(true)` if this level holds the identity, `Some(false)` if it removes it.
    fn get(&self, hash: u64) -> Option<bool> {
        if self.present.binary_search(&hash).is_ok() {
            Some(true)
        } else if self.removed.binary_search(&hash).is_ok() {
            Some(false)
        } else {
            None
        }
    }

    fn touches(&self, hash: u64) -> bool {
        self.get(hash).is_some()
    }

    /// How many identities this level sets.
    fn size(&self) -> usize {
        self.present.len() + self.removed.len()
    }

    /// What this level sets, as changes.
    fn changes(&self) -> impl Iterator<Item = (u64, Option<Source<'_>>)> + '_ {
        let entries = self.snapshot.sources().map(|e| (source_hash(&e), Some(e)));
        entries.chain(self.removed.iter().map(|&h| (h, None)))
    }
}

/// What readers see: the base (`levels[0]`) and the levels above it, oldest first.
struct View {
    levels: Vec<Arc<Level>>,
}

impl View {
    fn present(&self, hash: u64) -> bool {
        self.levels.iter().rev().find_map(|l| l.get(hash)).unwrap_or(false)
    }

    /// True when a level above `level` changes or removes the identity.
    fn shadowed(&self, level: usize, hash: u64) -> bool {
        self.levels[level + 1..].iter().any(|l| l.touches(hash))
    }

    /// Changes held in the levels above the base.
    fn overlay_size(&self) -> usize {
        self.levels[1..].iter().map(|l| l.size()).sum()
    }
}

/// The writers' own state.
struct Writer {
    /// Current entries per list (for the list-size cap on tolerance), and
    /// the tolerances the budgets chose at the last full build.
    census: Census,
    len: usize,
    /// Levels at the bottom of the view (base included) a fold is rebuilding; 0 when none.
    folding: usize,
}

/// The live, swappable matcher.
pub struct LiveMatcher {
    policy: TolerancePolicy,
    view: ArcSwap<View>,
    /// Current number of entries, kept by the writers.
    len: AtomicUsize,
    writer: Mutex<Writer>,
    /// Signalled when a fold ends.
    folded: Condvar,
    fold_fraction: f64,
    folds: AtomicUsize,
    /// Decides which entries have expired.
    clock: crate::Clock,
}

impl LiveMatcher {
    pub fn new(entries: Vec<Arc<HotlistEntry>>, policy: TolerancePolicy) -> LiveMatcher {
        let census = Census::of(&entries, &policy);
        LiveMatcher::with_census(entries, policy, census)
    }

    /// A matcher over some of the lists' entries that gives each the
    /// tolerance its whole list has in `census` (for checking a list's new
    /// entries alone, as the list will match them).
    pub fn with_census(entries: Vec<Arc<HotlistEntry>>, policy: TolerancePolicy, census: Census) -> LiveMatcher {
        let base = Level::build(
            entries
                .iter()
                .map(|e| (entry_hash(e), Some(Source::Entry(e))))
                .collect(),
            &policy,
            &census,
        );
        drop(entries);
        let len = base.snapshot.len();
        LiveMatcher {
            policy,
            view: ArcSwap::from_pointee(View {
                levels: vec![Arc::new(base)],
            }),
            len: AtomicUsize::new(len),
            writer: Mutex::new(Writer {
                census,
                len,
                folding: 0,
            }),
            folded: Condvar::new(),
            fold_fraction: DEFAULT_FOLD_FRACTION,
            folds: AtomicUsize::new(0),
            clock: crate::system_clock(),
        }
    }

    /// The same matcher, judging expiry by `clock`.
    pub fn with_clock(mut self, clock: crate::Clock) -> LiveMatcher {
        self.clock = clock;
        self
    }

    /// The same matcher, rebuilding its base once the changes since pass
    /// `fraction` of it (0 < fraction; see `hotlist.fold_fraction`).
    pub fn with_fold_fraction(mut self, fraction: f64) -> LiveMatcher {
        self.fold_fraction = fraction;
        self
    }

    /// Adds an entry, or replaces the one with the same list and entry id.
    pub fn upsert(self: &Arc<Self>, entry: Arc<HotlistEntry>) {
        self.apply(vec![Change::Upsert(entry)]);
    }

    /// Removes an entry; unknown ids are ignored.
    pub fn remove(self: &Arc<Self>, list_id: &str, entry_id: &str) {
        self.apply(vec![Change::Remove {
            list_id: list_id.to_owned(),
            entry_id: entry_id.to_owned(),
        }]);
    }

    /// Applies `changes` in order, visible to reads all at once. May start
    /// rebuilding the base in the background.
    pub fn apply(self: &Arc<Self>, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut writer = self.lock();
        let view = self.view.load_full();
        let mut batch: HashMap<u64, Option<Arc<HotlistEntry>>> = HashMap::with_capacity(changes.len());
        for change in changes {
            let hash = change.hash();
            let was = batch.get(&hash).map_or_else(|| view.present(hash), Option::is_some);
            let now = matches!(change, Change::Upsert(_));
            if was != now {
                let size = writer.census.lists.entry(change.list_id().to_owned()).or_insert(0);
                if now {
                    *size += 1;
                    writer.len += 1;
                } else {
                    *size = size.saturating_sub(1);
                    writer.len -= 1;
                }
            }
            let entry = match change {
                Change::Upsert(entry) => Some(entry),
                Change::Remove { .. } => None,
            };
            batch.insert(hash, entry);
        }
        let mut levels = view.levels.clone();
        levels.push(Arc::new(Level::build(
            batch
                .iter()
                .map(|(&hash, entry)| (hash, entry.as_ref().map(Source::Entry)))
                .collect(),
            &self.policy,
            &writer.census,
        )));
        self.merge_newest(&mut levels, writer.folding.max(1), &writer.census);
        let view = View { levels };
        let fold = writer.folding == 0 && self.needs_fold(&view);
        self.view.store(Arc::new(view));
        self.len.store(writer.len, Ordering::Release);
        if fold {
            let job = self.begin_fold(&mut writer);
            drop(writer);
            self.spawn_fold(job);
        }
    }

    fn spawn_fold(self: &Arc<Self>, job: FoldJob) {
        let matcher = Arc::clone(self);
        std::thread::Builder::new()
            .name("hotlist-fold".into())
            .spawn(move || matcher.fold_in_background(job))
            .expect("a thread for rebuilding the hotlist index");
    }

    /// Called when the hotlist topic goes quiet: leaves reads as little to
    /// probe as possible. Changes past [`QUIET_FOLD_FRACTION`] of the base
    /// are folded into it in the background; fewer are merged into one level.
    pub fn quiet(self: &Arc<Self>) {
        let mut writer = self.lock();
        let view = self.view.load_full();
        if writer.folding > 0 || view.levels.len() == 1 {
            return;
        }
        if view.overlay_size() as f64 >= view.levels[0].size() as f64 * QUIET_FOLD_FRACTION {
            let job = self.begin_fold(&mut writer);
            drop(writer);
            self.spawn_fold(job);
        } else if view.levels.len() > 2 {
            let merged = self.merge(&view.levels[1..], &writer.census);
            self.view.store(Arc::new(View {
                levels: vec![Arc::clone(&view.levels[0]), Arc::new(merged)],
            }));
        }
    }

    /// Rebuilds the base from base plus levels now, on this thread (after
    /// any fold already running has ended).
    pub fn fold_now(&self) {
        let mut writer = self.lock();
        while writer.folding > 0 {
            writer = self.folded.wait(writer).expect("writer lock");
        }
        let job = self.begin_fold(&mut writer);
        drop(writer);
        let base = self.build_base(&job);
        self.finish_fold(base, &job, false);
    }

    /// Waits until no fold is running.
    pub fn settle(&self) {
        let mut writer = self.lock();
        while writer.folding > 0 {
            writer = self.folded.wait(writer).expect("writer lock");
        }
    }

    /// How many levels a read probes now (the base included).
    pub fn levels(&self) -> usize {
        self.view.load().levels.len()
    }

    /// How many times the base has been rebuilt from its levels.
    pub fn folds(&self) -> usize {
        self.folds.load(Ordering::Relaxed)
    }

    /// Every current entry (each packed one built anew: for tests and tools).
    pub fn entries(&self) -> Vec<Arc<HotlistEntry>> {
        let view = self.view.load_full();
        live_entries(&view.levels).iter().map(Source::to_entry).collect()
    }

    /// Bytes the base's plate index holds (for measuring).
    pub fn index_heap_bytes(&self) -> usize {
        self.view.load().levels[0].snapshot.index_heap_bytes()
    }

    /// Bytes the packed entries of every level hold (for measuring).
    pub fn store_heap_bytes(&self) -> usize {
        self.view
            .load()
            .levels
            .iter()
            .map(|l| l.snapshot.store_heap_bytes())
            .sum()
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().expect("writer lock")
    }

    fn needs_fold(&self, view: &View) -> bool {
        let base = view.levels[0].size();
        view.overlay_size() > MIN_FOLD.max((base as f64 * self.fold_fraction) as usize)
    }

    /// Merges the newest levels (never below `first`) while the newest is
    /// at least half the size of the one below it, or there are too many.
    fn merge_newest(&self, levels: &mut Vec<Arc<Level>>, first: usize, census: &Census) {
        while levels.len() >= first + 2 {
            let n = levels.len();
            let similar = levels[n - 1].size() * 2 >= levels[n - 2].size();
            if !similar && n - first <= MAX_LEVELS {
                break;
            }
            let merged = self.merge(&levels[n - 2..], census);
            levels.truncate(n - 2);
            levels.push(Arc::new(merged));
        }
    }

    /// One level holding what `levels` (oldest first) set, newest winning.
    fn merge(&self, levels: &[Arc<Level>], census: &Census) -> Level {
        let mut changes = HashMap::with_capacity(levels.iter().map(|l| l.size()).sum());
        for level in levels {
            changes.extend(level.changes());
        }
        Level::build(changes.into_iter().collect(), &self.policy, census)
    }
}

/// What a fold rebuilds: the bottom `levels` of a view, at the list sizes of its start.
struct FoldJob {
    levels: Vec<Arc<Level>>,
    census: Census,
}

/// A rebuilt base, with the tolerances its budgets chose.
struct Rebuilt {
    level: Level,
    census: Census,
}

impl LiveMatcher {
    fn begin_fold(&self, writer: &mut Writer) -> FoldJob {
        let view = self.view.load_full();
        writer.folding = view.levels.len();
        FoldJob {
            levels: view.levels.clone(),
            census: writer.census.clone(),
        }
    }

    /// The base rebuilt from every live entry, with its cells' tolerances
    /// chosen afresh (the list sizes stay the writers').
    fn build_base(&self, job: &FoldJob) -> Rebuilt {
        let entries = live_entries(&job.levels);
        let census = Census {
            lists: job.census.lists.clone(),
            chosen: Census::of(&entries, &self.policy).chosen,
        };
        let level = Level::build(
            entries.into_iter().map(|e| (source_hash(&e), Some(e))).collect(),
            &self.policy,
            &census,
        );
        Rebuilt { level, census }
    }

    /// Swaps the rebuilt base in under the levels made since the job began.
    /// With `again`, returns the next job if those levels need a fold too.
    fn finish_fold(&self, base: Rebuilt, job: &FoldJob, again: bool) -> Option<FoldJob> {
        let mut writer = self.lock();
        writer.census.chosen = base.census.chosen;
        let view = self.view.load_full();
        let mut levels = vec![Arc::new(base.level)];
        levels.extend(view.levels[job.levels.len()..].iter().cloned());
        let view = View { levels };
        let next = again && self.needs_fold(&view);
        self.view.store(Arc::new(view));
        self.folds.fetch_add(1, Ordering::Relaxed);
        writer.folding = 0;
        let next = next.then(|| self.begin_fold(&mut writer));
        self.folded.notify_all();
        next
    }

    fn fold_in_background(&self, mut job: FoldJob) {
        loop {
            let base = self.build_base(&job);
            match self.finish_fold(base, &job, true) {
                Some(next) => job = next,
                None => break,
            }
        }
    }
}

/// Every entry of `levels` (oldest first) that no newer level changed or removed.
fn live_entries(levels: &[Arc<Level>]) -> Vec<Source<'_>> {
    let mut all = Vec::with_capacity(levels.iter().map(|l| l.present.len()).sum());
    for (i, level) in levels.iter().enumerate() {
        let newer = &levels[i + 1..];
        all.extend(
            level
                .snapshot
                .sources()
                .filter(|e| newer.is_empty() || !newer.iter().any(|l| l.touches(source_hash(e)))),
        );
    }
    all
}

impl Matcher for LiveMatcher {
    fn find(&self, query: &Query<'_>, hits: &mut Vec<Hit>) {
        let start = hits.len();
        let view = self.view.load();
        view.levels[0].snapshot.find(query, &self.policy, hits);
        self.finish(&view, query, hits, start);
    }

    /// One view for the whole batch; the base level's lookups of all the
    /// queries overlapped ([`Snapshot::find_batch`]), the rest per query
    /// exactly as [`LiveMatcher::find`].
    fn find_batch(&self, queries: &QueryBatch, hits: &mut Vec<Hit>, ends: &mut Vec<usize>) {
        let view = self.view.load();
        let mut start = hits.len();
        view.levels[0]
            .snapshot
            .find_batch(queries, &self.policy, hits, |q, hits| {
                self.finish(&view, &queries.get(q), hits, start);
                ends.push(hits.len());
                start = hits.len();
            });
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

impl LiveMatcher {
    /// Given the base level's hits of `query` from `start` on: adds the
    /// levels above, drops what newer levels shadow and what has expired or
    /// is not yet effective, ranks, dedups and explains away.
    fn finish(&self, view: &View, query: &Query<'_>, hits: &mut Vec<Hit>, start: usize) {
        for (i, level) in view.levels.iter().enumerate() {
            let from = if i == 0 {
                start
            } else {
                let from = hits.len();
                level.snapshot.find(query, &self.policy, hits);
                from
            };
            if i + 1 < view.levels.len() && hits.len() > from {
                // Drop hits on entries a newer level changed or removed.
                retain_from(hits, from, |hit| !view.shadowed(i, entry_hash(&hit.entry)));
            }
        }
        if hits.len() > start {
            // An expired entry stops matching at its expiry, upload or
            // not; an entry not yet effective matches only from its date.
            let now: chrono::DateTime<chrono::Utc> = (self.clock)().into();
            retain_from(hits, start, |hit| {
                !hit.entry.expires_at.is_some_and(|at| at <= now) && !hit.entry.effective_at.is_some_and(|at| at > now)
            });
        }
        rank(&mut hits[start..]);
        dedup_entries(hits, start);
        explain_away(hits, start, self.policy.hit_probability);
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "live_batch_tests.rs"]
mod batch_tests;
