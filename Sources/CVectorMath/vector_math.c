#include "CVectorMath.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

// Each kernel's body is an always-inline function compiled twice: for baseline x86-64 and, in a
// wrapper with target("avx2,fma"), for AVX2+FMA. `select_kernels` picks one set when the library
// loads, from cpuid (`__builtin_cpu_supports`, known to every libgcc/compiler-rt; no ifunc, so
// no dependence on the libgcc version or on IRELATIVE support). The two sets round differently
// in the last bit (the AVX2 set fuses multiply-adds), so results are reproducible per machine
// class, and both sets are tested through their explicit entry points.
#define KERNEL static inline __attribute__((always_inline))

/// Cephes expf: x = n·ln2 + r with n = round(x/ln2) (by adding and subtracting 1.5·2²³, so no
/// floorf call and SSE2 vectorises it too), |r| ≤ ½ln2, ln2 split in two so n·C1 is exact,
/// a degree-5 minimax polynomial for e^r, then 2ⁿ built in the exponent bits (n ∈ [−126, 127]
/// after the clamp, so 2ⁿ is a normal float).
static inline float exp_clamped(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    const float shifter = 12582912.0f;
    // t's low mantissa bits hold n = round(x/ln2) (t = 1.5·2²³ + n): the integer comes from them,
    // not from a float-to-int conversion (undefined for NaN in C).
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * (r * r) + r + 1.0f;
    int32_t ni;
    memcpy(&ni, &t, sizeof ni);
    int32_t bits = (int32_t)((uint32_t)(ni - 0x4B400000 + 127) << 23);
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return er * two_n;
}

KERNEL void silu_kernel(const float *z, float *h, long n) {
    // Each h[i] depends on z[i] alone, so in place (h == z) is safe to vectorise.
#pragma clang loop vectorize(assume_safety)
    for (long i = 0; i < n; i++) {
        float x = z[i];
        // Below −87.3, x·e^x is under 1e-36: the limit 0 (also for x = −∞, where x/(1 + e^(−x))
        // would be −∞/∞).
        h[i] = x < -87.3f ? -0.0f : x / (1.0f + exp_clamped(-x));
    }
}

KERNEL void silu_gradient_kernel(const float *restrict z, float *restrict g, long n) {
    for (long i = 0; i < n; i++) {
        float x = z[i];
        float s = 1.0f / (1.0f + exp_clamped(-x));
        // The limits 0 and 1 outside the clamp (also for x = ±∞, where the formula is 0·∞).
        float d = x < -87.3f ? 0.0f : (x > 88.3f ? 1.0f : s * (1.0f + x * (1.0f - s)));
        g[i] *= d;
    }
}

/// Eight lanes; under the AVX2 clone one ymm register, under baseline x86-64 two xmm. The
/// aligned(4) variant reads and writes at any float address.
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x8u __attribute__((vector_size(32), aligned(4)));

// A macro, not a function: a function taking f32x8 would have a different ABI in each clone.
#define LANE_SUM(v) ((((v)[0] + (v)[4]) + ((v)[1] + (v)[5])) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))

KERNEL void gemv_bias_kernel(const float *w, const float *x, const float *b, float *y, long rows, long cols) {
    const long blocks = cols / 8 * 8;
    long r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *w0 = w + r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
        f32x8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (long c = 0; c < blocks; c += 8) {
            f32x8 xv = *(const f32x8u *)(x + c);
            a0 += *(const f32x8u *)(w0 + c) * xv;
            a1 += *(const f32x8u *)(w1 + c) * xv;
            a2 += *(const f32x8u *)(w2 + c) * xv;
            a3 += *(const f32x8u *)(w3 + c) * xv;
        }
        float s0 = LANE_SUM(a0), s1 = LANE_SUM(a1), s2 = LANE_SUM(a2), s3 = LANE_SUM(a3);
        for (long c = blocks; c < cols; c++) {
            s0 += w0[c] * x[c];
            s1 += w1[c] * x[c];
            s2 += w2[c] * x[c];
            s3 += w3[c] * x[c];
        }
        y[r] = s0 + b[r];
        y[r + 1] = s1 + b[r + 1];
        y[r + 2] = s2 + b[r + 2];
        y[r + 3] = s3 + b[r + 3];
    }
    for (; r < rows; r++) {
        const float *w0 = w + r * cols;
        f32x8 a0 = {0};
        for (long c = 0; c < blocks; c += 8) a0 += *(const f32x8u *)(w0 + c) * *(const f32x8u *)(x + c);
        float s0 = LANE_SUM(a0);
        for (long c = blocks; c < cols; c++) s0 += w0[c] * x[c];
        y[r] = s0 + b[r];
    }
}

/// Rows [r0, m) of Y = W · diag(d) · X over the column vectors [c0, c0 + 8·chunks): four rows at
/// a time, each W·d entry broadcast once and applied to every chunk (chunks is a constant at
/// each call site, so the accumulators stay in registers).
static inline __attribute__((always_inline)) void gemm_scaled_rows(const float *w, const float *d, const float *x, float *y,
                                                                   long m, long k, long ld, long c0, const long chunks) {
    long r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *w0 = w + r * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        f32x8 a0[3] = {{0}}, a1[3] = {{0}}, a2[3] = {{0}}, a3[3] = {{0}};
        for (long j = 0; j < k; j++) {
            float dj = d[j], b0 = w0[j] * dj, b1 = w1[j] * dj, b2 = w2[j] * dj, b3 = w3[j] * dj;
            const float *xj = x + j * ld + c0;
            for (long h = 0; h < chunks; h++) {
                f32x8 xv = *(const f32x8u *)(xj + 8 * h);
                a0[h] += b0 * xv;
                a1[h] += b1 * xv;
                a2[h] += b2 * xv;
                a3[h] += b3 * xv;
            }
        }
        for (long h = 0; h < chunks; h++) {
            *(f32x8u *)(y + r * ld + c0 + 8 * h) = a0[h];
            *(f32x8u *)(y + (r + 1) * ld + c0 + 8 * h) = a1[h];
            *(f32x8u *)(y + (r + 2) * ld + c0 + 8 * h) = a2[h];
            *(f32x8u *)(y + (r + 3) * ld + c0 + 8 * h) = a3[h];
        }
    }
    for (; r < m; r++) {
        const float *w0 = w + r * k;
        f32x8 a0[3] = {{0}};
        for (long j = 0; j < k; j++) {
            float b0 = w0[j] * d[j];
            for (long h = 0; h < chunks; h++) a0[h] += b0 * *(const f32x8u *)(x + j * ld + c0 + 8 * h);
        }
        for (long h = 0; h < chunks; h++) *(f32x8u *)(y + r * ld + c0 + 8 * h) = a0[h];
    }
}

KERNEL void gemm_scaled_rows_kernel(const float *w, const float *d, const float *x, float *y, long m, long k, long ld) {
    long c = 0;
    for (; c + 24 <= ld; c += 24) gemm_scaled_rows(w, d, x, y, m, k, ld, c, 3);
    if (ld - c >= 16) {
        gemm_scaled_rows(w, d, x, y, m, k, ld, c, 2);
        c += 16;
    } else if (ld - c >= 8) {
        gemm_scaled_rows(w, d, x, y, m, k, ld, c, 1);
        c += 8;
    }
    // Columns past the last whole vector (ld not a multiple of 8): one at a time.
    for (; c < ld; c++) {
        for (long r = 0; r < m; r++) {
            float s = 0;
            for (long j = 0; j < k; j++) s += (w[r * k + j] * d[j]) * x[j * ld + c];
            y[r * ld + c] = s;
        }
    }
}


// MARK: training kernels (elementwise work around the GEMMs of a mini-batch step)

// A plain loop does not vectorise: sqrtf may set errno (-fmath-errno), so each element would be a
// scalar sqrt with a libm call on the error path. Eight lanes at a time with an elementwise sqrt
// (sqrtps) instead; v/c₂ ≥ 0 always, so nothing is lost.
#if __has_builtin(__builtin_elementwise_sqrt)
#define SQRT8(v) __builtin_elementwise_sqrt(v)
#else
#define SQRT8(v) ((f32x8){__builtin_sqrtf((v)[0]), __builtin_sqrtf((v)[1]), __builtin_sqrtf((v)[2]), __builtin_sqrtf((v)[3]), \
                          __builtin_sqrtf((v)[4]), __builtin_sqrtf((v)[5]), __builtin_sqrtf((v)[6]), __builtin_sqrtf((v)[7])})
#endif

KERNEL void adamw_kernel(float *restrict w, const float *restrict g, float *restrict m1, float *restrict m2, long n,
                         float scale, float b1, float b2, float c1, float c2, float lr, float eps, float wd) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        f32x8 gi = scale * *(const f32x8u *)(g + i);
        f32x8 a = b1 * *(f32x8u *)(m1 + i) + (1.0f - b1) * gi;
        f32x8 v = b2 * *(f32x8u *)(m2 + i) + (1.0f - b2) * gi * gi;
        *(f32x8u *)(m1 + i) = a;
        *(f32x8u *)(m2 + i) = v;
        f32x8 wi = *(f32x8u *)(w + i);
        *(f32x8u *)(w + i) = wi - lr * ((a / c1) / (SQRT8(v / c2) + eps) + wd * wi);
    }
    for (; i < n; i++) {
        float gi = scale * g[i];
        float a = b1 * m1[i] + (1.0f - b1) * gi;
        float v = b2 * m2[i] + (1.0f - b2) * gi * gi;
        m1[i] = a;
        m2[i] = v;
        w[i] -= lr * ((a / c1) / (__builtin_sqrtf(v / c2) + eps) + wd * w[i]);
    }
}

KERNEL float sum_squares_kernel(const float *x, long n) {
    f32x8 a0 = {0}, a1 = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        f32x8 v0 = *(const f32x8u *)(x + i), v1 = *(const f32x8u *)(x + i + 8);
        a0 += v0 * v0;
        a1 += v1 * v1;
    }
    a0 += a1;
    float s = LANE_SUM(a0);
    for (; i < n; i++) s += x[i] * x[i];
    return s;
}

KERNEL void column_sums_kernel(const float *restrict g, float *restrict out, long rows, long cols) {
    for (long j = 0; j < cols; j++) out[j] = 0;
    for (long r = 0; r < rows; r++) {
        const float *row = g + r * cols;
        for (long j = 0; j < cols; j++) out[j] += row[j];
    }
}

KERNEL void bias_rows_kernel(const float *restrict b, float *restrict z, long rows, long cols) {
    for (long r = 0; r < rows; r++) memcpy(z + r * cols, b, (size_t)cols * sizeof(float));
}

// MARK: the two builds and the dispatch

#define DEFINE_SET(suffix, attributes)                                                              \
    attributes static void silu_##suffix(const float *z, float *h, long n) { silu_kernel(z, h, n); } \
    attributes static void silu_gradient_##suffix(const float *z, float *g, long n) {                \
        silu_gradient_kernel(z, g, n);                                                              \
    }                                                                                               \
    attributes static void gemv_bias_##suffix(const float *w, const float *x, const float *b, float *y, long rows, \
                                              long cols) {                                          \
        gemv_bias_kernel(w, x, b, y, rows, cols);                                                   \
    }                                                                                               \
    attributes static void gemm_scaled_rows_##suffix(const float *w, const float *d, const float *x, float *y, long m, \
                                                     long k, long ld) {                             \
        gemm_scaled_rows_kernel(w, d, x, y, m, k, ld);                                              \
    }                                                                                               \
    attributes static void adamw_##suffix(float *w, const float *g, float *m1, float *m2, long n, float scale, \
                                          float b1, float b2, float c1, float c2, float lr, float eps, float wd) { \
        adamw_kernel(w, g, m1, m2, n, scale, b1, b2, c1, c2, lr, eps, wd);                          \
    }                                                                                               \
    attributes static float sum_squares_##suffix(const float *x, long n) { return sum_squares_kernel(x, n); } \
    attributes static void column_sums_##suffix(const float *g, float *out, long rows, long cols) { \
        column_sums_kernel(g, out, rows, cols);                                                     \
    }

DEFINE_SET(baseline, )
#if defined(__x86_64__)
DEFINE_SET(avx2, __attribute__((target("avx2,fma"))))
#endif

typedef struct {
    void (*silu)(const float *, float *, long);
    void (*silu_gradient)(const float *, float *, long);
    void (*gemv_bias)(const float *, const float *, const float *, float *, long, long);
    void (*gemm_scaled_rows)(const float *, const float *, const float *, float *, long, long, long);
    void (*adamw)(float *, const float *, float *, float *, long, float, float, float, float, float, float, float, float);
    float (*sum_squares)(const float *, long);
    void (*column_sums)(const float *, float *, long, long);
} KernelSet;

static const KernelSet baseline_set = {silu_baseline, silu_gradient_baseline, gemv_bias_baseline, gemm_scaled_rows_baseline,
                                     adamw_baseline, sum_squares_baseline, column_sums_baseline};
#if defined(__x86_64__)
static const KernelSet avx2_set = {silu_avx2, silu_gradient_avx2, gemv_bias_avx2, gemm_scaled_rows_avx2,
                                 adamw_avx2, sum_squares_avx2, column_sums_avx2};
#endif

static int avx2_available(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/// Written once, before main (a constructor), read-only afterwards.
static const KernelSet *selected = &baseline_set;

__attribute__((constructor)) static void select_kernels(void) {
#if defined(__x86_64__)
    if (avx2_available()) selected = &avx2_set;
#endif
}

static const KernelSet *set_for(int build) {
#if defined(__x86_64__)
    if (build == 1 && avx2_available()) return &avx2_set;
#endif
    return build == 0 ? &baseline_set : NULL;
}

void CVectorMath_silu(const float *z, float *h, long n) { selected->silu(z, h, n); }
void CVectorMath_siluGradient(const float *z, float *g, long n) { selected->silu_gradient(z, g, n); }
void CVectorMath_gemvBias(const float *w, const float *x, const float *b, float *y, long rows, long cols) {
    selected->gemv_bias(w, x, b, y, rows, cols);
}
void CVectorMath_gemmScaledRows(const float *w, const float *d, const float *x, float *y, long m, long k, long ld) {
    selected->gemm_scaled_rows(w, d, x, y, m, k, ld);
}

void CVectorMath_adamw(float *w, const float *g, float *m1, float *m2, long n, float gradientScale, float beta1,
                       float beta2, float correction1, float correction2, float learningRate, float epsilon,
                       float weightDecay) {
    selected->adamw(w, g, m1, m2, n, gradientScale, beta1, beta2, correction1, correction2, learningRate, epsilon,
                    weightDecay);
}
float CVectorMath_sumSquares(const float *x, long n) { return selected->sum_squares(x, n); }
void CVectorMath_columnSums(const float *g, float *out, long rows, long cols) { selected->column_sums(g, out, rows, cols); }
void CVectorMath_broadcastRows(const float *b, float *z, long rows, long cols) { bias_rows_kernel(b, z, rows, cols); }

void CVectorMath_adamwIn(int build, float *w, const float *g, float *m1, float *m2, long n, float gradientScale,
                         float beta1, float beta2, float correction1, float correction2, float learningRate,
                         float epsilon, float weightDecay) {
    set_for(build)->adamw(w, g, m1, m2, n, gradientScale, beta1, beta2, correction1, correction2, learningRate, epsilon,
                          weightDecay);
}
float CVectorMath_sumSquaresIn(int build, const float *x, long n) { return set_for(build)->sum_squares(x, n); }
void CVectorMath_columnSumsIn(int build, const float *g, float *out, long rows, long cols) {
    set_for(build)->column_sums(g, out, rows, cols);
}

int CVectorMath_selectedBuild(void) { return selected == &baseline_set ? 0 : 1; }

int CVectorMath_buildAvailable(int build) { return set_for(build) != NULL; }

void CVectorMath_siluIn(int build, const float *z, float *h, long n) { set_for(build)->silu(z, h, n); }
void CVectorMath_siluGradientIn(int build, const float *z, float *g, long n) { set_for(build)->silu_gradient(z, g, n); }
void CVectorMath_gemvBiasIn(int build, const float *w, const float *x, const float *b, float *y, long rows, long cols) {
    set_for(build)->gemv_bias(w, x, b, y, rows, cols);
}
void CVectorMath_gemmScaledRowsIn(int build, const float *w, const float *d, const float *x, float *y, long m, long k, long ld) {
    set_for(build)->gemm_scaled_rows(w, d, x, y, m, k, ld);
}

void *CVectorMath_allocateLarge(unsigned long bytes) {
    const unsigned long huge = 2ul << 20;
    unsigned long size = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (size == 0 || posix_memalign(&p, huge, size) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    memset(p, 0, size);
    return p;
}

void CVectorMath_freeLarge(void *region) { free(region); }
