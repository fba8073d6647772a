// Native time loop of SimpleRNN (tanh or ReLU) for seqnets' compiled recurrent path
// (seqnets/layers/fastpath.py): the computation of the numba kernels simple_rnn_forward and
// simple_rnn_backward of seqnets/layers/kernels.py, arranged as lstm.cpp is: batch slices
// side by side on the intra-op threads, every step one matrix product over a slice's rows,
// the activation loops vectorised. mask [B, H] multiplies h_{t-1} in the recurrent product
// (recurrent dropout; ones without). The recurrent weight's gradient, one product over
// every step, is taken by the caller.

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "activations.h"
#include "gemm.h"
#include "recurrent_steps.h"
#include "slices.h"

using at::Tensor;
using seqnets_activations::tanh_of;
using seqnets_gemm::gemm;
using seqnets_slices::for_each_slice;
using seqnets_slices::Slice;
using seqnets_slices::slices;

namespace {

// y = act(a) over one row
template <typename T>
SEQNETS_INLINE void activate_body(const T* __restrict__ a, int64_t h, bool relu,
                                  T* __restrict__ y) {
  if (relu) {
    for (int64_t j = 0; j < h; ++j) y[j] = a[j] < 0 ? T(0) : a[j];  // NaN stays NaN
  } else {
    for (int64_t j = 0; j < h; ++j) y[j] = tanh_of(a[j]);
  }
}

// dz = (dy + dh_next) act'(z), from the row's outputs y = act(z)
template <typename T>
SEQNETS_INLINE void activate_backward_body(const T* __restrict__ dy,
                                           const T* __restrict__ dh_next,
                                           const T* __restrict__ y, int64_t h, bool relu,
                                           T* __restrict__ dz) {
  if (relu) {
    for (int64_t j = 0; j < h; ++j) {
      const T g = dy[j] + dh_next[j];
      dz[j] = y[j] > 0 ? g : T(0);
    }
  } else {
    for (int64_t j = 0; j < h; ++j) dz[j] = (dy[j] + dh_next[j]) * (T(1) - y[j] * y[j]);
  }
}

SEQNETS_CLONES void activate(const float* a, int64_t h, bool relu, float* y) {
  activate_body(a, h, relu, y);
}
void activate(const double* a, int64_t h, bool relu, double* y) {
  activate_body(a, h, relu, y);
}
SEQNETS_CLONES void activate_backward(const float* dy, const float* dh_next, const float* y,
                                      int64_t h, bool relu, float* dz) {
  activate_backward_body(dy, dh_next, y, h, relu, dz);
}
void activate_backward(const double* dy, const double* dh_next, const double* y, int64_t h,
                       bool relu, double* dz) {
  activate_backward_body(dy, dh_next, y, h, relu, dz);
}

template <typename T>
void forward_slice(const T* p, const T* w_t, const T* h0, const T* mask, int64_t steps,
                   int64_t h, bool relu, Slice s, T* y) {
  std::vector<T> a(s.size * h), hm(s.size * h);
  for (int64_t t = 0; t < steps; ++t) {
    seqnets_steps::step_rows(p, h, h0, y, mask, steps, h, s, t, hm.data(), a.data());
    // a += (h_{t-1} mask) W'
    gemm<T>(false, false, s.size, h, h, hm.data(), h, w_t, h, T(1), a.data(), h);
    for (int64_t r = 0; r < s.size; ++r)
      activate(a.data() + r * h, h, relu, y + ((s.begin + r) * steps + t) * h);
  }
}

template <typename T>
void backward_slice(const T* dy, const T* y, const T* w, const T* mask, int64_t steps,
                    int64_t h, bool relu, Slice s, T* dp, T* dh0) {
  std::vector<T> dh_next(s.size * h, T(0));
  for (int64_t t = steps - 1; t >= 0; --t) {
    for (int64_t r = 0; r < s.size; ++r) {
      const int64_t at = ((s.begin + r) * steps + t) * h;
      activate_backward(dy + at, dh_next.data() + r * h, y + at, h, relu, dp + at);
    }
    // dh_{t-1} = (dz W) mask, over the slice's rows of step t (rows steps * H apart)
    gemm<T>(false, false, s.size, h, h, dp + (s.begin * steps + t) * h, steps * h, w, h,
            T(0), dh_next.data(), h);
    seqnets_steps::mask_rows(dh_next.data(), mask, h, s);
  }
  std::copy(dh_next.begin(), dh_next.end(), dh0 + s.begin * h);
}

}  // namespace

// p [B, T, H] (input projections with biases), w_t [H, H] (the recurrent weight,
// transposed), h0 and mask [B, H]. Returns the outputs h [B, T, H].
Tensor simple_rnn_forward(const Tensor& p, const Tensor& w_t, const Tensor& h0,
                          const Tensor& mask, bool relu, int64_t chunks) {
  TORCH_CHECK(p.dim() == 3, "simple_rnn: p must be [B, T, H]");
  for (const auto& [t, name] : {std::pair{p, "p"}, {w_t, "w_t"}, {h0, "h0"}, {mask, "mask"}})
    seqnets_steps::check_operand(t, p, "simple_rnn", name);
  const int64_t batch = p.size(0), steps = p.size(1), h = p.size(2);
  TORCH_CHECK(w_t.sizes() == at::IntArrayRef({h, h}) &&
                  h0.sizes() == at::IntArrayRef({batch, h}) && mask.sizes() == h0.sizes(),
              "simple_rnn: sizes do not match p [B, T, H]");
  Tensor y = at::empty({batch, steps, h}, p.options());
  const auto parts = slices(batch, chunks);
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "seqnets_simple_rnn_forward", [&] {
    for_each_slice(static_cast<int64_t>(parts.size()), [&](int64_t k) {
      forward_slice<scalar_t>(p.data_ptr<scalar_t>(), w_t.data_ptr<scalar_t>(),
                              h0.data_ptr<scalar_t>(), mask.data_ptr<scalar_t>(), steps, h,
                              relu, parts[k], y.data_ptr<scalar_t>());
    });
  });
  return y;
}

// dy: the outputs' gradient; y: the outputs; w [H, H] untransposed. Returns dp [B, T, H]
// and dh0 [B, H].
std::vector<Tensor> simple_rnn_backward(const Tensor& dy, const Tensor& y, const Tensor& w,
                                        const Tensor& mask, bool relu, int64_t chunks) {
  TORCH_CHECK(y.dim() == 3, "simple_rnn: y must be [B, T, H]");
  for (const auto& [t, name] : {std::pair{dy, "dy"}, {y, "y"}, {w, "w"}, {mask, "mask"}})
    seqnets_steps::check_operand(t, y, "simple_rnn", name);
  const int64_t batch = y.size(0), steps = y.size(1), h = y.size(2);
  TORCH_CHECK(dy.sizes() == y.sizes() && w.sizes() == at::IntArrayRef({h, h}) &&
                  mask.sizes() == at::IntArrayRef({batch, h}),
              "simple_rnn: sizes do not match y [B, T, H]");
  Tensor dp = at::empty_like(y), dh0 = at::empty({batch, h}, y.options());
  const auto parts = slices(batch, chunks);
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "seqnets_simple_rnn_backward", [&] {
    for_each_slice(static_cast<int64_t>(parts.size()), [&](int64_t k) {
      backward_slice<scalar_t>(dy.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                               w.data_ptr<scalar_t>(), mask.data_ptr<scalar_t>(), steps, h,
                               relu, parts[k], dp.data_ptr<scalar_t>(),
                               dh0.data_ptr<scalar_t>());
    });
  });
  return {dp, dh0};
}

TORCH_LIBRARY_FRAGMENT(SEQNETS_LIBRARY, m) {
  m.def("simple_rnn_forward(Tensor p, Tensor w_t, Tensor h0, Tensor mask, bool relu, "
        "int chunks) -> Tensor",
        &simple_rnn_forward);
  m.def("simple_rnn_backward(Tensor dy, Tensor y, Tensor w, Tensor mask, bool relu, "
        "int chunks) -> Tensor[]",
        &simple_rnn_backward);
}
