//! An optional counting allocator, so a Rust process can report `Alloc` (bytes allocated since
//! start) and `Heap` (bytes allocated and not yet freed) as cardano-node reports GHC's.
//!
//! Install it in a binary with
//! `#[global_allocator] static A: wb_trace::alloc::CountingAlloc = wb_trace::alloc::CountingAlloc::SYSTEM;`.
//! It costs two relaxed atomic additions per allocation; without it those fields are omitted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A global allocator that counts the bytes it hands out and takes back.
#[derive(Debug, Default)]
pub struct CountingAlloc<A = System>(pub A);

impl CountingAlloc<System> {
    /// The system allocator, counted.
    pub const SYSTEM: CountingAlloc<System> = CountingAlloc(System);
}

#[inline]
fn note_alloc(size: usize) {
    ALLOCATED.fetch_add(size as u64, Relaxed);
    if !INSTALLED.load(Relaxed) {
        INSTALLED.store(true, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the wrapped allocator; we only count sizes.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            FREED.fetch_add(layout.size() as u64, Relaxed);
            note_alloc(new_size);
        }
        p
    }
}

/// `(allocated since start, currently in use)` in bytes, if the counting allocator is installed.
pub fn counters() -> Option<(u64, u64)> {
    if !INSTALLED.load(Relaxed) {
        return None;
    }
    let freed = FREED.load(Relaxed);
    let allocated = ALLOCATED.load(Relaxed);
    Some((allocated, allocated.saturating_sub(freed)))
}
