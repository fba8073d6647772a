"""How layers run on this machine: :mod:`.dispatch` alone decides between the native (C++)
loops (:mod:`.native`, built from ``csrc/``), the numba loops (:mod:`.numba_loops`,
:mod:`.numba_generation`) and PyTorch, and how many CPU threads training takes. The kernels
behind the layers: :mod:`.conv` (tap products and fused convolution runs) and
:mod:`.recurrent` (the compiled time loops). Layer modules import only their own kernels and
:mod:`.dispatch`; nothing here imports a layer class."""
