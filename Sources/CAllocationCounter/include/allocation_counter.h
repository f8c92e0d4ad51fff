// Counts heap allocations per thread by interposing the allocator (glibc: the executable's malloc family wins
// over libc's, and forwards to __libc_*). Linked into `vlac` (`vlac bench` reports allocations per step) and into
// the runtime test targets (`step` allocates nothing). The counters only add; nothing else changes how memory is
// allocated.
#ifndef VLA_ALLOCATION_COUNTER_H
#define VLA_ALLOCATION_COUNTER_H

/// Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made on the calling
/// thread since it started.
long vla_test_allocations_on_this_thread(void);

/// Calls of the malloc family so far on all threads of the process.
long vla_test_allocations_in_process(void);

/// 1 when the interposed allocator is the one the process uses (a malloc call on this thread was counted).
int vla_test_allocation_counter_active(void);

#endif
