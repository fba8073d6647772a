// Native loops of seqnets' fused convolution runs (seqnets/layers/conv_taps.py).
//
// The computation of the Python loops of _ConvStack, without the interpreter's cost per
// operation, which at the chapter's sizes is as large as the operations themselves. The
// matrix products are the same ATen calls; the bias and the ReLU are applied in one pass
// over the output (not folded into the first product), and the ReLU's gradient and the
// bias gradient taken in one pass, so results match the Python loops to rounding. Built on
// first use by seqnets/layers/native.py; registered as torch.ops.<library>.stack_*.
//
// A run is described by a flat list of integers, per layer:
//   length, count, batch, strides, full, whole, relu, has_bias, ntaps, then per tap:
//   j, out_lo, out_hi, in_lo, in_hi, first, n
// (rows of time-major memory; see LayerPlan, Tap and _run in conv_taps.py).

#include <ATen/ATen.h>
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>
#include <vector>

using at::Tensor;

namespace {

struct Tap {
  int64_t j, out_lo, out_hi, in_lo, in_hi, first, n;
};

struct Layer {
  int64_t length, count, batch, strides, full, whole;
  bool relu, has_bias;
  std::vector<Tap> taps;
};

std::vector<Layer> decode(c10::IntArrayRef code) {
  std::vector<Layer> layers;
  size_t i = 0;
  while (i < code.size()) {
    TORCH_CHECK(i + 9 <= code.size(), "conv_stack: truncated plan");
    Layer layer{code[i],     code[i + 1],     code[i + 2],     code[i + 3], code[i + 4],
                code[i + 5], code[i + 6] != 0, code[i + 7] != 0, {}};
    const int64_t ntaps = code[i + 8];
    i += 9;
    TORCH_CHECK(i + 7 * ntaps <= code.size(), "conv_stack: truncated plan");
    for (int64_t t = 0; t < ntaps; ++t, i += 7) {
      layer.taps.push_back({code[i], code[i + 1], code[i + 2], code[i + 3], code[i + 4],
                            code[i + 5], code[i + 6]});
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

// rows [lo, hi) of h; h itself when they are all of it (one operation fewer)
Tensor rows(const Tensor& h, int64_t lo, int64_t hi) {
  return (lo == 0 && hi == h.size(0)) ? h : h.slice(0, lo, hi);
}

// the input rows a tap reads: a block of rows, or every strides-th step (a copy)
Tensor input_rows(const Tensor& h, const Layer& layer, const Tap& tap) {
  if (layer.strides > 1) {
    auto steps = h.view({layer.length, -1, h.size(1)});
    const int64_t end = tap.first + (tap.n - 1) * layer.strides + 1;
    return steps.slice(0, tap.first, end, layer.strides).reshape({-1, h.size(1)});
  }
  return rows(h, tap.in_lo, tap.in_hi);
}

// y <- relu(y + bias) in one pass (either part optional); y is contiguous [rows, F]. The
// loops are kept free of branches on the data so that they vectorise (a data-dependent
// branch on random signs costs more than the arithmetic).
void bias_relu_(Tensor& y, const Tensor& bias, bool has_bias, bool relu) {
  if (!has_bias && !relu) return;
  const auto b = has_bias ? bias.contiguous() : Tensor();
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "seqnets_bias_relu", [&] {
    scalar_t* __restrict__ out = y.data_ptr<scalar_t>();
    const int64_t n = y.size(0), f = y.size(1);
    if (!has_bias) {
      for (int64_t i = 0; i < n * f; ++i) out[i] = out[i] < 0 ? scalar_t(0) : out[i];
      return;
    }
    const scalar_t* __restrict__ add = b.data_ptr<scalar_t>();
    for (int64_t r = 0; r < n; ++r, out += f) {
      if (relu) {
        for (int64_t c = 0; c < f; ++c) {
          const scalar_t v = out[c] + add[c];
          out[c] = v < 0 ? scalar_t(0) : v;  // NaN stays NaN, as with torch.relu
        }
      } else {
        for (int64_t c = 0; c < f; ++c) out[c] += add[c];
      }
    }
  });
}

// The ReLU's gradient (zero where the output is <= 0, as threshold_backward) and the column
// sums of the result (the bias gradient), in two passes over cached rows. Returns
// {gradient after the ReLU, sums}; the sums undefined when not asked for.
std::pair<Tensor, Tensor> relu_bias_grad(const Tensor& g_in, const Tensor& out_in, bool relu,
                                         bool sums) {
  const auto g = g_in.contiguous();
  Tensor masked = relu ? at::empty_like(g) : g;
  Tensor total = sums ? at::empty({g.size(1)}, g.options()) : Tensor();
  if (!relu && !sums) return {masked, total};
  const auto out = relu ? out_in.contiguous() : Tensor();
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "seqnets_relu_bias_grad", [&] {
    using acc_t = at::acc_type<scalar_t, false>;
    const int64_t n = g.size(0), f = g.size(1);
    if (relu) {
      const scalar_t* __restrict__ src = g.data_ptr<scalar_t>();
      const scalar_t* __restrict__ mask = out.data_ptr<scalar_t>();
      scalar_t* __restrict__ dst = masked.data_ptr<scalar_t>();
      for (int64_t i = 0; i < n * f; ++i) {
        const scalar_t v = src[i];  // loaded unconditionally, so the select vectorises
        dst[i] = mask[i] <= 0 ? scalar_t(0) : v;
      }
    }
    if (sums) {
      std::vector<acc_t> acc(f, acc_t(0));
      acc_t* __restrict__ a = acc.data();
      const scalar_t* row = masked.data_ptr<scalar_t>();
      for (int64_t r = 0; r < n; ++r, row += f) {
        for (int64_t c = 0; c < f; ++c) a[c] += row[c];
      }
      scalar_t* t = total.data_ptr<scalar_t>();
      for (int64_t c = 0; c < f; ++c) t[c] = static_cast<scalar_t>(a[c]);
    }
  });
  return {masked, total};
}

}  // namespace

// Returns the rows entering every layer and the last layer's output (n + 1 tensors), then
// each layer's kernels as [k, C, F] memory (n tensors).
// biases: one per layer, any tensor where the layer has none.
std::vector<Tensor> stack_forward(const Tensor& x_rows, at::TensorList weights,
                                  at::TensorList biases, c10::IntArrayRef code) {
  const auto layers = decode(code);
  const size_t n = layers.size();
  TORCH_CHECK(weights.size() == n && biases.size() == n,
              "conv_stack: one weight and one bias per layer");
  std::vector<Tensor> hs{x_rows};
  std::vector<Tensor> kernels;
  Tensor h = x_rows;
  for (size_t l = 0; l < n; ++l) {
    const Layer& layer = layers[l];
    // a copy, not a view of the parameter, so that later in-place updates cannot reach it
    auto kernel = weights[l].permute({2, 1, 0});
    kernel = kernel.is_contiguous() ? kernel.clone() : kernel.contiguous();
    Tensor y;
    if (layer.full >= 0) {
      const Tap& tap = layer.taps[layer.full];
      y = at::mm(input_rows(h, layer, tap), kernel[tap.j]);
    } else {
      y = at::zeros({layer.count * layer.batch, kernel.size(2)}, h.options());
    }
    for (int64_t i = 0; i < static_cast<int64_t>(layer.taps.size()); ++i) {
      if (i == layer.full) continue;
      const Tap& tap = layer.taps[i];
      rows(y, tap.out_lo, tap.out_hi).addmm_(input_rows(h, layer, tap), kernel[tap.j]);
    }
    bias_relu_(y, biases[l], layer.has_bias, layer.relu);
    hs.push_back(y);
    kernels.push_back(kernel);
    h = y;
  }
  hs.insert(hs.end(), kernels.begin(), kernels.end());
  return hs;
}

// Returns [d input rows, d weight 0, d bias 0, d weight 1, ...]; None where not wanted
// (wanted has the same layout).
std::vector<std::optional<Tensor>> stack_backward(const Tensor& dy_rows, at::TensorList hs,
                                                  at::TensorList kernels, c10::IntArrayRef code,
                                                  c10::IntArrayRef wanted) {
  const auto layers = decode(code);
  const int64_t n = static_cast<int64_t>(layers.size());
  TORCH_CHECK(static_cast<int64_t>(hs.size()) == n + 1 &&
                  static_cast<int64_t>(kernels.size()) == n &&
                  static_cast<int64_t>(wanted.size()) == 1 + 2 * n,
              "conv_stack: saved tensors do not match the plan");
  std::vector<std::optional<Tensor>> grads(1 + 2 * n);
  Tensor g = dy_rows;
  for (int64_t l = n - 1; l >= 0; --l) {
    const Layer& layer = layers[l];
    const Tensor& kernel = kernels[l];
    const Tensor& h = hs[l];
    const bool bias_wanted = layer.has_bias && wanted[2 + 2 * l];
    auto [masked, bias_grad] = relu_bias_grad(g, hs[l + 1], layer.relu, bias_wanted);
    g = masked;  // the ReLU's output is its mask
    if (bias_wanted) grads[2 + 2 * l] = bias_grad;
    if (wanted[1 + 2 * l]) {
      const int64_t k = kernel.size(0);
      std::vector<Tensor> per_tap(k);
      for (const Tap& tap : layer.taps) {
        per_tap[tap.j] = rows(g, tap.out_lo, tap.out_hi).t().mm(input_rows(h, layer, tap));
      }
      if (k == 1) {
        grads[1 + 2 * l] = per_tap[0].unsqueeze(2);
      } else {
        for (auto& p : per_tap) {  // taps reading only padding
          if (!p.defined()) p = at::zeros({g.size(1), h.size(1)}, g.options());
        }
        grads[1 + 2 * l] = at::stack(per_tap, 2);
      }
    }
    if (l == 0 && !wanted[0]) return grads;
    Tensor dh;
    if (layer.whole >= 0) {
      const Tap& tap = layer.taps[layer.whole];
      dh = rows(g, tap.out_lo, tap.out_hi).mm(kernel[tap.j].t());
    } else {
      dh = at::zeros({layer.length * layer.batch, kernel.size(1)}, g.options());
    }
    for (int64_t i = 0; i < static_cast<int64_t>(layer.taps.size()); ++i) {
      if (i == layer.whole) continue;
      const Tap& tap = layer.taps[i];
      const auto g_rows = rows(g, tap.out_lo, tap.out_hi);
      if (layer.strides == 1) {
        dh.slice(0, tap.in_lo, tap.in_hi).addmm_(g_rows, kernel[tap.j].t());
      } else {
        auto steps = dh.view({layer.length, -1, dh.size(1)});
        steps.slice(0, tap.first, tap.first + (tap.n - 1) * layer.strides + 1, layer.strides)
            .add_(g_rows.mm(kernel[tap.j].t()).view({tap.n, -1, dh.size(1)}));
      }
    }
    g = dh;
  }
  grads[0] = g;
  return grads;
}

// SEQNETS_LIBRARY is defined by the loader: the library name carries the source's hash.
TORCH_LIBRARY(SEQNETS_LIBRARY, m) {
  m.def("stack_forward(Tensor x_rows, Tensor[] weights, Tensor[] biases, int[] code) "
        "-> Tensor[]",
        &stack_forward);
  m.def("stack_backward(Tensor dy_rows, Tensor[] hs, Tensor[] kernels, int[] code, "
        "int[] wanted) -> Tensor?[]",
        &stack_backward);
}
