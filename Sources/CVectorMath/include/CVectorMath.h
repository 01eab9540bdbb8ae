// Single-input inference kernels the Swift compiler does not vectorise: its SIMD types lower to scalar code
// and calls (floorf, generic conversions) without -mavx2, and Float.exp is one libm call per
// element. In C the loops vectorise, and on x86-64 `target_clones` picks the AVX2+FMA build at
// load time on CPUs that have it (SSE2 otherwise), so the binary stays baseline x86-64.
#pragma once

/// h[i] = z[i] / (1 + e^(−z[i])) for i < n (SiLU). `h` is `z` (in place) or disjoint from it.
/// e^x is Cephes' expf on x clamped to [−87.3, 88.3] (within 1.5 ulp of e^x there); outside it
/// SiLU is its limits, 0 below and x above; NaN stays NaN.
/// Real-time safe: no allocation, no locks, no libm.
void CVectorMath_silu(const float *z, float *h, long n);

/// g[i] *= σ′(z[i]) for SiLU, σ′(x) = s(1 + x(1 − s)) with s = 1/(1 + e^(−x)), for i < n
/// (0 below −87.3, 1 above 88.3). `g` and `z` do not overlap. Real-time safe.
void CVectorMath_siluGradient(const float *z, float *g, long n);

/// y = W x + b for one input: W is rows × cols, row-major (PyTorch's `nn.Linear.weight`), x has
/// cols values, b and y rows. `y` must not overlap `w`, `x` or `b`.
/// Why not `cblas_sgemv`: for the 200 × 200 layers of a dynamics ensemble, OpenBLAS's per-call
/// work and its one-row-at-a-time dot products left a single-input pass at 1.4× the time of
/// streaming the weights from cache; four rows at a time share each load of x, which keeps the
/// pass at the memory's speed. Real-time safe: no allocation, no locks.
void CVectorMath_gemvBias(const float *w, const float *x, const float *b, float *y, long rows, long cols);

/// Y = W · diag(d) · X for the input Jacobian of an MLP (J_ℓ = W_ℓ diag(σ′(z_{ℓ−1})) J_{ℓ−1}):
/// W is m × k row-major, d has k values, X is k × ld and Y m × ld, both row-major with `ld` a
/// multiple of 8 (a Jacobian's columns padded to whole vectors). `y` overlaps none of the others.
/// Why not `cblas_sgemm`: OpenBLAS may allocate scratch on these small shapes, and a planner
/// linearising every node of every re-plan must not. Real-time safe.
void CVectorMath_gemmScaledRows(const float *w, const float *d, const float *x, float *y, long m, long k, long ld);

/// A spin-wait hint (x86 `pause`, Arm `yield`): lets the core idle between polls of a flag
/// another core will set. Real-time safe.
static inline void CVectorMath_spinHint(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
