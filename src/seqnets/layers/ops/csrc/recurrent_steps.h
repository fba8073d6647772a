// What the native time loops (lstm.cpp, simple_rnn.cpp) share: the rows a step's recurrent
// product reads, the recurrent-dropout mask on the gradient it sends back, and the checks
// of their operands. Memory is batch-major: row (b, t) of a [B, T, width] tensor is at
// (b * steps + t) * width.

#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>

#include "slices.h"

namespace seqnets_steps {

// For the slice's sequences at step t: hm = h_{t-1} mask (h_{-1} = h0) [b, h], and a copy of
// the input projections p_t [b, width] to add the recurrent product to
template <typename T>
void step_rows(const T* p, int64_t width, const T* h0, const T* y, const T* mask,
               int64_t steps, int64_t h, seqnets_slices::Slice s, int64_t t, T* hm, T* a) {
  for (int64_t r = 0; r < s.size; ++r) {
    const int64_t b = s.begin + r;
    const T* prev = t == 0 ? h0 + b * h : y + (b * steps + t - 1) * h;
    for (int64_t j = 0; j < h; ++j) hm[r * h + j] = prev[j] * mask[b * h + j];
    const T* pt = p + (b * steps + t) * width;
    std::copy(pt, pt + width, a + r * width);
  }
}

// dh [b, h] <- dh mask, over the slice's rows (the backward of h_{t-1} mask)
template <typename T>
void mask_rows(T* dh, const T* mask, int64_t h, seqnets_slices::Slice s) {
  for (int64_t r = 0; r < s.size; ++r)
    for (int64_t j = 0; j < h; ++j) dh[r * h + j] *= mask[(s.begin + r) * h + j];
}

// The loops read raw memory: every operand contiguous, on CPU, of one dtype
inline void check_operand(const at::Tensor& t, const at::Tensor& like, const char* op,
                          const char* name) {
  TORCH_CHECK(t.is_contiguous() && t.scalar_type() == like.scalar_type() &&
                  t.device().is_cpu(),
              op, ": ", name, " must be a contiguous CPU tensor of the same dtype as the rest");
}

}  // namespace seqnets_steps
