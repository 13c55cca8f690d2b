"""Forward + backward of reductions over one dim (sum, mean, max, var, logsumexp, cumsum) of a
1000x1000 float32 tensor in ndgrad and in PyTorch on the CPU: the median of repeats and the ratio.

    python benchmarks/bench_reduce.py            # print a markdown table
    python benchmarks/bench_reduce.py --record   # also append it, dated, to benchmarks/RESULTS.md
"""
from __future__ import annotations

import numpy as np
import torch

import ndgrad
from _timing import median_ms, parse_args, publish, row

SHAPE = (1000, 1000)
CASES = {
    "sum(dim=1)": lambda x: x.sum(1),
    "mean(dim=1)": lambda x: x.mean(1),
    "max(dim=1).values": lambda x: x.max(1)[0],
    "var(dim=1)": lambda x: x.var(1),
    "logsumexp(dim=1)": lambda x: x.logsumexp(1),
    "logsumexp(dim=0)": lambda x: x.logsumexp(0),
    "cumsum(dim=1)": lambda x: x.cumsum(1),
    "cumsum(dim=0)": lambda x: x.cumsum(0),
}


def make_step(lib, fn, a):
    x = lib.tensor(a, requires_grad=True)

    def step():
        x.grad = None
        out = fn(x)
        out.backward(lib.ones_like(out))
        return x.grad
    return step


def main():
    args = parse_args(__doc__, 20)
    a = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    rows = []
    for name, fn in CASES.items():
        if args.k not in name:
            continue
        nd_step, th_step = make_step(ndgrad, fn, a), make_step(torch, fn, a)
        np.testing.assert_allclose(nd_step().numpy(), th_step().numpy(), rtol=1e-3, atol=1e-3)
        nd, th = median_ms((nd_step, th_step), args.repeats)
        rows.append(row(name, nd, th))
    publish("bench_reduce", "fwd+bwd, 1000x1000 float32 | ndgrad (ms) | torch CPU (ms) | ratio", rows,
            args)

if __name__ == "__main__":
    main()
