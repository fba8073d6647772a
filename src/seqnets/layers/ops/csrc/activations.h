// Activations for seqnets' native recurrent loops (lstm.cpp, simple_rnn.cpp), as the numba
// kernels of seqnets/layers/kernels.py compute them: in float32 the branch-free rational
// tanh of Eigen (|error| < 4e-7, so that the loops over a row vectorise) and the logistic
// function as 0.5 tanh(x / 2) + 0.5; in float64 the libm functions.

#pragma once

#include <cmath>

namespace seqnets_activations {

// A function over a row that calls these is compiled twice (SEQNETS_CLONES) where the
// platform picks at load time (GCC's function multiversioning): with AVX2 (8 floats a
// vector) and for the baseline; the activations inline into each.
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define SEQNETS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SEQNETS_CLONES
#endif
#if defined(__GNUC__)
#define SEQNETS_INLINE inline __attribute__((always_inline))
#else
#define SEQNETS_INLINE inline
#endif

SEQNETS_INLINE float tanh_of(float x) {
  // clamp and minimax coefficients of Eigen's float32 tanh (|error| < 4e-7)
  constexpr float lim = 7.90531110763549805f;
  constexpr float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f,
                  a5 = 1.48572235717979e-05f, a7 = 5.12229709037114e-08f,
                  a9 = -8.60467152213735e-11f, a11 = 2.00018790482477e-13f,
                  a13 = -2.76076847742355e-16f;
  constexpr float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f,
                  b4 = 1.18534705686654e-04f, b6 = 1.19825839466702e-06f;
  x = x < -lim ? -lim : x;
  x = x > lim ? lim : x;
  const float x2 = x * x;
  const float p = x2 * (x2 * (x2 * (x2 * (x2 * (x2 * a13 + a11) + a9) + a7) + a5) + a3) + a1;
  const float q = x2 * (x2 * (x2 * b6 + b4) + b2) + b0;
  return x * p / q;
}
SEQNETS_INLINE double tanh_of(double x) { return std::tanh(x); }

SEQNETS_INLINE float sigmoid_of(float x) { return 0.5f * tanh_of(0.5f * x) + 0.5f; }
SEQNETS_INLINE double sigmoid_of(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace seqnets_activations
