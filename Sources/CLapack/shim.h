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
