// Native loops of seqnets' fused convolution runs (seqnets/layers/conv_taps.py).
//
// The computation of the Python loops of _ConvStack, without the interpreter's cost per
// operation, which at the chapter's sizes is as large as the operations themselves:
//
// - The batch is cut into `chunks` slices that run side by side on ATen's intra-op threads,
//   each through the whole run. Products this small (800 x 20 by 20 x 20) gain little from
//   threads inside one product; slices on separate cores pay one hand-off per run instead
//   of one per product. Weight and bias gradients are summed over the slices at the end.
// - Each slice is laid out time-major ([T, b, C] memory, row t*b + i is step t of sequence
//   i), so the input rows a tap reads, shifted by a dilation, are one block: each tap is one
//   matrix product over a block of rows, with no padding and no gathered copy.
// - Products run on raw memory (gemm.h: small AVX2 kernels for few channels, else the BLAS
//   that torch links, else ATen's mm); the bias and the ReLU, and their
//   gradients, are single passes over the rows.
//
// Results equal the Python loops to rounding (sums are taken in another order). Built on
// first use by seqnets/layers/native.py; registered as torch.ops.<library>.stack_*.
//
// A run is described by a flat list of integers, in steps (not rows), per layer:
//   length, count, strides, full, whole, relu, has_bias, ntaps, then per tap: j, lo, hi, first
// (see LayerPlan, Tap and _run in conv_taps.py): tap j writes output steps [lo, hi) from
// input steps first, first + strides, ...

#include <ATen/ATen.h>
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "gemm.h"
#include "slices.h"

using at::Tensor;

namespace {

struct Tap {
  int64_t j, lo, hi, first;
  int64_t n() const { return hi - lo; }
};

struct Layer {
  int64_t length, count, strides, full, whole;
  bool relu, has_bias;
  std::vector<Tap> taps;
};

std::vector<Layer> decode(c10::IntArrayRef code) {
  std::vector<Layer> layers;
  size_t i = 0;
  while (i < code.size()) {
    TORCH_CHECK(i + 8 <= code.size(), "conv_stack: truncated plan");
    Layer layer{code[i],     code[i + 1],      code[i + 2],      code[i + 3],
                code[i + 4], code[i + 5] != 0, code[i + 6] != 0, {}};
    const int64_t ntaps = code[i + 7];
    i += 8;
    TORCH_CHECK(i + 4 * ntaps <= code.size(), "conv_stack: truncated plan");
    for (int64_t t = 0; t < ntaps; ++t, i += 4) {
      layer.taps.push_back({code[i], code[i + 1], code[i + 2], code[i + 3]});
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

using seqnets_gemm::gemm;
using seqnets_slices::for_each_slice;
using seqnets_slices::Slice;
using seqnets_slices::slices;

// ---------------------------------------------------------------------------------------
// Passes over rows.

// y <- relu(y + bias) in one pass (either part optional); y is [rows, f]. Free of branches
// on the data, so that the loops vectorise.
template <typename T>
void bias_relu(T* __restrict__ y, int64_t rows, int64_t f, const T* __restrict__ bias,
               bool relu) {
  if (bias == nullptr && !relu) return;
  if (bias == nullptr) {
    for (int64_t i = 0; i < rows * f; ++i) y[i] = y[i] < 0 ? T(0) : y[i];
    return;
  }
  for (int64_t r = 0; r < rows; ++r, y += f) {
    if (relu) {
      for (int64_t c = 0; c < f; ++c) {
        const T v = y[c] + bias[c];
        y[c] = v < 0 ? T(0) : v;  // NaN stays NaN, as with torch.relu
      }
    } else {
      for (int64_t c = 0; c < f; ++c) y[c] += bias[c];
    }
  }
}

// g <- 0 where out <= 0 (the ReLU's gradient, as threshold_backward; out is the ReLU's
// output), in place
template <typename T>
void relu_grad(T* __restrict__ g, const T* __restrict__ out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const T v = g[i];  // loaded unconditionally, so the select vectorises
    g[i] = out[i] <= 0 ? T(0) : v;
  }
}

template <typename T, typename Acc>
void column_sums(const T* __restrict__ g, int64_t rows, int64_t f, Acc* __restrict__ sums) {
  for (int64_t r = 0; r < rows; ++r, g += f) {
    for (int64_t c = 0; c < f; ++c) sums[c] += g[c];
  }
}

// The input steps a strided tap reads, gathered into rows (time-major, `batch` rows a step)
template <typename T>
const T* gather_steps(const T* h, const Layer& layer, const Tap& tap, int64_t batch,
                      int64_t c, std::vector<T>& scratch) {
  const int64_t block = batch * c;
  if (layer.strides == 1) return h + tap.first * block;
  scratch.resize(tap.n() * block);
  for (int64_t i = 0; i < tap.n(); ++i) {
    const T* src = h + (tap.first + i * layer.strides) * block;
    std::copy(src, src + block, scratch.data() + i * block);
  }
  return scratch.data();
}

// ---------------------------------------------------------------------------------------
// One slice through the run.

// Tap indices with `writer` (a tap covering the whole result, or -1) first: it writes the
// result, the others add to it (no zero fill, one pass fewer).
std::vector<int64_t> writer_first(int64_t writer, size_t taps) {
  std::vector<int64_t> order;
  if (writer >= 0) order.push_back(writer);
  for (int64_t i = 0; i < static_cast<int64_t>(taps); ++i)
    if (i != writer) order.push_back(i);
  return order;
}


struct Shapes {
  std::vector<int64_t> in, out;  // channels entering and leaving each layer
};

// The slice's sequences of src [B, T, C] (any strides) as time-major rows [T * b, C]: a view
// of src when `in_place` allows it and src is time-major already, else a copy.
template <typename T>
Tensor time_major_rows(const Tensor& src, Slice slice, bool in_place) {
  const int64_t b = slice.size, steps = src.size(1), c = src.size(2);
  if (in_place && src.transpose(0, 1).is_contiguous()) {
    return src.transpose(0, 1).view({steps * b, c});
  }
  Tensor rows = at::empty({steps * b, c}, src.options());
  const T* from = src.data_ptr<T>();
  T* to = rows.data_ptr<T>();
  const int64_t sb = src.stride(0), st = src.stride(1), sc = src.stride(2);
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t i = 0; i < b; ++i) {
      const T* row = from + (slice.begin + i) * sb + t * st;
      T* out = to + (t * b + i) * c;
      for (int64_t ch = 0; ch < c; ++ch) out[ch] = row[ch * sc];
    }
  return rows;
}

// The slice's time-major rows [T * b, C] into its sequences of dst [B, T, C] (contiguous)
template <typename T>
void to_batch_major(const T* rows, Slice slice, int64_t steps, int64_t c, T* dst) {
  const int64_t b = slice.size;
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < steps; ++t)
      std::copy(rows + (t * b + i) * c, rows + (t * b + i + 1) * c,
                dst + ((slice.begin + i) * steps + t) * c);
}

// One slice through the run. With a single slice (`whole`), the input is read in place when
// it is time-major already, and y_out is left undefined: the caller returns a view of the
// last rows (no copies: at long sequences they cost as much as the products).
template <typename T>
void forward_slice(const Tensor& x, const std::vector<Layer>& layers,
                   const std::vector<Tensor>& kernels, const std::vector<const T*>& biases,
                   const Shapes& shapes, Slice slice, bool whole, Tensor* hs, Tensor& y_out) {
  const int64_t b = slice.size;
  auto opts = x.options();
  Tensor h = time_major_rows<T>(x, slice, whole);
  hs[0] = h;
  std::vector<T> scratch;
  for (size_t l = 0; l < layers.size(); ++l) {
    const Layer& layer = layers[l];
    const int64_t cin = shapes.in[l], f = shapes.out[l];
    const T* in = h.data_ptr<T>();
    const T* kernel = kernels[l].data_ptr<T>();  // [k, cin, f]
    Tensor y = at::empty({layer.count * b, f}, opts);
    T* out = y.data_ptr<T>();
    if (layer.full < 0) std::fill(out, out + layer.count * b * f, T(0));
    for (int64_t i : writer_first(layer.full, layer.taps.size())) {
      const Tap& tap = layer.taps[i];
      const T* rows = gather_steps(in, layer, tap, b, cin, scratch);
      gemm<T>(false, false, tap.n() * b, f, cin, rows, cin, kernel + tap.j * cin * f, f,
              i == layer.full ? T(0) : T(1), out + tap.lo * b * f, f);
    }
    bias_relu<T>(out, layer.count * b, f, layer.has_bias ? biases[l] : nullptr, layer.relu);
    hs[l + 1] = y;
    h = y;
  }
  if (!whole) {
    to_batch_major(h.data_ptr<T>(), slice, layers.back().count, shapes.out.back(),
                   y_out.data_ptr<T>());
  }
}

template <typename T>
struct SliceGrads {
  std::vector<std::vector<T>> weights;  // per layer [k, f, cin]
  std::vector<std::vector<at::acc_type<T, false>>> biases;  // per layer [f]
};

// One slice back through the run. With a single slice (`whole`), dx is set to a view of the
// time-major input-gradient rows instead of a batch-major copy, and a time-major output
// gradient is read in place when the last layer has no ReLU (whose mask writes into it).
template <typename T>
void backward_slice(const Tensor& dy, const Tensor* hs, const std::vector<Layer>& layers,
                    const std::vector<Tensor>& kernels, const Shapes& shapes,
                    c10::IntArrayRef wanted, Slice slice, bool whole, SliceGrads<T>& grads,
                    Tensor& dx) {
  const int64_t b = slice.size, n = static_cast<int64_t>(layers.size());
  // the slice's output gradient, time-major (a copy where the last ReLU's mask writes in it)
  Tensor g_rows = time_major_rows<T>(dy, slice, whole && !layers.back().relu), dh_rows;
  std::vector<T> scratch;
  for (int64_t l = n - 1; l >= 0; --l) {
    const Layer& layer = layers[l];
    const int64_t cin = shapes.in[l], f = shapes.out[l];
    const T* kernel = kernels[l].data_ptr<T>();
    const T* h = hs[l].data_ptr<T>();
    const int64_t out_rows = layer.count * b;
    T* g = g_rows.data_ptr<T>();
    if (layer.relu) relu_grad<T>(g, hs[l + 1].data_ptr<T>(), out_rows * f);
    if (layer.has_bias && wanted[2 + 2 * l]) {
      column_sums(g, out_rows, f, grads.biases[l].data());
    }
    if (wanted[1 + 2 * l]) {
      T* dw = grads.weights[l].data();
      for (const Tap& tap : layer.taps) {  // dW_j [f, cin] = g' h, over the tap's rows
        const T* rows = gather_steps(h, layer, tap, b, cin, scratch);
        gemm<T>(true, false, f, cin, tap.n() * b, g + tap.lo * b * f, f, rows, cin, T(0),
                dw + tap.j * f * cin, cin);
      }
    }
    if (l == 0 && !wanted[0]) return;
    dh_rows = layer.whole < 0 ? at::zeros({layer.length * b, cin}, dy.options())
                              : at::empty({layer.length * b, cin}, dy.options());
    T* dh = dh_rows.data_ptr<T>();
    for (int64_t i : writer_first(layer.whole, layer.taps.size())) {
      const Tap& tap = layer.taps[i];
      const T* g_tap = g + tap.lo * b * f;
      const T* k_j = kernel + tap.j * cin * f;  // [cin, f]: dh = g k_j'
      if (layer.strides == 1) {
        gemm<T>(false, true, tap.n() * b, cin, f, g_tap, f, k_j, f,
                i == layer.whole ? T(0) : T(1), dh + tap.first * b * cin, cin);
      } else {
        scratch.resize(tap.n() * b * cin);
        gemm<T>(false, true, tap.n() * b, cin, f, g_tap, f, k_j, f, T(0), scratch.data(),
                cin);
        for (int64_t s = 0; s < tap.n(); ++s) {
          T* to = dh + (tap.first + s * layer.strides) * b * cin;
          const T* from = scratch.data() + s * b * cin;
          for (int64_t e = 0; e < b * cin; ++e) to[e] += from[e];
        }
      }
    }
    g_rows = dh_rows;
  }
  // the input gradient into the batch-major result
  const int64_t steps = layers[0].length, c0 = shapes.in[0];
  if (whole) {
    dx = g_rows.view({steps, b, c0}).transpose(0, 1);
  } else {
    to_batch_major(g_rows.data_ptr<T>(), slice, steps, c0, dx.data_ptr<T>());
  }
}

Shapes shapes_of(const std::vector<Tensor>& kernels) {
  Shapes s;
  for (const auto& k : kernels) {
    s.in.push_back(k.size(1));
    s.out.push_back(k.size(2));
  }
  return s;
}

}  // namespace

// x: [B, T, C] (any strides). Returns the output [B, T', F] (contiguous over several slices,
// a view of time-major rows with one), then each layer's
// kernels as [k, C, F] memory (n tensors), then per batch slice the rows entering every
// layer and the last layer's output (chunks x (n + 1) tensors, time-major).
// biases: one per layer, any tensor where the layer has none.
std::vector<Tensor> stack_forward(const Tensor& x, at::TensorList weights, at::TensorList biases,
                                  c10::IntArrayRef code, int64_t chunks) {
  const auto layers = decode(code);
  const size_t n = layers.size();
  TORCH_CHECK(n > 0 && weights.size() == n && biases.size() == n,
              "conv_stack: one weight and one bias per layer");
  TORCH_CHECK(x.device().is_cpu(), "conv_stack: the native loops run on CPU tensors");
  TORCH_CHECK(x.dim() == 3 && x.size(1) == layers[0].length, "conv_stack: input [B, T, C] "
              "with the plan's length expected");
  std::vector<Tensor> kernels, bias_data;
  for (size_t l = 0; l < n; ++l) {
    // a copy, not a view of the parameter, so that later in-place updates cannot reach it
    auto kernel = weights[l].permute({2, 1, 0});
    kernels.push_back(kernel.is_contiguous() ? kernel.clone() : kernel.contiguous());
    bias_data.push_back(layers[l].has_bias ? biases[l].contiguous() : Tensor());
  }
  const Shapes shapes = shapes_of(kernels);
  for (size_t l = 0; l < n; ++l) {  // what the loops index must be there
    bool taps_fit = true;
    for (const Tap& tap : layers[l].taps) taps_fit = taps_fit && tap.j < kernels[l].size(0);
    TORCH_CHECK(shapes.in[l] == (l == 0 ? x.size(2) : shapes.out[l - 1]) && taps_fit,
                "conv_stack: layer ", l, "'s weight does not match its input or the plan");
    TORCH_CHECK(!layers[l].has_bias || biases[l].numel() == shapes.out[l],
                "conv_stack: layer ", l, "'s bias does not match its filters");
  }
  const auto parts = slices(x.size(0), chunks);
  const int64_t per = static_cast<int64_t>(n) + 1;
  std::vector<Tensor> hs(parts.size() * per);
  const bool whole = parts.size() == 1;
  Tensor y = whole ? Tensor()
                   : at::empty({x.size(0), layers.back().count, shapes.out.back()}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "seqnets_stack_forward", [&] {
    std::vector<const scalar_t*> bias_ptrs;
    for (const auto& bias : bias_data)
      bias_ptrs.push_back(bias.defined() ? bias.data_ptr<scalar_t>() : nullptr);
    for_each_slice(static_cast<int64_t>(parts.size()), [&](int64_t p) {
      forward_slice<scalar_t>(x, layers, kernels, bias_ptrs, shapes, parts[p], whole,
                              hs.data() + p * per, y);
    });
  });
  if (whole) {
    y = hs[n].view({layers.back().count, x.size(0), shapes.out.back()}).transpose(0, 1);
  }
  std::vector<Tensor> result{y};
  result.insert(result.end(), kernels.begin(), kernels.end());
  result.insert(result.end(), hs.begin(), hs.end());
  return result;
}

// Returns [d input [B, T, C], d weight 0, d bias 0, d weight 1, ...]; None where not
// wanted (wanted has the same layout). hs: what stack_forward returned per slice.
std::vector<std::optional<Tensor>> stack_backward(const Tensor& dy, at::TensorList hs,
                                                  at::TensorList kernel_list,
                                                  c10::IntArrayRef code,
                                                  c10::IntArrayRef wanted) {
  const auto layers = decode(code);
  const int64_t n = static_cast<int64_t>(layers.size()), per = n + 1;
  const std::vector<Tensor> kernels(kernel_list.begin(), kernel_list.end());
  TORCH_CHECK(n > 0 && static_cast<int64_t>(hs.size()) % per == 0 &&
                  static_cast<int64_t>(kernels.size()) == n &&
                  static_cast<int64_t>(wanted.size()) == 1 + 2 * n,
              "conv_stack: saved tensors do not match the plan");
  const Shapes shapes = shapes_of(kernels);
  std::vector<Slice> parts;
  int64_t batch = 0;
  for (size_t p = 0; p < hs.size() / per; ++p) {
    const int64_t size = hs[p * per].size(0) / layers[0].length;
    parts.push_back({batch, size});
    batch += size;
  }
  TORCH_CHECK(dy.dim() == 3 && dy.size(0) == batch && dy.size(1) == layers.back().count &&
                  dy.size(2) == shapes.out.back(),
              "conv_stack: output gradient of the wrong shape");
  std::vector<std::optional<Tensor>> grads(1 + 2 * n);
  const bool whole = parts.size() == 1;
  Tensor dx = wanted[0] && !whole
                  ? at::empty({batch, layers[0].length, shapes.in[0]}, dy.options())
                  : Tensor();
  AT_DISPATCH_FLOATING_TYPES(dy.scalar_type(), "seqnets_stack_backward", [&] {
    using acc_t = at::acc_type<scalar_t, false>;
    std::vector<SliceGrads<scalar_t>> slice_grads(parts.size());
    for (auto& sg : slice_grads) {
      for (int64_t l = 0; l < n; ++l) {
        const int64_t f = shapes.out[l];
        // taps reading only padding keep their zeros
        sg.weights.emplace_back(wanted[1 + 2 * l] ? kernels[l].numel() : 0, scalar_t(0));
        sg.biases.emplace_back(wanted[2 + 2 * l] ? f : 0, acc_t(0));
      }
    }
    for_each_slice(static_cast<int64_t>(parts.size()), [&](int64_t p) {
      backward_slice<scalar_t>(dy, hs.data() + p * per, layers, kernels, shapes, wanted,
                               parts[p], whole, slice_grads[p], dx);
    });
    for (int64_t l = 0; l < n; ++l) {
      const int64_t k = kernels[l].size(0), cin = shapes.in[l], f = shapes.out[l];
      if (wanted[1 + 2 * l]) {
        Tensor dw = at::empty({f, cin, k}, dy.options());  // the parameter's layout
        scalar_t* out = dw.data_ptr<scalar_t>();
        for (int64_t o = 0; o < f; ++o)
          for (int64_t c = 0; c < cin; ++c)
            for (int64_t j = 0; j < k; ++j) {
              scalar_t total = 0;
              for (const auto& sg : slice_grads) total += sg.weights[l][(j * f + o) * cin + c];
              out[(o * cin + c) * k + j] = total;
            }
        grads[1 + 2 * l] = dw;
      }
      if (layers[l].has_bias && wanted[2 + 2 * l]) {
        Tensor db = at::empty({f}, dy.options());
        scalar_t* out = db.data_ptr<scalar_t>();
        for (int64_t o = 0; o < f; ++o) {
          acc_t total = 0;
          for (const auto& sg : slice_grads) total += sg.biases[l][o];
          out[o] = static_cast<scalar_t>(total);
        }
        grads[2 + 2 * l] = db;
      }
    }
  });
  if (wanted[0]) grads[0] = dx;
  return grads;
}

// The route of the float32 products: 2 the AVX2 kernels where they apply, 1 torch's BLAS,
// 0 ATen's mm (see gemm.h); `use` >= 0 sets the preference first, -1 only asks.
int64_t products(int64_t use) { return seqnets_gemm::products_mode(use); }

// SEQNETS_LIBRARY is defined by the loader: the library name carries the source's hash.
TORCH_LIBRARY(SEQNETS_LIBRARY, m) {
  m.def("stack_forward(Tensor x, Tensor[] weights, Tensor[] biases, int[] code, int chunks) "
        "-> Tensor[]",
        &stack_forward);
  m.def("stack_backward(Tensor dy, Tensor[] hs, Tensor[] kernels, int[] code, int[] wanted) "
        "-> Tensor?[]",
        &stack_backward);
  m.def("products(int use) -> int", &products);
}
