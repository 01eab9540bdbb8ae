#include "CVectorMath.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

/// Cephes expf: x = n·ln2 + r with n = round(x/ln2) (by adding and subtracting 1.5·2²³, so no
/// floorf call and SSE2 vectorises it too), |r| ≤ ½ln2, ln2 split in two so n·C1 is exact,
/// a degree-5 minimax polynomial for e^r, then 2ⁿ built in the exponent bits (n ∈ [−126, 127]
/// after the clamp, so 2ⁿ is a normal float).
static inline float exp_clamped(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    const float shifter = 12582912.0f;
    float n = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * (r * r) + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return er * two_n;
}

VECTOR_CLONES
void CVectorMath_silu(const float *z, float *h, long n) {
    // Each h[i] depends on z[i] alone, so in place (h == z) is safe to vectorise.
#pragma clang loop vectorize(assume_safety)
    for (long i = 0; i < n; i++) {
        float x = z[i];
        // Below −87.3, x·e^x is under 1e-36: the limit 0 (also for x = −∞, where x/(1 + e^(−x))
        // would be −∞/∞).
        h[i] = x < -87.3f ? -0.0f : x / (1.0f + exp_clamped(-x));
    }
}

VECTOR_CLONES
void CVectorMath_siluGradient(const float *restrict z, float *restrict g, long n) {
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

VECTOR_CLONES
void CVectorMath_gemvBias(const float *w, const float *x, const float *b, float *y, long rows, long cols) {
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

VECTOR_CLONES
void CVectorMath_gemmScaledRows(const float *w, const float *d, const float *x, float *y, long m, long k, long ld) {
    long c = 0;
    for (; c + 24 <= ld; c += 24) gemm_scaled_rows(w, d, x, y, m, k, ld, c, 3);
    if (ld - c == 16) gemm_scaled_rows(w, d, x, y, m, k, ld, c, 2);
    else if (ld - c == 8) gemm_scaled_rows(w, d, x, y, m, k, ld, c, 1);
}
