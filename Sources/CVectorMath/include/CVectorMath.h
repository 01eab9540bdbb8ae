// Single-input inference kernels the Swift compiler does not vectorise: its SIMD types lower to scalar code
// and calls (floorf, generic conversions) without -mavx2, and Float.exp is one libm call per
// element. In C the loops vectorise. Each kernel is built twice on x86-64, for baseline x86-64
// and for AVX2+FMA; the library picks one set when it loads (cpuid), so the binary runs on any
// x86-64 CPU and uses AVX2 where there is one. The sets differ in the last bit (FMA); results
// are reproducible on one machine class, not across them.
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
/// W is m × k row-major, d has k values, X is k × ld and Y m × ld, both row-major; `ld` a
/// multiple of 8 (a Jacobian's columns padded to whole vectors) is the fast case, other columns
/// go one at a time. `y` overlaps none of the others.
/// Why not `cblas_sgemm`: OpenBLAS may allocate scratch on these small shapes, and a planner
/// linearising every node of every re-plan must not. Real-time safe.
void CVectorMath_gemmScaledRows(const float *w, const float *d, const float *x, float *y, long m, long k, long ld);

// Training kernels: the elementwise work around the GEMMs of a mini-batch step (MLPTrainer), one
// vectorised pass each instead of Swift loops the compiler leaves scalar (a float reduction keeps
// its order; sqrt and division per element).

/// One AdamW step (decoupled weight decay) over n parameters, with g̃ = s·g (s the clip factor):
///   m₁ ← β₁m₁ + (1 − β₁)g̃,  m₂ ← β₂m₂ + (1 − β₂)g̃²,
///   w ← w − lr·((m₁/c₁)/(√(m₂/c₂) + ε) + λw),   c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ (bias corrections).
/// λ = 0 for biases. No two of the arrays overlap. Each element depends on its own values alone,
/// so the result does not depend on the build beyond FMA rounding.
void CVectorMath_adamw(float *w, const float *g, float *m1, float *m2, long n, float gradientScale, float beta1,
                       float beta2, float correction1, float correction2, float learningRate, float epsilon,
                       float weightDecay);

/// Σ x[i]² over i < n, in 16 interleaved partial sums (not the sequential order).
float CVectorMath_sumSquares(const float *x, long n);

/// out[j] = Σ_r g[r·cols + j] (the bias gradient 1ᵀG of a rows × cols row-major G), summed over r
/// in order. `out` does not overlap `g`.
void CVectorMath_columnSums(const float *g, float *out, long rows, long cols);

/// Every one of `rows` rows of z (rows × cols, row-major) set to b (cols values): the bias term of
/// Z = 1bᵀ + X Wᵀ before a GEMM with β = 1.
void CVectorMath_broadcastRows(const float *b, float *z, long rows, long cols);

/// `bytes` of zeroed memory on a 2 MB boundary, advised for transparent huge pages (Linux
/// `MADV_HUGEPAGE`; ignored where unsupported): weights read every call then sit in physically
/// contiguous memory, which a cache indexes evenly (4 kB pages land in cache sets at random, and
/// a working set close to a cache's size then misses in the sets that drew too many pages).
/// NULL if out of memory. Free with `CVectorMath_freeLarge`. Not real-time safe.
void *CVectorMath_allocateLarge(unsigned long bytes);
void CVectorMath_freeLarge(void *region);

/// Which kernel set the dispatching functions above use: 0 baseline x86-64 (or the only build on
/// other architectures), 1 AVX2+FMA.
int CVectorMath_selectedBuild(void);
/// Whether kernel set `build` (0 or 1) can run on this CPU.
int CVectorMath_buildAvailable(int build);
/// The kernels of set `build` explicitly (tests: both sets against the same oracles). `build`
/// must be available.
void CVectorMath_siluIn(int build, const float *z, float *h, long n);
void CVectorMath_siluGradientIn(int build, const float *z, float *g, long n);
void CVectorMath_gemvBiasIn(int build, const float *w, const float *x, const float *b, float *y, long rows, long cols);
void CVectorMath_gemmScaledRowsIn(int build, const float *w, const float *d, const float *x, float *y, long m, long k, long ld);
void CVectorMath_adamwIn(int build, float *w, const float *g, float *m1, float *m2, long n, float gradientScale,
                         float beta1, float beta2, float correction1, float correction2, float learningRate,
                         float epsilon, float weightDecay);
float CVectorMath_sumSquaresIn(int build, const float *x, long n);
void CVectorMath_columnSumsIn(int build, const float *g, float *out, long rows, long cols);

/// A spin-wait hint (x86 `pause`, Arm `yield`): lets the core idle between polls of a flag
/// another core will set. Real-time safe.
static inline void CVectorMath_spinHint(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
