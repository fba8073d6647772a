// Native loops of seqnets' fused convolution runs (seqnets/layers/conv_taps.py).
//
// The same ATen operations, in the same order, as the Python loops of _ConvStack, so the
// results are identical; what goes away is the interpreter's cost per operation, which at
// the chapter's sizes is as large as the operations themselves. Built on first use by
// seqnets/layers/native.py and registered as torch.ops.<library>.stack_{forward,backward}.
//
// A run is described by a flat list of integers, per layer:
//   length, count, batch, strides, full, whole, relu, has_bias, ntaps, then per tap:
//   j, out_lo, out_hi, in_lo, in_hi, first, n
// (rows of time-major memory; see LayerPlan, Tap and _run in conv_taps.py).

#include <ATen/ATen.h>
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
      const auto in = input_rows(h, layer, tap);
      y = layer.has_bias ? at::addmm(biases[l], in, kernel[tap.j]) : at::mm(in, kernel[tap.j]);
    } else {
      y = at::zeros({layer.count * layer.batch, kernel.size(2)}, h.options());
      if (layer.has_bias) y.add_(biases[l]);
    }
    for (int64_t i = 0; i < static_cast<int64_t>(layer.taps.size()); ++i) {
      if (i == layer.full) continue;
      const Tap& tap = layer.taps[i];
      rows(y, tap.out_lo, tap.out_hi).addmm_(input_rows(h, layer, tap), kernel[tap.j]);
    }
    if (layer.relu) y.relu_();
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
    if (layer.relu) g = at::threshold_backward(g, hs[l + 1], 0.0);  // the output is the mask
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
    if (layer.has_bias && wanted[2 + 2 * l]) grads[2 + 2 * l] = g.sum(0);
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
