//! The server's allocator: mimalloc, with one addition. The configuration
//! compile thread can make a job allocate from a heap of its own
//! ([`in_a_heap_of_its_own`]), so that a reload's configuration never
//! shares a page with the next one's: the pages of a replaced
//! configuration then empty out and go back to the system, instead of each
//! reload scattering its tenants over the pages the last ones left half
//! used (resident memory crept up over hundreds of reloads while live
//! memory stayed the same).

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ffi::c_void;

thread_local! {
    /// The heap this thread allocates from, when not mimalloc's default.
    static HEAP: Cell<*mut mi::mi_heap_t> = const { Cell::new(std::ptr::null_mut()) };
}

/// mimalloc, allocating from this thread's own heap while one is set.
pub struct Allocator;

// SAFETY: every call goes to mimalloc with the layout's size and
// alignment; a block from any heap is freed and reallocated by mimalloc,
// which finds its page from the pointer.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let heap = HEAP.with(Cell::get);
        if heap.is_null() {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        } else {
            mi::mi_heap_malloc_aligned(heap, layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let heap = HEAP.with(Cell::get);
        if heap.is_null() {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        } else {
            mi::mi_heap_zalloc_aligned(heap, layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let heap = HEAP.with(Cell::get);
        if heap.is_null() {
            mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        } else {
            mi::mi_heap_realloc_aligned(heap, ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

/// Runs `job` with this thread allocating from a new mimalloc heap (when
/// [`Allocator`] is the global allocator), then hands that heap's pages,
/// with whatever `job` left alive in them, to the main heap, where nothing
/// new is allocated in them: they empty out as what is in them is freed.
pub fn in_a_heap_of_its_own<R>(job: impl FnOnce() -> R) -> R {
    // SAFETY: `mi_heap_new` only makes an empty heap.
    let heap = unsafe { mi::mi_heap_new() };
    if heap.is_null() {
        return job();
    }
    let before = HEAP.with(|h| h.replace(heap));
    let answer = job();
    HEAP.with(|h| h.set(before));
    // SAFETY: the heap is no thread's any more; `mi_heap_delete` keeps
    // its live blocks (their pages move to the main heap).
    unsafe { mi::mi_heap_delete(heap) };
    answer
}
