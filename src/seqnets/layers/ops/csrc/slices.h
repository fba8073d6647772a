// Batch slices for seqnets' native loops: the batch is cut into slices that run side by
// side on ATen's intra-op threads, each through the whole computation (a convolution run,
// a recurrent layer's time loop), so that the threads meet once per call rather than once
// per small operation. How many slices: seqnets.layers.native.slice_count.

#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace seqnets_slices {

struct Slice {
  int64_t begin, size;  // sequences [begin, begin + size) of the batch
};

// `chunks` slices of nearly equal size (at least one, at most one per sequence)
inline std::vector<Slice> slices(int64_t batch, int64_t chunks) {
  chunks = std::max<int64_t>(1, std::min(chunks, std::max<int64_t>(batch, 1)));
  std::vector<Slice> out;
  int64_t begin = 0;
  for (int64_t p = 0; p < chunks; ++p) {
    const int64_t size = batch / chunks + (p < batch % chunks ? 1 : 0);
    out.push_back({begin, size});
    begin += size;
  }
  return out;
}

// run(p) for every slice p, side by side on the intra-op threads when there are several
template <typename F>
void for_each_slice(int64_t count, const F& run) {
  if (count == 1) {
    run(0);
    return;
  }
  at::parallel_for(0, count, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) run(p);
  });
}

}  // namespace seqnets_slices
