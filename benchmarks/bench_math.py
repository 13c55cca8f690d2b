"""Forward + backward of elementwise math ops on 1e6-element float32 tensors, in ndgrad and in
PyTorch on the CPU: the median of repeats and their ratio.

    python benchmarks/bench_math.py            # print a markdown table
    python benchmarks/bench_math.py --record   # also append it, dated, to benchmarks/RESULTS.md
"""
from __future__ import annotations

import numpy as np
import torch

import ndgrad
from _timing import median_ms, parse_args, publish, row

N = 1_000_000

# name -> (function of (lib, x, y, z), domain of x)
CASES = {
    "exp": (lambda t, x, y, z: t.exp(x), "any"),
    "log": (lambda t, x, y, z: t.log(x), "positive"),
    "log2": (lambda t, x, y, z: t.log2(x), "positive"),
    "log10": (lambda t, x, y, z: t.log10(x), "positive"),
    "sqrt": (lambda t, x, y, z: t.sqrt(x), "positive"),
    "square": (lambda t, x, y, z: t.square(x), "any"),
    "reciprocal": (lambda t, x, y, z: t.reciprocal(x), "positive"),
    "abs": (lambda t, x, y, z: t.abs(x), "any"),
    "neg": (lambda t, x, y, z: t.neg(x), "any"),
    "sign": (lambda t, x, y, z: t.sign(x), "any"),
    "sin": (lambda t, x, y, z: t.sin(x), "any"),
    "cos": (lambda t, x, y, z: t.cos(x), "any"),
    "asin": (lambda t, x, y, z: t.asin(x), "unit"),
    "acos": (lambda t, x, y, z: t.acos(x), "unit"),
    "tanh": (lambda t, x, y, z: t.tanh(x), "any"),
    "acosh": (lambda t, x, y, z: t.acosh(x), "positive1"),
    "sigmoid": (lambda t, x, y, z: t.sigmoid(x), "any"),
    "floor": (lambda t, x, y, z: t.floor(x), "any"),
    "ceil": (lambda t, x, y, z: t.ceil(x), "any"),
    "round": (lambda t, x, y, z: t.round(x), "any"),
    "trunc": (lambda t, x, y, z: t.trunc(x), "any"),
    "relu": (lambda t, x, y, z: t.relu(x), "any"),
    "softplus": (lambda t, x, y, z: t.nn.functional.softplus(x), "any"),
    "silu": (lambda t, x, y, z: t.nn.functional.silu(x), "any"),
    "mish": (lambda t, x, y, z: t.nn.functional.mish(x), "any"),
    "elu": (lambda t, x, y, z: t.nn.functional.elu(x), "any"),
    "selu": (lambda t, x, y, z: t.nn.functional.selu(x), "any"),
    "celu": (lambda t, x, y, z: t.nn.functional.celu(x, 0.5), "any"),
    "logsigmoid": (lambda t, x, y, z: t.nn.functional.logsigmoid(x), "any"),
    "leaky_relu": (lambda t, x, y, z: t.nn.functional.leaky_relu(x), "any"),
    "relu6": (lambda t, x, y, z: t.nn.functional.relu6(x), "any"),
    "hardsigmoid": (lambda t, x, y, z: t.nn.functional.hardsigmoid(x), "any"),
    "hardswish": (lambda t, x, y, z: t.nn.functional.hardswish(x), "any"),
    "softsign": (lambda t, x, y, z: t.nn.functional.softsign(x), "any"),
    "softmax(1000x1000, -1)":
        (lambda t, x, y, z: t.nn.functional.softmax(x.view(1000, 1000), -1).view(-1), "any"),
    "log_softmax(1000x1000, -1)":
        (lambda t, x, y, z: t.nn.functional.log_softmax(x.view(1000, 1000), -1).view(-1), "any"),
    "add": (lambda t, x, y, z: t.add(x, y), "any"),
    "mul": (lambda t, x, y, z: t.mul(x, y), "any"),
    "div": (lambda t, x, y, z: t.div(x, y), "positive"),
    "pow(tensor, tensor)": (lambda t, x, y, z: t.pow(x, y), "positive"),
    "pow(tensor, 3)": (lambda t, x, y, z: t.pow(x, 3), "any"),
    "where": (lambda t, x, y, z: t.where(x > 0, x, y), "any"),
    "exp2": (lambda t, x, y, z: t.exp2(x), "any"),
    "expm1": (lambda t, x, y, z: t.expm1(x), "any"),
    "log1p": (lambda t, x, y, z: t.log1p(x), "positive"),
    "log1p(-unit)": (lambda t, x, y, z: t.log1p(-x), "unit"),
    "asinh(1e3 x)": (lambda t, x, y, z: t.asinh(x * 1e3), "any"),
    "rsqrt": (lambda t, x, y, z: t.rsqrt(x), "positive"),
    "tan": (lambda t, x, y, z: t.tan(x), "any"),
    "atan": (lambda t, x, y, z: t.atan(x), "any"),
    "sinh": (lambda t, x, y, z: t.sinh(x), "any"),
    "cosh": (lambda t, x, y, z: t.cosh(x), "any"),
    "asinh": (lambda t, x, y, z: t.asinh(x), "any"),
    "atanh": (lambda t, x, y, z: t.atanh(x), "unit"),
    "logit(eps)": (lambda t, x, y, z: t.logit(x, 1e-3), "unit"),
    "erf": (lambda t, x, y, z: t.erf(x), "any"),
    "erfc": (lambda t, x, y, z: t.erfc(x), "any"),
    "gelu": (lambda t, x, y, z: t.nn.functional.gelu(x), "any"),
    "gelu(tanh)": (lambda t, x, y, z: t.nn.functional.gelu(x, approximate="tanh"), "any"),
    "frac": (lambda t, x, y, z: t.frac(x), "any"),
    "clamp(-.5, .5)": (lambda t, x, y, z: t.clamp(x, -0.5, 0.5), "any"),
    "clamp(tensor, tensor)": (lambda t, x, y, z: t.clamp(x, y, y + 1), "any"),
    "nan_to_num": (lambda t, x, y, z: t.nan_to_num(x), "any"),
    "remainder": (lambda t, x, y, z: t.remainder(x, y), "any"),
    "atan2": (lambda t, x, y, z: t.atan2(x, y), "any"),
    "maximum": (lambda t, x, y, z: t.maximum(x, y), "any"),
    "fmax": (lambda t, x, y, z: t.fmax(x, y), "any"),
    "hypot": (lambda t, x, y, z: t.hypot(x, y), "any"),
    "logaddexp": (lambda t, x, y, z: t.logaddexp(x, y), "any"),
    "lerp(tensor weight)": (lambda t, x, y, z: t.lerp(x, y, z), "any"),
    "lerp(0.3)": (lambda t, x, y, z: t.lerp(x, y, 0.3), "any"),
    "remainder(0.7)": (lambda t, x, y, z: t.remainder(x, 0.7), "any"),
    "tan(10 x)": (lambda t, x, y, z: t.tan(x * 10), "any"),
    "atan(10 x)": (lambda t, x, y, z: t.atan(x * 10), "any"),
    "addcmul": (lambda t, x, y, z: t.addcmul(x, y, z, value=0.5), "any"),
    "addcdiv": (lambda t, x, y, z: t.addcdiv(x, y, z, value=0.5), "positive"),
}


def make_step(lib, fn, arrays, gout):
    x, y, z = (lib.tensor(a, requires_grad=True) for a in arrays)
    g = lib.tensor(gout)

    def step():
        for p in (x, y, z):
            p.grad = None
        fn(lib, x, y, z).backward(g)
        return x.grad
    return step


def inputs(rng, domain):
    if domain == "positive":
        xs = [rng.uniform(0.1, 3.0, N) for _ in range(3)]
    elif domain == "unit":
        xs = [rng.uniform(0.01, 0.99, N)] + [rng.uniform(-2, 2, N) for _ in range(2)]
    elif domain == "positive1":
        xs = [rng.uniform(1.1, 3.0, N) for _ in range(3)]
    else:
        xs = [rng.uniform(-2, 2, N) for _ in range(3)]
    return [a.astype(np.float32) for a in xs]


def main():
    args = parse_args(__doc__, 15)
    rng = np.random.default_rng(0)
    gout = rng.uniform(-1, 1, N).astype(np.float32)
    rows = []
    for name, (fn, domain) in CASES.items():
        if args.k not in name:
            continue
        arrays = inputs(rng, domain)
        nd_step, th_step = make_step(ndgrad, fn, arrays, gout), make_step(torch, fn, arrays, gout)
        np.testing.assert_allclose(nd_step().numpy(), th_step().numpy(), rtol=1e-4, atol=1e-4)
        nd, th = median_ms((nd_step, th_step), args.repeats)
        rows.append(row(name, nd, th))
    publish("bench_math", "op, fwd+bwd, 1e6 float32 | ndgrad (ms) | torch CPU (ms) | ratio", rows,
            args)

if __name__ == "__main__":
    main()
