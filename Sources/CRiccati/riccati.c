#include "CRiccati.h"

// Each kernel's body is an always-inline function compiled once per build: baseline, and, on
// x86-64, inside wrappers with target("avx2,fma") and target("avx512f,…"). `selected` and
// `widest` are set from cpuid (`__builtin_cpu_supports`) when the library loads; no ifunc. The builds round
// differently in the last bits (the wider ones fuse multiply-adds): each is tested against a
// plain reference through the explicit `build` argument.
#define KERNEL static inline __attribute__((always_inline))
// Every inner loop runs along one contiguous row into another buffer (no argument aliases
// another), so it may be vectorised without runtime overlap checks, which at rows of 6–12
// would cost as much as the loop.
#define VECTOR _Pragma("clang loop vectorize(assume_safety)")

// Each output row accumulates in a local array over the whole inner sum and is stored once: at
// the unrolled sizes the array lives in vector registers, where an update of the row in memory
// per term would put a store and a reload on every multiply-add's dependency chain.

KERNEL void q_blocks_kernel(long nx, long nu, const double *V, const double *A, const double *B,
                            const double *lxx, const double *luu, const double *lux, double mu,
                            double *vA, double *vB, double *Qxx, double *QuuTrue, double *QuxTrue,
                            double *Quu, double *Qux) {
    // vA = V A, vB = V B: row r = Σ_m V_rm (row m of A, of B).
    for (long r = 0; r < nx; r++) {
        double accA[nx], accB[nu];
        VECTOR for (long c = 0; c < nx; c++) accA[c] = 0;
        VECTOR for (long c = 0; c < nu; c++) accB[c] = 0;
        for (long m = 0; m < nx; m++) {
            const double a = V[r * nx + m];
            VECTOR for (long c = 0; c < nx; c++) accA[c] += a * A[m * nx + c];
            VECTOR for (long c = 0; c < nu; c++) accB[c] += a * B[m * nu + c];
        }
        VECTOR for (long c = 0; c < nx; c++) vA[r * nx + c] = accA[c];
        VECTOR for (long c = 0; c < nu; c++) vB[r * nu + c] = accB[c];
    }
    // Qxx = l_xx + Aᵀ vA: row r = l_xx,r + Σ_m A_mr (row m of vA); the entries on and above the
    // diagonal are kept and mirrored, so Qxx is symmetric to the bit.
    for (long r = 0; r < nx; r++) {
        double acc[nx];
        VECTOR for (long c = 0; c < nx; c++) acc[c] = lxx[r * nx + c];
        for (long m = 0; m < nx; m++) {
            const double a = A[m * nx + r];
            VECTOR for (long c = 0; c < nx; c++) acc[c] += a * vA[m * nx + c];
        }
        for (long c = r; c < nx; c++) {
            Qxx[r * nx + c] = acc[c];
            Qxx[c * nx + r] = acc[c];
        }
    }
    // Row r of Bᵀ vB, BᵀB, Bᵀ vA, BᵀA = Σ_m B_mr (row m of vB, B, vA, A).
    for (long r = 0; r < nu; r++) {
        double tuu[nu], ruu[nu], tux[nx], rux[nx];
        VECTOR for (long c = 0; c < nu; c++) { tuu[c] = luu[r * nu + c]; ruu[c] = 0; }
        VECTOR for (long c = 0; c < nx; c++) { tux[c] = lux[r * nx + c]; rux[c] = 0; }
        for (long m = 0; m < nx; m++) {
            const double b = B[m * nu + r];
            VECTOR for (long c = 0; c < nu; c++) {
                tuu[c] += b * vB[m * nu + c];
                ruu[c] += b * B[m * nu + c];
            }
            VECTOR for (long c = 0; c < nx; c++) {
                tux[c] += b * vA[m * nx + c];
                rux[c] += b * A[m * nx + c];
            }
        }
        for (long c = r; c < nu; c++) {
            const double t = tuu[c], reg = t + mu * ruu[c];
            QuuTrue[r * nu + c] = t;
            QuuTrue[c * nu + r] = t;
            Quu[r * nu + c] = reg;
            Quu[c * nu + r] = reg;
        }
        VECTOR for (long c = 0; c < nx; c++) {
            QuxTrue[r * nx + c] = tux[c];
            Qux[r * nx + c] = tux[c] + mu * rux[c];
        }
    }
}

KERNEL void value_hessian_kernel(long nx, long nu, const double *Qxx, const double *QuuTrue,
                                 const double *QuxTrue, const double *K, double *M, double *V) {
    // M row r = QuxTrue,r + Σ_c QuuTrue_rc (row c of K).
    for (long r = 0; r < nu; r++) {
        double acc[nx];
        VECTOR for (long j = 0; j < nx; j++) acc[j] = QuxTrue[r * nx + j];
        for (long c = 0; c < nu; c++) {
            const double a = QuuTrue[r * nu + c];
            VECTOR for (long j = 0; j < nx; j++) acc[j] += a * K[c * nx + j];
        }
        VECTOR for (long j = 0; j < nx; j++) M[r * nx + j] = acc[j];
    }
    // V row i = Qxx,i + Σ_r (K_ri (row r of M) + QuxTrue_ri (row r of K)); upper part mirrored.
    for (long i = 0; i < nx; i++) {
        double acc[nx];
        VECTOR for (long j = 0; j < nx; j++) acc[j] = Qxx[i * nx + j];
        for (long r = 0; r < nu; r++) {
            const double a = K[r * nx + i], b = QuxTrue[r * nx + i];
            VECTOR for (long j = 0; j < nx; j++) acc[j] += a * M[r * nx + j] + b * K[r * nx + j];
        }
        for (long j = i; j < nx; j++) {
            V[i * nx + j] = acc[j];
            V[j * nx + i] = acc[j];
        }
    }
}

#define Q_BLOCKS_ARGS long nx, long nu, const double *V, const double *A, const double *B, const double *lxx, \
    const double *luu, const double *lux, double mu, double *vA, double *vB, double *Qxx, double *QuuTrue,      \
    double *QuxTrue, double *Quu, double *Qux
#define Q_BLOCKS_CALL nx, nu, V, A, B, lxx, luu, lux, mu, vA, vB, Qxx, QuuTrue, QuxTrue, Quu, Qux
#define VALUE_ARGS long nx, long nu, const double *Qxx, const double *QuuTrue, const double *QuxTrue, \
    const double *K, double *M, double *V
#define VALUE_CALL nx, nu, Qxx, QuuTrue, QuxTrue, K, M, V

// Arms of 5, 6 and 7 joints (nx = 2nu) get the kernels with their sizes as constants: the
// compiler then unrolls the rows of 10–14 doubles into a few full-width vector operations,
// where the general loop spends more on its trip-count branches and remainders than on the
// arithmetic.
#define SIZED(kernel, ...)                                                        \
    do {                                                                          \
        if (nx == 12 && nu == 6) kernel(12, 6, __VA_ARGS__);                      \
        else if (nx == 10 && nu == 5) kernel(10, 5, __VA_ARGS__);                 \
        else if (nx == 14 && nu == 7) kernel(14, 7, __VA_ARGS__);                 \
        else kernel(nx, nu, __VA_ARGS__);                                         \
    } while (0)
#define Q_BLOCKS_REST V, A, B, lxx, luu, lux, mu, vA, vB, Qxx, QuuTrue, QuxTrue, Quu, Qux
#define VALUE_REST Qxx, QuuTrue, QuxTrue, K, M, V

static void q_blocks_baseline(Q_BLOCKS_ARGS) { SIZED(q_blocks_kernel, Q_BLOCKS_REST); }
static void value_hessian_baseline(VALUE_ARGS) { SIZED(value_hessian_kernel, VALUE_REST); }

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
AVX2 static void q_blocks_avx2(Q_BLOCKS_ARGS) { SIZED(q_blocks_kernel, Q_BLOCKS_REST); }
AVX2 static void value_hessian_avx2(VALUE_ARGS) { SIZED(value_hessian_kernel, VALUE_REST); }
AVX512 static void q_blocks_avx512(Q_BLOCKS_ARGS) { SIZED(q_blocks_kernel, Q_BLOCKS_REST); }
AVX512 static void value_hessian_avx512(VALUE_ARGS) { SIZED(value_hessian_kernel, VALUE_REST); }
#endif

static int selected = CRiccati_buildBaseline, widest = CRiccati_buildBaseline;

int CRiccati_buildAvailable(int build) {
    switch (build) {
    case CRiccati_buildBaseline: return 1;
#if defined(__x86_64__)
    case CRiccati_buildAVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CRiccati_buildAVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default: return 0;
    }
}

// AVX2+FMA is the default even where AVX-512F exists: at rows of 10–14 doubles the 512-bit build
// measured no faster on Zen 4 (backward pass 0.55 against 0.51 ms, reach.json T = 50), and
// 512-bit instructions can lower the clock of the core on Intel parts, which the control loop
// shares. The AVX-512 build stays selectable (and tested) through the `build` argument.
__attribute__((constructor)) static void select_build(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
#endif
    widest = CRiccati_buildAvailable(CRiccati_buildAVX512) ? CRiccati_buildAVX512
           : CRiccati_buildAvailable(CRiccati_buildAVX2)   ? CRiccati_buildAVX2
                                                            : CRiccati_buildBaseline;
    selected = widest > CRiccati_buildAVX2 ? CRiccati_buildAVX2 : widest;
}

int CRiccati_selectedBuild(void) { return selected; }
int CRiccati_widestBuild(void) { return widest; }

// A build this CPU lacks runs as the widest it has (builds are ordered: each implies those below).
void CRiccati_qBlocks(int build, Q_BLOCKS_ARGS) {
    switch (build > widest ? widest : build) {
#if defined(__x86_64__)
    case CRiccati_buildAVX512: q_blocks_avx512(Q_BLOCKS_CALL); return;
    case CRiccati_buildAVX2: q_blocks_avx2(Q_BLOCKS_CALL); return;
#endif
    default: q_blocks_baseline(Q_BLOCKS_CALL); return;
    }
}

void CRiccati_valueHessian(int build, VALUE_ARGS) {
    switch (build > widest ? widest : build) {
#if defined(__x86_64__)
    case CRiccati_buildAVX512: value_hessian_avx512(VALUE_CALL); return;
    case CRiccati_buildAVX2: value_hessian_avx2(VALUE_CALL); return;
#endif
    default: value_hessian_baseline(VALUE_CALL); return;
    }
}
