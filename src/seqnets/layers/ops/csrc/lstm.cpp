// Native time loop of the LSTM (plain and peephole) for seqnets' compiled recurrent path
// (seqnets/layers/fastpath.py), the same computation as the numba kernels of
// seqnets/layers/kernels.py (lstm_forward, lstm_backward), arranged for small batches:
//
// - the batch is cut into slices that run their whole time loop side by side on the
//   intra-op threads (slices.h), and within a slice every step's recurrent product is one
//   matrix product over the slice's rows (gemm.h), not one vector product per sequence;
// - the gate activations are loops over a row that the compiler vectorises: in float32
//   the branch-free rational tanh of kernels.py (Eigen's), the logistic function as
//   0.5 tanh(x / 2) + 0.5; in float64 the libm functions.
//
// Gate order i, f, g, o; peep [3, H] holds the peephole weights (w_ci, w_cf, w_co), zeros
// for a plain LSTM; mask [B, H] multiplies h_{t-1} in the recurrent product (recurrent
// dropout; ones without). The recurrent weight's gradient, one product over every step, is
// taken by the caller.

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "activations.h"
#include "gemm.h"
#include "recurrent_steps.h"
#include "slices.h"

using at::Tensor;
using seqnets_gemm::gemm;
using seqnets_slices::for_each_slice;
using seqnets_slices::Slice;
using seqnets_slices::slices;
using seqnets_activations::sigmoid_of;
using seqnets_activations::tanh_of;

namespace {

// One row's gates from its pre-activations a [4H] and previous cell state cp [H]
template <typename T>
SEQNETS_INLINE void gates_forward_body(const T* __restrict__ a, const T* __restrict__ cp,
                   const T* __restrict__ peep, int64_t h, T* __restrict__ y,
                   T* __restrict__ c, T* __restrict__ ig, T* __restrict__ fg,
                   T* __restrict__ gg, T* __restrict__ og) {
  for (int64_t j = 0; j < h; ++j) {
    const T i = sigmoid_of(a[j] + peep[j] * cp[j]);
    const T f = sigmoid_of(a[h + j] + peep[h + j] * cp[j]);
    const T g = tanh_of(a[2 * h + j]);
    const T cell = f * cp[j] + i * g;
    const T o = sigmoid_of(a[3 * h + j] + peep[2 * h + j] * cell);
    c[j] = cell;
    y[j] = o * tanh_of(cell);
    ig[j] = i;
    fg[j] = f;
    gg[j] = g;
    og[j] = o;
  }
}

// One row's step backwards: dz [4H] from the output and state gradients; dh_next and
// dc_next [H] carry the gradients to step t - 1 (dh_next in: from step t + 1)
template <typename T>
SEQNETS_INLINE void gates_backward_body(const T* __restrict__ dy, const T* __restrict__ dc_out,
                    const T* __restrict__ cp, const T* __restrict__ c,
                    const T* __restrict__ ig, const T* __restrict__ fg,
                    const T* __restrict__ gg, const T* __restrict__ og,
                    const T* __restrict__ peep, int64_t h, const T* __restrict__ dh_next,
                    T* __restrict__ dc_next, T* __restrict__ dz, T* __restrict__ dpeep) {
  for (int64_t j = 0; j < h; ++j) {
    const T i = ig[j], f = fg[j], g = gg[j], o = og[j];
    const T tc = tanh_of(c[j]);
    const T dh = dy[j] + dh_next[j];
    const T dao = dh * tc * o * (T(1) - o);
    const T dc = dc_next[j] + dc_out[j] + dh * o * (T(1) - tc * tc) + dao * peep[2 * h + j];
    const T dai = dc * g * i * (T(1) - i);
    const T daf = dc * cp[j] * f * (T(1) - f);
    const T dag = dc * i * (T(1) - g * g);
    dz[j] = dai;
    dz[h + j] = daf;
    dz[2 * h + j] = dag;
    dz[3 * h + j] = dao;
    dpeep[j] += dai * cp[j];
    dpeep[h + j] += daf * cp[j];
    dpeep[2 * h + j] += dao * c[j];
    dc_next[j] = dc * f + dai * peep[j] + daf * peep[h + j];
  }
}

SEQNETS_CLONES void gates_forward(const float* a, const float* cp, const float* peep,
                                  int64_t h, float* y, float* c, float* ig, float* fg,
                                  float* gg, float* og) {
  gates_forward_body(a, cp, peep, h, y, c, ig, fg, gg, og);
}
void gates_forward(const double* a, const double* cp, const double* peep, int64_t h, double* y,
                   double* c, double* ig, double* fg, double* gg, double* og) {
  gates_forward_body(a, cp, peep, h, y, c, ig, fg, gg, og);
}

SEQNETS_CLONES void gates_backward(const float* dy, const float* dc_out, const float* cp,
                                   const float* c, const float* ig, const float* fg,
                                   const float* gg, const float* og, const float* peep,
                                   int64_t h, const float* dh_next, float* dc_next, float* dz,
                                   float* dpeep) {
  gates_backward_body(dy, dc_out, cp, c, ig, fg, gg, og, peep, h, dh_next, dc_next, dz, dpeep);
}
void gates_backward(const double* dy, const double* dc_out, const double* cp, const double* c,
                    const double* ig, const double* fg, const double* gg, const double* og,
                    const double* peep, int64_t h, const double* dh_next, double* dc_next,
                    double* dz, double* dpeep) {
  gates_backward_body(dy, dc_out, cp, c, ig, fg, gg, og, peep, h, dh_next, dc_next, dz, dpeep);
}

struct Sizes {
  int64_t steps, h;
};

template <typename T>
void forward_slice(const T* p, const T* w_t, const T* peep, const T* h0, const T* c0,
                   const T* mask, Sizes n, Slice s, T* y, T* c, T* ig, T* fg, T* gg, T* og) {
  const int64_t h = n.h, g4 = 4 * h;
  std::vector<T> a(s.size * g4), hm(s.size * h);
  for (int64_t t = 0; t < n.steps; ++t) {
    seqnets_steps::step_rows(p, g4, h0, y, mask, n.steps, h, s, t, hm.data(), a.data());
    // a += (h_{t-1} mask) W'
    gemm<T>(false, false, s.size, g4, h, hm.data(), h, w_t, g4, T(1), a.data(), g4);
    for (int64_t r = 0; r < s.size; ++r) {
      const int64_t b = s.begin + r, at = (b * n.steps + t) * h;
      const T* cp = t == 0 ? c0 + b * h : c + at - h;
      gates_forward(a.data() + r * g4, cp, peep, h, y + at, c + at, ig + at, fg + at,
                       gg + at, og + at);
    }
  }
}

template <typename T>
void backward_slice(const T* dy, const T* dc_out, const T* c, const T* ig, const T* fg,
                    const T* gg, const T* og, const T* w, const T* peep, const T* c0,
                    const T* mask, Sizes n, Slice s, T* dp, T* dpeep, T* dh0, T* dc0) {
  const int64_t h = n.h, g4 = 4 * h;
  std::vector<T> dh_next(s.size * h, T(0)), dc_next(s.size * h, T(0));
  for (int64_t t = n.steps - 1; t >= 0; --t) {
    for (int64_t r = 0; r < s.size; ++r) {
      const int64_t b = s.begin + r, at = (b * n.steps + t) * h;
      const T* cp = t == 0 ? c0 + b * h : c + at - h;
      gates_backward(dy + at, dc_out + at, cp, c + at, ig + at, fg + at, gg + at, og + at,
                        peep, h, dh_next.data() + r * h, dc_next.data() + r * h,
                        dp + (b * n.steps + t) * g4, dpeep);
    }
    // dh_{t-1} = (dz W) mask, over the slice's rows of step t (rows n.steps * 4H apart)
    gemm<T>(false, false, s.size, h, g4, dp + (s.begin * n.steps + t) * g4, n.steps * g4, w,
            h, T(0), dh_next.data(), h);
    seqnets_steps::mask_rows(dh_next.data(), mask, h, s);
  }
  std::copy(dh_next.begin(), dh_next.end(), dh0 + s.begin * h);
  std::copy(dc_next.begin(), dc_next.end(), dc0 + s.begin * h);
}

}  // namespace

// p [B, T, 4H] (input projections with biases), w_t [H, 4H] (the recurrent weight,
// transposed), peep [3, H], h0, c0, mask [B, H]. Returns h, c and the gates i, f, g, o,
// each [B, T, H].
std::vector<Tensor> lstm_forward(const Tensor& p, const Tensor& w_t, const Tensor& peep,
                                 const Tensor& h0, const Tensor& c0, const Tensor& mask,
                                 int64_t chunks) {
  TORCH_CHECK(p.dim() == 3 && p.size(2) % 4 == 0, "lstm: p must be [B, T, 4H]");
  const int64_t batch = p.size(0), h = p.size(2) / 4;
  for (const auto& [t, name] : {std::pair{w_t, "w_t"}, {peep, "peep"}, {h0, "h0"},
                                {c0, "c0"}, {mask, "mask"}, {p, "p"}})
    seqnets_steps::check_operand(t, p, "lstm", name);
  TORCH_CHECK(w_t.sizes() == at::IntArrayRef({h, 4 * h}) &&
                  peep.sizes() == at::IntArrayRef({3, h}) &&
                  h0.sizes() == at::IntArrayRef({batch, h}) && c0.sizes() == h0.sizes() &&
                  mask.sizes() == h0.sizes(),
              "lstm: sizes do not match p [B, T, 4H]");
  const Sizes n{p.size(1), h};
  std::vector<Tensor> out;
  for (int i = 0; i < 6; ++i) out.push_back(at::empty({batch, n.steps, h}, p.options()));
  const auto parts = slices(batch, chunks);
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "seqnets_lstm_forward", [&] {
    using T = scalar_t;
    for_each_slice(static_cast<int64_t>(parts.size()), [&](int64_t k) {
      forward_slice<T>(p.data_ptr<T>(), w_t.data_ptr<T>(), peep.data_ptr<T>(),
                       h0.data_ptr<T>(), c0.data_ptr<T>(), mask.data_ptr<T>(), n, parts[k],
                       out[0].data_ptr<T>(), out[1].data_ptr<T>(), out[2].data_ptr<T>(),
                       out[3].data_ptr<T>(), out[4].data_ptr<T>(), out[5].data_ptr<T>());
    });
  });
  return out;
}

// dy, dc [B, T, H]: gradients of h and c at every step; the rest as saved by lstm_forward
// (w [4H, H] untransposed). Returns dp [B, T, 4H], dpeep [3, H], dh0 and dc0 [B, H].
std::vector<Tensor> lstm_backward(const Tensor& dy, const Tensor& dc, const Tensor& c,
                                  const Tensor& ig, const Tensor& fg, const Tensor& gg,
                                  const Tensor& og, const Tensor& w, const Tensor& peep,
                                  const Tensor& c0, const Tensor& mask, int64_t chunks) {
  TORCH_CHECK(c.dim() == 3, "lstm: c must be [B, T, H]");
  for (const auto& [t, name] : {std::pair{dy, "dy"}, {dc, "dc"}, {ig, "i"}, {fg, "f"},
                                {gg, "g"}, {og, "o"}, {w, "w"}, {peep, "peep"}, {c0, "c0"},
                                {mask, "mask"}})
    seqnets_steps::check_operand(t, c, "lstm", name);
  const int64_t batch = c.size(0), h = c.size(2);
  TORCH_CHECK(dy.sizes() == c.sizes() && dc.sizes() == c.sizes() && ig.sizes() == c.sizes() &&
                  w.sizes() == at::IntArrayRef({4 * h, h}) &&
                  c0.sizes() == at::IntArrayRef({batch, h}),
              "lstm: sizes do not match c [B, T, H]");
  const Sizes n{c.size(1), h};
  Tensor dp = at::empty({batch, n.steps, 4 * h}, c.options());
  Tensor dh0 = at::empty({batch, h}, c.options()), dc0 = at::empty({batch, h}, c.options());
  Tensor dpeep = at::zeros({3, h}, c.options());
  const auto parts = slices(batch, chunks);
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "seqnets_lstm_backward", [&] {
    using T = scalar_t;
    std::vector<std::vector<T>> partial(parts.size(), std::vector<T>(3 * h, T(0)));
    for_each_slice(static_cast<int64_t>(parts.size()), [&](int64_t k) {
      backward_slice<T>(dy.data_ptr<T>(), dc.data_ptr<T>(), c.data_ptr<T>(),
                        ig.data_ptr<T>(), fg.data_ptr<T>(), gg.data_ptr<T>(),
                        og.data_ptr<T>(), w.data_ptr<T>(), peep.data_ptr<T>(),
                        c0.data_ptr<T>(), mask.data_ptr<T>(), n, parts[k],
                        dp.data_ptr<T>(), partial[k].data(), dh0.data_ptr<T>(),
                        dc0.data_ptr<T>());
    });
    T* total = dpeep.data_ptr<T>();
    for (const auto& part : partial)
      for (int64_t j = 0; j < 3 * h; ++j) total[j] += part[j];
  });
  return {dp, dpeep, dh0, dc0};
}

TORCH_LIBRARY_FRAGMENT(SEQNETS_LIBRARY, m) {
  m.def("lstm_forward(Tensor p, Tensor w_t, Tensor peep, Tensor h0, Tensor c0, Tensor mask, "
        "int chunks) -> Tensor[]",
        &lstm_forward);
  m.def("lstm_backward(Tensor dy, Tensor dc, Tensor c, Tensor i, Tensor f, Tensor g, "
        "Tensor o, Tensor w, Tensor peep, Tensor c0, Tensor mask, int chunks) -> Tensor[]",
        &lstm_backward);
}
