// Counts heap allocations made by the calling thread, for "allocates nothing" proofs: the
// control thread of robotd counts its own allocations (reported by `robotd bench loop` and in
// the loop statistics), and tests count those of hot paths. Linked into an executable, these definitions of malloc & co. interpose glibc's for the
// whole process (an executable's symbols win over shared libraries') and forward to glibc's
// __libc_* entry points. Counters are thread-local, so parallel tests do not disturb each other.
#pragma once
#include <stdint.h>

/// Zeroes the calling thread's counter and starts counting.
void AllocationCounter_start(void);
/// Stops counting and returns the number of allocation calls since `start` on this thread.
uint64_t AllocationCounter_stop(void);
/// The calling thread's count so far, without stopping.
uint64_t AllocationCounter_count(void);
