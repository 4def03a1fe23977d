//! How much memory the process holds, for sizing a pod: heap bytes counted
//! exactly by a global allocator wrapper, and resident bytes as the kernel
//! sees them.
//!
//! The `hotlist-matcher` binary installs [`Counting`] as its global
//! allocator (one relaxed atomic add per allocation and free; the per-read
//! path allocates nothing, see `tests/allocations.rs`), so `bench
//! hotlist-load` and the start-up log can say what each hotlist entry costs.
//! [`release_free`] hands memory freed after start-up (the records read from
//! the topic, the entries before packing) back to the kernel, so the
//! resident size after start-up is the steady state, not the peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting the bytes it has handed out and not yet
/// taken back.
pub struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is only arithmetic beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

impl Counting {
    /// Marks the counter as meaningful; call once from `main`, where the
    /// allocator is installed.
    pub fn installed(&self) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Bytes live on the heap, when [`Counting`] is the global allocator.
pub fn heap_bytes() -> Option<usize> {
    INSTALLED.load(Ordering::Relaxed).then(|| LIVE.load(Ordering::Relaxed))
}

/// Resident bytes of this process (Linux), from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Returns the heap's free pages to the kernel (glibc keeps freed small
/// allocations for reuse otherwise, and a start-up's million short-lived
/// records would stay resident for the life of the process).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
