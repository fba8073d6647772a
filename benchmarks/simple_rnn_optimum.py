"""How low can SimpleRNN(1) go? A multi-start search of its 3-parameter loss (float64).

The chapter's row 3 bar is a mean validation MSE <= 0.011 over seeds 42, 7 and 1. This
script trains 64 independent copies of the model h_t = tanh(w x_t + u h_{t-1} + b) (output
h_50) per seed, from starts drawn uniformly in w in [-3, 3], u in [-2, 2], b in [-1, 1],
full-batch Adam on the TRAINING set (800 steps, learning rate 0.05 then 0.005), and prints
the best training loss reached, that point's validation MSE, the best validation MSE of any
converged start, and how many starts reached the best training loss within 1%.

    .venv/bin/python benchmarks/simple_rnn_optimum.py      # about 16 min on 1 core
    .venv/bin/python benchmarks/simple_rnn_optimum.py --valid-floor   # about 1 min

``--valid-floor`` fits the 3 parameters to the VALIDATION set itself (16 starts per seed):
the lowest validation MSE any weights can have, a floor under every training recipe,
early stopping on validation included (an analysis, never a way to train).

Recorded output: benchmarks/results/chapter/simple_rnn_optimum.txt.
"""

import sys

import torch

from seqnets.data.synthetic import chapter_splits

torch.set_num_threads(1)


def run(w, u, b, x):
    h = torch.zeros(x.shape[0], w.shape[0], dtype=torch.float64)
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t, :1] * w + h * u + b)   # [B, starts]: every start at once
    return h


def search(x, y, starts: int):
    """Full-batch Adam on ``(x, y)`` from ``starts`` random points; (w, u, b) at the end."""
    g = torch.Generator().manual_seed(0)
    w = (torch.rand(starts, generator=g, dtype=torch.float64) * 6 - 3).requires_grad_()
    u = (torch.rand(starts, generator=g, dtype=torch.float64) * 4 - 2).requires_grad_()
    b = (torch.rand(starts, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
    opt = torch.optim.Adam([w, u, b], lr=0.05)
    for it in range(800):
        opt.zero_grad()
        loss = ((run(w, u, b, x) - y) ** 2).mean(0)   # one loss per start
        loss.sum().backward()
        opt.step()
        if it == 600:
            for group in opt.param_groups:
                group["lr"] = 0.005
    return w.detach(), u.detach(), b.detach()


def main() -> None:
    floor = "--valid-floor" in sys.argv[1:]
    for seed in [42, 7, 1]:
        s = chapter_splits("next_value", seed=seed)
        xtr = torch.tensor(s.train[0], dtype=torch.float64)
        ytr = torch.tensor(s.train[1], dtype=torch.float64).reshape(-1, 1)
        xva = torch.tensor(s.valid[0], dtype=torch.float64)
        yva = torch.tensor(s.valid[1], dtype=torch.float64).reshape(-1, 1)
        if floor:
            w, u, b = search(xva, yva, 16)
            with torch.no_grad():
                va = ((run(w, u, b, xva) - yva) ** 2).mean(0)
            j = int(torch.argmin(va))
            print(f"seed {seed}: lowest validation MSE reachable by any (w, u, b): "
                  f"{va[j]:.5f} at w={w[j]:.3f} u={u[j]:.3f} b={b[j]:.3f}", flush=True)
            continue
        w, u, b = search(xtr, ytr, 64)
        with torch.no_grad():
            tr = ((run(w, u, b, xtr) - ytr) ** 2).mean(0)
            va = ((run(w, u, b, xva) - yva) ** 2).mean(0)
        i, j = int(torch.argmin(tr)), int(torch.argmin(va))
        print(f"seed {seed}: best train {tr[i]:.5f} (valid {va[i]:.5f}) at w={w[i]:.3f} "
              f"u={u[i]:.3f} b={b[i]:.3f}; best valid over all starts {va[j]:.5f}; "
              f"#starts within 1% of best train {(tr < tr[i] * 1.01).sum()}", flush=True)


if __name__ == "__main__":
    main()
