"""The scalar workloads in micrograd: Value objects and micrograd.nn.MLP, as in its demo notebook."""
import sys

from micrograd.engine import Value
from micrograd.nn import MLP

from workloads import LR, data

# NOTE: Value.backward sorts the graph recursively; op_chain and the MLP are deeper than Python's
# default limit of 1,000 frames.
sys.setrecursionlimit(100_000)

SUBSTITUTED = {"op_chain": "micrograd has no sin: its chain uses relu in place of sin"}


def seed_regression():
    x, y = [1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 5.0, 7.0, 9.0, 11.0]

    def run():
        a, b = Value(1.0), Value(1.0)
        for _ in range(100):
            loss = sum((a * xi + b - yi) ** 2 for xi, yi in zip(x, y)) * (1 / len(x))
            a.grad = b.grad = 0
            loss.backward()
            a.data -= 0.1 * a.grad
            b.data -= 0.1 * b.grad
        return loss.data
    return run


def seed_descent():
    def run():
        x = Value(3.0)
        for _ in range(50):
            y = x ** 2
            x.grad = 0
            y.backward()
            x.data -= 0.1 * x.grad
        return x.data
    return run


def op_chain():
    def run():
        x = Value(0.5)
        y = x
        for _ in range(250):
            y = y * 1.001
            y = y + 0.001
            y = y.relu()
            y = y - 0.001
        y.backward()
        return x.grad
    return run


def scalar_mlp_step():
    d = data("scalar_mlp_step")
    inputs = [list(map(Value, row)) for row in d["x"].tolist()]
    ys = d["y"].tolist()
    model = MLP(2, [16, 16, 1])
    init = [v for w, b in zip(d["params"][::2], d["params"][1::2])
            for row, bj in zip(w.tolist(), b.tolist()) for v in row + [bj]]
    for p, v in zip(model.parameters(), init, strict=True):
        p.data = v

    def step():
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        return loss.data
    return step


WORKLOADS = {"seed_regression": seed_regression, "seed_descent": seed_descent, "op_chain": op_chain,
             "scalar_mlp_step": scalar_mlp_step}
