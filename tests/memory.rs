//! The heap counter behind the sizing figures (`bench hotlist-load`, the
//! start-up log) counts exactly what is allocated and freed, in a binary of
//! its own because it must be the global allocator, as in `main`.

use hotlist_matcher::memory::{heap_bytes, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn the_heap_counter_counts_allocations_growth_and_frees_exactly() {
    ALLOCATOR.installed();
    let before = heap_bytes().expect("installed");
    let mut block: Vec<u8> = Vec::with_capacity(1 << 20);
    assert_eq!(heap_bytes(), Some(before + (1 << 20)));
    block.reserve_exact(3 << 20);
    assert_eq!(block.capacity(), 3 << 20);
    assert_eq!(heap_bytes(), Some(before + (3 << 20)));
    let zeroed = vec![0u64; 1000];
    assert_eq!(heap_bytes(), Some(before + (3 << 20) + 8000));
    drop(block);
    drop(zeroed);
    assert_eq!(heap_bytes(), Some(before));
}
