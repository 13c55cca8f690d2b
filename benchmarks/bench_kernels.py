"""The floor under bench_math: one NumPy float32 ufunc against PyTorch's kernel for the same
function, forward only, on 1e6 elements, both on one thread: the median of repeats and their
ratio.

ndgrad computes each elementwise op with NumPy's loops, so where NumPy's loop for the op's
function alone is more than twice PyTorch's, no arrangement of NumPy calls brings that op's
forward + backward within 2x of PyTorch's: the backward only adds passes to the forward's.

    python benchmarks/bench_kernels.py            # print a markdown table
    python benchmarks/bench_kernels.py --record   # also append it, dated, to benchmarks/RESULTS.md
"""
from __future__ import annotations

import numpy as np
import torch

from _timing import median_ms, parse_args, publish, row

N = 1_000_000

# name -> (NumPy ufunc, PyTorch function, domain of x)
CASES = {
    "exp": (np.exp, torch.exp, "any"),
    "exp2": (np.exp2, torch.exp2, "any"),
    "expm1": (np.expm1, torch.expm1, "any"),
    "log": (np.log, torch.log, "positive"),
    "log2": (np.log2, torch.log2, "positive"),
    "log10": (np.log10, torch.log10, "positive"),
    "log1p": (np.log1p, torch.log1p, "positive"),
    "sin": (np.sin, torch.sin, "any"),
    "cos": (np.cos, torch.cos, "any"),
    "tan": (np.tan, torch.tan, "any"),
    "asin": (np.arcsin, torch.asin, "unit"),
    "acos": (np.arccos, torch.acos, "unit"),
    "atan": (np.arctan, torch.atan, "any"),
    "sinh": (np.sinh, torch.sinh, "any"),
    "cosh": (np.cosh, torch.cosh, "any"),
    "tanh": (np.tanh, torch.tanh, "any"),
    "atanh": (np.arctanh, torch.atanh, "unit"),
    "sqrt": (np.sqrt, torch.sqrt, "positive"),
    "reciprocal": (np.reciprocal, torch.reciprocal, "positive"),
    "negative": (np.negative, torch.neg, "any"),
}


def inputs(rng, domain):
    lo, hi = {"any": (-2, 2), "positive": (0.1, 3.0), "unit": (0.01, 0.99)}[domain]
    return rng.uniform(lo, hi, N).astype(np.float32)


def main():
    args = parse_args(__doc__, 21)
    torch.set_num_threads(1)  # NumPy's loops run on one thread
    rng = np.random.default_rng(0)
    rows = []
    for name, (uf, tf, domain) in CASES.items():
        if args.k not in name:
            continue
        x = inputs(rng, domain)
        tx = torch.from_numpy(x)
        np.testing.assert_allclose(uf(x), tf(tx).numpy(), rtol=1e-5, atol=1e-6)
        nd, th = median_ms((lambda: uf(x), lambda: tf(tx)), args.repeats)
        rows.append(row(name, nd, th))
    publish("bench_kernels", "function, forward, 1e6 float32, one thread | NumPy ufunc (ms) | "
            "torch CPU (ms) | ratio", rows, args)

if __name__ == "__main__":
    main()
