#include "CLinuxRT.h"
#include <lapacke.h>
#include <errno.h>
#include <sys/prctl.h>

// LinearAlgebra passes Int32 to LAPACKE; an ILP64 build (lapack_int = int64_t) must fail here,
// not silently truncate dimensions.
_Static_assert(sizeof(lapack_int) == 4, "robotd expects LP64 LAPACKE (32-bit lapack_int)");
_Static_assert(sizeof(double) == 8, "robotd expects IEEE-754 binary64 doubles");

void CLinuxRT_cpuZero(cpu_set_t *set) { CPU_ZERO(set); }
void CLinuxRT_cpuSet(int cpu, cpu_set_t *set) { CPU_SET(cpu, set); }
int CLinuxRT_cpuIsSet(int cpu, const cpu_set_t *set) { return CPU_ISSET(cpu, set); }
int CLinuxRT_cpuCount(const cpu_set_t *set) { return CPU_COUNT(set); }

int CLinuxRT_pinCurrentThread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int CLinuxRT_setTimerSlack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0) == 0 ? 0 : errno;
}

long CLinuxRT_timerSlack(void) {
    return (long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
}

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile int signalPipe = -1;

// Async-signal-safe: write(2) only, errno preserved.
static void writeSignalToPipe(int signal) {
    int saved = errno;
    unsigned char byte = (unsigned char)signal;
    if (signalPipe >= 0) (void)!write(signalPipe, &byte, 1);
    errno = saved;
}

int CLinuxRT_routeSignalToPipe(int signal, int writeFd) {
    signalPipe = writeFd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = writeSignalToPipe;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    return sigaction(signal, &action, NULL) == 0 ? 0 : errno;
}

int CLinuxRT_blockAsyncSignals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

#include <sys/resource.h>
#include <sys/syscall.h>

int CLinuxRT_setCurrentThreadNice(int nice) {
    pid_t tid = (pid_t)syscall(SYS_gettid);
    return setpriority(PRIO_PROCESS, (id_t)tid, nice) == 0 ? 0 : errno;
}

#include <dirent.h>
#include <stdlib.h>

int CLinuxRT_moveOtherThreadsOffCPU(int cpu, int *moved) {
    pid_t self = (pid_t)syscall(SYS_gettid);
    int first_error = 0;
    *moved = 0;
    for (int pass = 0; pass < 2; pass++) {
        DIR *dir = opendir("/proc/self/task");
        if (dir == NULL) return errno;
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            char *end = NULL;
            long tid = strtol(entry->d_name, &end, 10);
            if (end == entry->d_name || *end != '\0' || tid <= 0 || (pid_t)tid == self) continue;
            cpu_set_t set;
            // A thread that exited since readdir: nothing to move.
            if (sched_getaffinity((pid_t)tid, sizeof(set), &set) != 0) continue;
            if (!CPU_ISSET(cpu, &set) || CPU_COUNT(&set) < 2) continue;
            CPU_CLR(cpu, &set);
            if (sched_setaffinity((pid_t)tid, sizeof(set), &set) == 0) {
                *moved += 1;
            } else if (errno != ESRCH && first_error == 0) {
                first_error = errno;
            }
        }
        closedir(dir);
    }
    return first_error;
}

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int CLinuxRT_openPseudoTerminal(char *slaveName, unsigned long capacity) {
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (grantpt(fd) != 0 || unlockpt(fd) != 0 || ptsname_r(fd, slaveName, capacity) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}
