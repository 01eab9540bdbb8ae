// OpenBLAS's CBLAS header (it declares openblas_set_num_threads) and LAPACKE's C interface.
// Debian installs OpenBLAS under an alternatives-managed directory whose openblas.pc is not on
// pkg-config's default path, so the header is found through the multiarch include directory.
#pragma once
#if __has_include(<openblas-pthread/cblas.h>)
#include <openblas-pthread/cblas.h>
#else
#include <cblas.h>
#endif
#include <lapacke.h>

/// What the CPU (and the kernel, for the AVX register state) supports, for choosing OpenBLAS's
/// core type (`OpenBLAS.CPUFeatures`): bit 0 AVX2, 1 FMA, 2 AVX-512F, 3 AVX-512BW, 4 AVX-512VL,
/// 5 AVX-512DQ, 6 AVX512_BF16, 7 AMD. 0 on other architectures. `__builtin_cpu_supports`
/// checks XCR0 too, so a kernel that does not save the AVX-512 state reports no AVX-512.
static inline unsigned CLapack_cpuFeatures(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    unsigned f = 0;
    if (__builtin_cpu_supports("avx2")) f |= 1u << 0;
    if (__builtin_cpu_supports("fma")) f |= 1u << 1;
    if (__builtin_cpu_supports("avx512f")) f |= 1u << 2;
    if (__builtin_cpu_supports("avx512bw")) f |= 1u << 3;
    if (__builtin_cpu_supports("avx512vl")) f |= 1u << 4;
    if (__builtin_cpu_supports("avx512dq")) f |= 1u << 5;
    if (__builtin_cpu_supports("avx512bf16")) f |= 1u << 6;
    if (__builtin_cpu_is("amd")) f |= 1u << 7;
    return f;
#else
    return 0;
#endif
}
