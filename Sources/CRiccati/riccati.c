#include "CRiccati.h"
#include <string.h>

// Each kernel's body is an always-inline function compiled once per build: baseline, and, on
// x86-64, inside wrappers with target("avx2,fma") and target("avx512f,…"). `selected` is set
// from cpuid (`__builtin_cpu_supports`) when the library loads; no ifunc. The builds round
// differently in the last bits (the wider ones fuse multiply-adds): each is tested against a
// plain reference through the explicit `build` argument.
#define KERNEL static inline __attribute__((always_inline))
// Every inner loop runs along one contiguous row into another buffer (no argument aliases
// another), so it may be vectorised without runtime overlap checks, which at rows of 6–12
// would cost as much as the loop.
#define VECTOR _Pragma("clang loop vectorize(assume_safety)")

KERNEL void q_blocks_kernel(long nx, long nu, const double *V, const double *A, const double *B,
                            const double *lxx, const double *luu, const double *lux, double mu,
                            double *vA, double *vB, double *Qxx, double *QuuTrue, double *QuxTrue,
                            double *Quu, double *Qux) {
    // vA = V A, vB = V B, row r = Σ_m V_rm (row m of A, of B).
    for (long r = 0; r < nx; r++) {
        double *oa = vA + r * nx, *ob = vB + r * nu;
        const double *v = V + r * nx;
        VECTOR for (long c = 0; c < nx; c++) oa[c] = 0;
        VECTOR for (long c = 0; c < nu; c++) ob[c] = 0;
        for (long m = 0; m < nx; m++) {
            const double a = v[m];
            const double *ra = A + m * nx, *rb = B + m * nu;
            VECTOR for (long c = 0; c < nx; c++) oa[c] += a * ra[c];
            VECTOR for (long c = 0; c < nu; c++) ob[c] += a * rb[c];
        }
    }
    // Qxx = l_xx + Aᵀ vA on and above the diagonal (row r += A_mr · row m of vA), mirrored.
    memcpy(Qxx, lxx, (size_t)(nx * nx) * sizeof(double));
    for (long m = 0; m < nx; m++) {
        const double *ra = A + m * nx, *rv = vA + m * nx;
        for (long r = 0; r < nx; r++) {
            const double a = ra[r];
            double *out = Qxx + r * nx;
            VECTOR for (long c = r; c < nx; c++) out[c] += a * rv[c];
        }
    }
    for (long r = 0; r < nx; r++)
        for (long c = r + 1; c < nx; c++) Qxx[c * nx + r] = Qxx[r * nx + c];
    // Bᵀ vB, BᵀB, Bᵀ vA, BᵀA in one sweep over the rows m of B; BᵀB and BᵀA go into Quu, Qux.
    memcpy(QuuTrue, luu, (size_t)(nu * nu) * sizeof(double));
    memcpy(QuxTrue, lux, (size_t)(nu * nx) * sizeof(double));
    memset(Quu, 0, (size_t)(nu * nu) * sizeof(double));
    memset(Qux, 0, (size_t)(nu * nx) * sizeof(double));
    for (long m = 0; m < nx; m++) {
        const double *ra = A + m * nx, *rb = B + m * nu, *rva = vA + m * nx, *rvb = vB + m * nu;
        for (long r = 0; r < nu; r++) {
            const double b = rb[r];
            double *tuu = QuuTrue + r * nu, *ruu = Quu + r * nu, *tux = QuxTrue + r * nx, *rux = Qux + r * nx;
            VECTOR for (long c = 0; c < nu; c++) {
                tuu[c] += b * rvb[c];
                ruu[c] += b * rb[c];
            }
            VECTOR for (long c = 0; c < nx; c++) {
                tux[c] += b * rva[c];
                rux[c] += b * ra[c];
            }
        }
    }
    for (long r = 0; r < nu; r++) {
        for (long c = r; c < nu; c++) {
            const double t = QuuTrue[r * nu + c], reg = t + mu * Quu[r * nu + c];
            QuuTrue[c * nu + r] = t;
            Quu[r * nu + c] = reg;
            Quu[c * nu + r] = reg;
        }
    }
    VECTOR for (long i = 0; i < nu * nx; i++) Qux[i] = QuxTrue[i] + mu * Qux[i];
}

KERNEL void value_hessian_kernel(long nx, long nu, const double *Qxx, const double *QuuTrue,
                                 const double *QuxTrue, const double *K, double *M, double *V) {
    for (long r = 0; r < nu; r++) {
        double *mr = M + r * nx;
        const double *qr = QuxTrue + r * nx, *quu = QuuTrue + r * nu;
        VECTOR for (long j = 0; j < nx; j++) mr[j] = qr[j];
        for (long c = 0; c < nu; c++) {
            const double a = quu[c];
            const double *kc = K + c * nx;
            VECTOR for (long j = 0; j < nx; j++) mr[j] += a * kc[j];
        }
    }
    memcpy(V, Qxx, (size_t)(nx * nx) * sizeof(double));
    for (long r = 0; r < nu; r++) {
        const double *kr = K + r * nx, *mr = M + r * nx, *qr = QuxTrue + r * nx;
        for (long i = 0; i < nx; i++) {
            const double a = kr[i], b = qr[i];
            double *out = V + i * nx;
            VECTOR for (long j = i; j < nx; j++) out[j] += a * mr[j] + b * kr[j];
        }
    }
    for (long i = 0; i < nx; i++)
        for (long j = i + 1; j < nx; j++) V[j * nx + i] = V[i * nx + j];
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

static int selected = CRiccati_buildBaseline;

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

__attribute__((constructor)) static void select_build(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
#endif
    selected = CRiccati_buildAvailable(CRiccati_buildAVX512) ? CRiccati_buildAVX512
             : CRiccati_buildAvailable(CRiccati_buildAVX2)   ? CRiccati_buildAVX2
                                                              : CRiccati_buildBaseline;
}

int CRiccati_selectedBuild(void) { return selected; }

// A build this CPU lacks runs as the widest it has (builds are ordered: each implies those below).
void CRiccati_qBlocks(int build, Q_BLOCKS_ARGS) {
    switch (build > selected ? selected : build) {
#if defined(__x86_64__)
    case CRiccati_buildAVX512: q_blocks_avx512(Q_BLOCKS_CALL); return;
    case CRiccati_buildAVX2: q_blocks_avx2(Q_BLOCKS_CALL); return;
#endif
    default: q_blocks_baseline(Q_BLOCKS_CALL); return;
    }
}

void CRiccati_valueHessian(int build, VALUE_ARGS) {
    switch (build > selected ? selected : build) {
#if defined(__x86_64__)
    case CRiccati_buildAVX512: value_hessian_avx512(VALUE_CALL); return;
    case CRiccati_buildAVX2: value_hessian_avx2(VALUE_CALL); return;
#endif
    default: value_hessian_baseline(VALUE_CALL); return;
    }
}
