// Matrix products on raw row-major memory for seqnets' native loops:
//   gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc):  c[m, n] = op(a) op(b) + beta c
// with beta 0 or 1. Three ways to compute them, chosen by products_mode():
//   0: ATen's mm over views of the memory (always there; the reference),
//   1: the Fortran BLAS that torch links (MKL or OpenBLAS), called directly,
//   2: (default) for float32 products a b and a' b with few channels on an AVX2 + FMA
//      processor, small register-tiled kernels below; anything else as 1.
// The chapter's products are 800 x 20 by 20 x 20, where MKL spends much of its time packing
// and scaling; the kernels keep a 4-row by 24-column tile of the result in registers over
// the whole inner dimension (benchmarks/conv_slices.py compares the routes).

#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define SEQNETS_X86_KERNELS 1
#else
#define SEQNETS_X86_KERNELS 0
#endif

// The Fortran BLAS of torch's own library, when it exports one. Weak, so that a torch
// without it still loads the library (ATen's mm runs then).
#if defined(__GNUC__) && !defined(_WIN32)
extern "C" {
void sgemm_(const char*, const char*, const int64_t*, const int64_t*, const int64_t*,
            const float*, const float*, const int64_t*, const float*, const int64_t*,
            const float*, float*, const int64_t*) __attribute__((weak));
void dgemm_(const char*, const char*, const int64_t*, const int64_t*, const int64_t*,
            const double*, const double*, const int64_t*, const double*, const int64_t*,
            const double*, double*, const int64_t*) __attribute__((weak));
}
#define SEQNETS_HAVE_BLAS 1
#else
#define SEQNETS_HAVE_BLAS 0
#endif

namespace seqnets_gemm {

// ---------------------------------------------------------------------------------------
// 0: ATen

template <typename T>
void aten_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  auto view = [&](const T* p, int64_t rows, int64_t cols, int64_t ld, bool transposed) {
    auto t = at::from_blob(const_cast<T*>(p), {transposed ? cols : rows, transposed ? rows : cols},
                           {ld, 1}, opts);
    return transposed ? t.t() : t;
  };
  auto out = at::from_blob(c, {m, n}, {ldc, 1}, opts);
  const auto lhs = view(a, m, k, lda, ta), rhs = view(b, k, n, ldb, tb);
  if (beta == T(0)) {
    out.copy_(at::mm(lhs, rhs));
  } else {
    out.addmm_(lhs, rhs);
  }
}

// ---------------------------------------------------------------------------------------
// 1: the BLAS

#if SEQNETS_HAVE_BLAS
// The integers go by pointer to 64-bit values: an LP64 BLAS reads their low halves (the
// same numbers on little-endian machines), an ILP64 one all of them.
template <typename T>
bool blas_call(char ta, char tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const T one = 1;
  // row-major c = op(a) op(b) is column-major c' = op(b)' op(a)'
  if constexpr (std::is_same_v<T, float>) {
    if (!sgemm_) return false;
    sgemm_(&tb, &ta, &n, &m, &k, &one, b, &ldb, a, &lda, &beta, c, &ldc);
  } else {
    if (!dgemm_) return false;
    dgemm_(&tb, &ta, &n, &m, &k, &one, b, &ldb, a, &lda, &beta, c, &ldc);
  }
  return true;
}
#endif

// A product's result is checked before its route is trusted: a BLAS with another calling
// convention, or kernels that disagree with the BLAS, are never used (values chosen so
// that every sum is exact).
template <typename T, typename Product>
bool reproduces_small_product(const Product& product) {
  const T a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 2, 1, 3, 1};  // a [2, 3], b [3, 2]
  T c[4] = {-1, -1, -1, -1};
  if (!product(a, b, c)) return false;
  const T want[4] = {14, 5, 32, 11};
  return std::equal(c, c + 4, want);
}

template <typename T>
bool blas_usable() {
#if SEQNETS_HAVE_BLAS
  static const bool usable = reproduces_small_product<T>([](const T* a, const T* b, T* c) {
    return blas_call<T>('N', 'N', 2, 2, 3, a, 3, b, 2, T(0), c, 2);
  });
  return usable;
#else
  return false;
#endif
}

// ---------------------------------------------------------------------------------------
// 2: AVX2 kernels (float32)

constexpr int64_t kTile = 24;         // result columns per tile: three 8-float vectors
// Where the kernels beat MKL (one thread, us, kernels / MKL): a b with at most one column
// tile of result (800 x 20 by 20 x 20: 12.5 / 14.0; 65,536 x 24 by 24 x 24: 1,583 / 2,854),
// or more columns over few rows (the LSTM's 16 x 20 by 20 x 80 steps); a' b with at most
// one tile each way (20 x 800 by 800 x 20: 8.3 / 13.8). Beyond, the BLAS's cache blocking
// pays: 65,536 x 32 by 32 x 32 takes the kernels 6.3 ms against 4.2 (a b, tiles of 24 + 8
// columns) and 15.3 against 3.6 (a' b, eight passes over the rows).
constexpr int64_t kMaxInner = 128;   // a b: k
constexpr int64_t kFewRows = 256;    // a b with more than one column tile: m
inline bool kernels_take(bool ta, int64_t m, int64_t n, int64_t k) {
  if (ta) return m <= kTile && n <= kTile;
  return k <= kMaxInner && (n <= kTile || (m <= kFewRows && n <= 8 * kTile));
}

#if SEQNETS_X86_KERNELS
#define SEQNETS_AVX2 __attribute__((target("avx2,fma")))
// the tile's accumulators must live in registers: every loop over tile rows and vectors
// is unrolled
#define SEQNETS_UNROLL _Pragma("GCC unroll 8")

// lanes [0, valid) on
SEQNETS_AVX2 inline __m256i lanes(int64_t valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// y[R rows, cols] (+)= x[R rows, k] w, w packed [k, kTile] (zero past cols); V vectors
template <int R, int V>
SEQNETS_AVX2 void nn_tile(const float* x, int64_t lda, int64_t k, const float* w, float* y,
                          int64_t ldc, int64_t cols, bool add) {
  __m256 acc[R][V];
  SEQNETS_UNROLL for (int i = 0; i < R; ++i)
    SEQNETS_UNROLL for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();
  for (int64_t c = 0; c < k; ++c, w += kTile) {
    __m256 wv[V];
    SEQNETS_UNROLL for (int v = 0; v < V; ++v) wv[v] = _mm256_loadu_ps(w + 8 * v);
    SEQNETS_UNROLL for (int i = 0; i < R; ++i) {
      const __m256 xv = _mm256_broadcast_ss(x + i * lda + c);
      SEQNETS_UNROLL for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(xv, wv[v], acc[i][v]);
    }
  }
  const __m256i last = lanes(cols - 8 * (V - 1));
  SEQNETS_UNROLL for (int i = 0; i < R; ++i) {
    float* row = y + i * ldc;
    SEQNETS_UNROLL for (int v = 0; v < V - 1; ++v) {
      if (add) acc[i][v] = _mm256_add_ps(acc[i][v], _mm256_loadu_ps(row + 8 * v));
      _mm256_storeu_ps(row + 8 * v, acc[i][v]);
    }
    float* tail = row + 8 * (V - 1);
    if (add) acc[i][V - 1] = _mm256_add_ps(acc[i][V - 1], _mm256_maskload_ps(tail, last));
    _mm256_maskstore_ps(tail, last, acc[i][V - 1]);
  }
}

template <int V>
SEQNETS_AVX2 void nn_rows(int64_t m, const float* x, int64_t lda, int64_t k, const float* w,
                          float* y, int64_t ldc, int64_t cols, bool add) {
  int64_t r = 0;
  for (; r + 4 <= m; r += 4) nn_tile<4, V>(x + r * lda, lda, k, w, y + r * ldc, ldc, cols, add);
  switch (m - r) {
    case 3: nn_tile<3, V>(x + r * lda, lda, k, w, y + r * ldc, ldc, cols, add); break;
    case 2: nn_tile<2, V>(x + r * lda, lda, k, w, y + r * ldc, ldc, cols, add); break;
    case 1: nn_tile<1, V>(x + r * lda, lda, k, w, y + r * ldc, ldc, cols, add); break;
    default: break;
  }
}

// c[m, n] (+)= a[m, k] b[k, n]
inline void avx2_nn(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                    const float* b, int64_t ldb, bool add, float* c, int64_t ldc) {
  thread_local std::vector<float> packed;
  packed.resize(k * kTile);
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t cols = std::min(kTile, n - j0);
    std::fill(packed.begin(), packed.end(), 0.f);
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < cols; ++j)
        packed[p * kTile + j] = b[p * ldb + j0 + j];
    switch ((cols + 7) / 8) {
      case 1: nn_rows<1>(m, a, lda, k, packed.data(), c + j0, ldc, cols, add); break;
      case 2: nn_rows<2>(m, a, lda, k, packed.data(), c + j0, ldc, cols, add); break;
      default: nn_rows<3>(m, a, lda, k, packed.data(), c + j0, ldc, cols, add); break;
    }
  }
}

// c[R rows, cols] = a[:, R columns]' b[:, cols], summed over `depth` rows of a and b
template <int R, int V>
SEQNETS_AVX2 void tn_tile(int64_t depth, const float* a, int64_t lda, const float* b,
                          int64_t ldb, float* c, int64_t ldc, int64_t cols) {
  __m256 acc[R][V];
  SEQNETS_UNROLL for (int i = 0; i < R; ++i)
    SEQNETS_UNROLL for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();
  const __m256i last = lanes(cols - 8 * (V - 1));
  for (int64_t r = 0; r < depth; ++r, a += lda, b += ldb) {
    __m256 bv[V];
    SEQNETS_UNROLL for (int v = 0; v < V - 1; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
    bv[V - 1] = _mm256_maskload_ps(b + 8 * (V - 1), last);
    SEQNETS_UNROLL for (int i = 0; i < R; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i);
      SEQNETS_UNROLL for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
    }
  }
  SEQNETS_UNROLL for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    SEQNETS_UNROLL for (int v = 0; v < V - 1; ++v) _mm256_storeu_ps(row + 8 * v, acc[i][v]);
    _mm256_maskstore_ps(row + 8 * (V - 1), last, acc[i][V - 1]);
  }
}

template <int V>
SEQNETS_AVX2 void tn_rows(int64_t m, int64_t depth, const float* a, int64_t lda,
                          const float* b, int64_t ldb, float* c, int64_t ldc, int64_t cols) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) tn_tile<4, V>(depth, a + i, lda, b, ldb, c + i * ldc, ldc, cols);
  switch (m - i) {
    case 3: tn_tile<3, V>(depth, a + i, lda, b, ldb, c + i * ldc, ldc, cols); break;
    case 2: tn_tile<2, V>(depth, a + i, lda, b, ldb, c + i * ldc, ldc, cols); break;
    case 1: tn_tile<1, V>(depth, a + i, lda, b, ldb, c + i * ldc, ldc, cols); break;
    default: break;
  }
}

// c[m, n] = a[k, m]' b[k, n] (written, not added)
inline void avx2_tn(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float* c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t cols = std::min(kTile, n - j0);
    switch ((cols + 7) / 8) {
      case 1: tn_rows<1>(m, k, a, lda, b + j0, ldb, c + j0, ldc, cols); break;
      case 2: tn_rows<2>(m, k, a, lda, b + j0, ldb, c + j0, ldc, cols); break;
      default: tn_rows<3>(m, k, a, lda, b + j0, ldb, c + j0, ldc, cols); break;
    }
  }
}

inline bool avx2_usable() {
  static const bool usable = [] {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
    return reproduces_small_product<float>([](const float* a, const float* b, float* c) {
             avx2_nn(2, 2, 3, a, 3, b, 2, false, c, 2);
             return true;
           }) &&
           reproduces_small_product<float>([](const float* a, const float* b, float* c) {
             float at[6] = {a[0], a[3], a[1], a[4], a[2], a[5]};  // a' stored [3, 2]
             avx2_tn(2, 2, 3, at, 2, b, 2, c, 2);
             return true;
           });
  }();
  return usable;
}
#else
inline bool avx2_usable() { return false; }
#endif

// ---------------------------------------------------------------------------------------
// The route

inline std::atomic<int>& mode_setting() {
  static std::atomic<int> mode{2};
  return mode;
}

// The route products take (float32): 2 kernels, 1 BLAS, 0 ATen; `wanted` >= 0 sets the
// preference first (the tests compare the routes), the best available at or below it.
inline int products_mode(int64_t wanted = -1) {
  if (wanted >= 0) mode_setting().store(static_cast<int>(std::min<int64_t>(wanted, 2)));
  int mode = mode_setting().load(std::memory_order_relaxed);
  if (mode == 2 && !avx2_usable()) mode = 1;
  if (mode == 1 && !(blas_usable<float>() && blas_usable<double>())) mode = 0;
  return mode;
}

template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == T(0)) {
      for (int64_t r = 0; r < m; ++r) std::fill(c + r * ldc, c + r * ldc + n, T(0));
    }
    return;
  }
  const int mode = products_mode();
#if SEQNETS_X86_KERNELS
  // a b and a' b by the kernels; a b' stays with the BLAS, which is faster at it (MKL:
  // 11.6 us against the kernels' 13.0 for 800 x 20 by 20 x 20, where a b takes it 14.0
  // against 12.5, and a' b 13.8 against 8.3)
  if constexpr (std::is_same_v<T, float>) {
    if (mode == 2 && !tb && kernels_take(ta, m, n, k)) {
      if (!ta) {
        avx2_nn(m, n, k, a, lda, b, ldb, beta != 0.f, c, ldc);
        return;
      }
      if (beta == 0.f) {
        avx2_tn(m, n, k, a, lda, b, ldb, c, ldc);
        return;
      }
    }
  }
#endif
#if SEQNETS_HAVE_BLAS
  if (mode >= 1 && blas_usable<T>()) {
    blas_call<T>(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  aten_gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace seqnets_gemm
