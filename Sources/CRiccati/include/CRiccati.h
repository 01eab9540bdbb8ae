#ifndef CRICCATI_H
#define CRICCATI_H

// The dense products of one node of an iLQR/DDP backward pass (Planning's `ILQRSolver`), for
// the small matrices of an arm (nx = 12, nu = 6 for six joints): there BLAS's per-call overhead
// is larger than the work, so these are fused loops, compiled for baseline x86-64 (or the host's
// baseline elsewhere), AVX2+FMA and AVX-512F; the default build is picked at load time from cpuid.
// Matrices are row-major and dense; no argument may alias another.

/// The builds: 0 baseline, 1 AVX2+FMA (x86-64), 2 AVX-512F (x86-64).
enum { CRiccati_buildBaseline = 0, CRiccati_buildAVX2 = 1, CRiccati_buildAVX512 = 2 };

/// The default build: AVX2+FMA where the CPU has it (also on AVX-512 CPUs: see riccati.c), else
/// baseline.
int CRiccati_selectedBuild(void);
/// The widest build the CPU supports; a larger `build` argument runs as this one.
int CRiccati_widestBuild(void);
/// 1 when `build` runs on this CPU (0 always does).
int CRiccati_buildAvailable(int build);

/// The Q-function's second-order blocks at one node, from V = V_xx of the next node (nx × nx,
/// symmetric), A = f_x (nx × nx), B = f_u (nx × nu) and the cost's l_xx, l_uu, l_ux:
///   vA = V A (nx × nx),  vB = V B (nx × nu)                      (scratch, left as computed)
///   Qxx = l_xx + Aᵀ vA                                           (nx × nx, symmetric)
///   QuuTrue = l_uu + Bᵀ vB,  QuxTrue = l_ux + Bᵀ vA             (nu × nu symmetric, nu × nx)
///   Quu = QuuTrue + μ BᵀB,  Qux = QuxTrue + μ BᵀA               (regularised as V + μI)
void CRiccati_qBlocks(int build, long nx, long nu, const double *V, const double *A, const double *B,
                      const double *lxx, const double *luu, const double *lux, double mu,
                      double *vA, double *vB, double *Qxx, double *QuuTrue, double *QuxTrue,
                      double *Quu, double *Qux);

/// The value function's Hessian after the node's policy (gains K, nu × nx; Tassa's form, valid
/// with clamped controls whose rows of K are zero):
///   M = QuuTrue K + QuxTrue                                      (nu × nx, scratch)
///   V = Qxx + Kᵀ M + QuxTrueᵀ K                                   (nx × nx, symmetric)
void CRiccati_valueHessian(int build, long nx, long nu, const double *Qxx, const double *QuuTrue,
                           const double *QuxTrue, const double *K, double *M, double *V);

#endif
