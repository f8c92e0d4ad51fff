// The allocation counter `vlac bench` and the runtime tests link; see include/allocation_counter.h.
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include "allocation_counter.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static __thread long allocations;
static long everywhere;  // all threads, updated atomically

#define COUNT() (allocations++, __atomic_fetch_add(&everywhere, 1, __ATOMIC_RELAXED))

void *malloc(size_t size) {
    COUNT();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    COUNT();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    COUNT();
    return __libc_realloc(pointer, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    COUNT();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    COUNT();
    return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
    COUNT();
    return __libc_memalign(alignment, size);
}

long vla_test_allocations_on_this_thread(void) { return allocations; }

long vla_test_allocations_in_process(void) { return __atomic_load_n(&everywhere, __ATOMIC_RELAXED); }

int vla_test_allocation_counter_active(void) {
    long before = allocations;
    void *volatile p = malloc(16);
    free(p);
    return allocations > before;
}
