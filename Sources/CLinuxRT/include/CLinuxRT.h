// Only what Swift cannot import from Glibc: the CPU_* macros and compile-time checks on C type
// widths the Swift wrappers rely on. Everything else is called from Swift directly.
#pragma once
#define _GNU_SOURCE 1
#include <sched.h>
#include <stdint.h>
#include <pthread.h>

/// Clears `set`. The corresponding C macro is `CPU_ZERO`.
void CLinuxRT_cpuZero(cpu_set_t *set);
/// Adds `cpu` to `set`. The corresponding C macro is `CPU_SET`.
void CLinuxRT_cpuSet(int cpu, cpu_set_t *set);
/// Whether `cpu` is in `set`. The corresponding C macro is `CPU_ISSET`.
int CLinuxRT_cpuIsSet(int cpu, const cpu_set_t *set);
/// Number of CPUs in `set`. The corresponding C macro is `CPU_COUNT`.
int CLinuxRT_cpuCount(const cpu_set_t *set);
/// Sets the calling thread's timer slack (ns); returns 0 or an errno value.
/// The corresponding C call is `prctl(PR_SET_TIMERSLACK, ns)` (variadic, so not importable).
int CLinuxRT_setTimerSlack(unsigned long nanoseconds);
/// The calling thread's timer slack (ns), or -1 with errno set.
/// The corresponding C call is `prctl(PR_GET_TIMERSLACK)` (variadic, so not importable).
long CLinuxRT_timerSlack(void);
/// A spin-wait hint (x86 `pause`; nothing elsewhere): spinning this way yields the core's
/// resources to its sibling hyper-thread and costs the hypervisor less.
static inline void CLinuxRT_cpuRelax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
/// Pins the calling thread to one CPU; returns 0 or an errno value.
/// The corresponding C function is `pthread_setaffinity_np`.
int CLinuxRT_pinCurrentThread(int cpu);
/// Removes `cpu` from the affinity mask of every other thread of the process that may run
/// elsewhere too (a thread pinned to `cpu` alone is left), so that the calling thread, pinned
/// there, has it to itself within the process; threads those threads start later inherit the
/// narrower mask. Two passes over `/proc/self/task` catch a thread started during the first.
/// Returns 0 or the errno of the first refusal; `*moved` counts the threads moved.
/// The corresponding C calls are `sched_getaffinity`/`sched_setaffinity` on each thread id.
int CLinuxRT_moveOtherThreadsOffCPU(int cpu, int *moved);
/// Routes `signal` to a pipe: installs a handler (SA_RESTART) that writes the signal number as
/// one byte to `writeFd`, whichever thread the kernel picks (libraries such as OpenBLAS start
/// threads before `main` that cannot be made to block it). Returns 0 or an errno value.
/// The corresponding C function is `sigaction`.
int CLinuxRT_routeSignalToPipe(int signal, int writeFd);
/// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1/2 in the calling thread so that the kernel
/// never interrupts it to run a handler (the control thread). Returns 0 or an errno value.
int CLinuxRT_blockAsyncSignals(void);
/// Sets the calling thread's nice value (background work); returns 0 or an errno value.
/// The corresponding C call is `setpriority(PRIO_PROCESS, gettid(), nice)`.
int CLinuxRT_setCurrentThreadNice(int nice);
/// Opens a new pseudo-terminal master (`O_RDWR | O_NOCTTY | O_CLOEXEC`), grants and unlocks its
/// slave and writes the slave's path (`/dev/pts/N`) into `slaveName`. Returns the master's
/// descriptor, or -errno. The corresponding C functions are `posix_openpt`, `grantpt`,
/// `unlockpt` and `ptsname_r` (XSI: glibc hides them from Swift's Glibc module).
int CLinuxRT_openPseudoTerminal(char *slaveName, unsigned long capacity);
