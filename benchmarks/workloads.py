"""Benchmark workloads, each written once against the PyTorch API (`torch` is a parameter, bound
to ndgrad or to PyTorch), plus hand-written NumPy forward+backward versions as the floor.
`data(name)` makes the fixed-seed arrays that every library, peers/ included, starts from."""
from typing import Callable, NamedTuple

import numpy as np


# -- 1. the seed's linear regression, 100 epochs ------------------------------------------------
def seed_regression(torch):
    x = torch.tensor([1, 2, 3, 4, 5], dtype=torch.float)
    y = torch.tensor([3, 5, 7, 9, 11], dtype=torch.float)
    a = torch.tensor([1], dtype=torch.float, requires_grad=True)
    b = torch.tensor([1], dtype=torch.float, requires_grad=True)
    lr = 0.1
    for epoch in range(100):
        y_pred = a * x + b
        loss = ((y_pred - y) ** 2).mean()
        if a.grad is not None and b.grad is not None:
            a.grad.zero_()
            b.grad.zero_()
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
    return loss.item()


def seed_regression_numpy():
    x = np.array([1, 2, 3, 4, 5], np.float32)
    y = np.array([3, 5, 7, 9, 11], np.float32)
    a = np.ones(1, np.float32)
    b = np.ones(1, np.float32)
    lr = np.float32(0.1)
    for epoch in range(100):
        r = a * x + b - y
        loss = (r ** 2).mean()
        g = 2 * r / r.size
        a -= lr * (g * x).sum(keepdims=True).reshape(1)
        b -= lr * g.sum(keepdims=True).reshape(1)
    return float(loss)


# -- 2. the seed's gradient descent on x**2, 50 epochs -----------------------------------------
def seed_descent(torch):
    x = torch.tensor(3.0, requires_grad=True)
    lr = 0.1
    for epoch in range(50):
        y = x ** 2
        if x.grad is not None:
            x.grad.zero_()
        y.backward()
        with torch.no_grad():
            x -= lr * x.grad
    return x.item()


def seed_descent_numpy():
    x = np.float32(3.0)
    for epoch in range(50):
        y = x * x
        x = x - np.float32(0.1) * (2 * x)
    return float(x)


# -- 3. a chain of 1,000 small elementwise ops, forward + backward -----------------------------
def op_chain(torch):
    x = torch.tensor([0.5], requires_grad=True)
    y = x
    for i in range(250):
        y = y * 1.001
        y = y + 0.001
        y = y.sin()
        y = y - 0.001
    y.sum().backward()
    return x.grad.item()


def op_chain_numpy():
    x = np.array([0.5], np.float32)
    ys = []
    y = x
    for i in range(250):
        y = y * np.float32(1.001)
        y = y + np.float32(0.001)
        ys.append(y)
        y = np.sin(y)
        y = y - np.float32(0.001)
    g = np.ones(1, np.float32)
    for pre in reversed(ys):
        g = g * np.cos(pre)
        g = g * np.float32(1.001)
    return float(g[0])


# -- shared data: every library gets the same NumPy-generated arrays ----------------------------
LR = 0.01


def data(name: str) -> dict:
    """The fixed-seed inputs and initial parameters of a workload, as NumPy arrays."""
    if name == "mlp_step":
        rng = np.random.default_rng(4)
        sizes = [784, 256, 128, 10]
        params = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            params.append((rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype(np.float32))
            params.append(np.zeros(n_out, np.float32))
        return {"x": rng.standard_normal((64, 784)).astype(np.float32),
                "y": rng.integers(0, 10, 64), "params": params}
    if name == "blas_step":
        rng = np.random.default_rng(5)
        n = 2048
        return {"x": rng.standard_normal((n, n)).astype(np.float32),
                "params": [(rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
                           for _ in range(3)]}
    if name == "scalar_mlp_step":
        rng = np.random.default_rng(6)
        # NOTE: two interleaved noisy half-moons with labels -1/+1, as micrograd's demo uses.
        t = rng.uniform(0, np.pi, 100)
        upper = np.arange(100) % 2 == 0
        x = np.where(upper[:, None], np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
        x = x + rng.normal(0, 0.1, x.shape)
        sizes = [2, 16, 16, 1]
        params = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            params.append(rng.uniform(-1, 1, (n_out, n_in)))  # row j: the weights of neuron j
            params.append(np.zeros(n_out))
        return {"x": x, "y": np.where(upper, 1.0, -1.0), "params": params}
    if name == "conv_step":
        rng = np.random.default_rng(7)
        shapes = [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (800, 10), (10,)]
        fan_in = [9, 9, 144, 144, 800, 800]
        params = [(rng.standard_normal(s) * np.sqrt(2 / f)).astype(np.float32)
                  for s, f in zip(shapes, fan_in)]
        return {"x": rng.standard_normal((32, 1, 28, 28)).astype(np.float32),
                "y": rng.integers(0, 10, 32), "params": params}
    raise KeyError(name)


def softmax_xent_numpy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits `z` (N, C) against class indices `y`, and its gradient."""
    m = z.max(1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(1, keepdims=True)
    rows = np.arange(len(y))
    loss = (np.log(s[:, 0]) + m[:, 0] - z[rows, y]).mean()
    dz = e / s
    dz[rows, y] -= 1
    return float(loss), dz / len(y)


# -- 4. an MLP training step, batch 64, 784-256-128-10 ------------------------------------------
def mlp_step(torch):
    F = torch.nn.functional
    d = data("mlp_step")
    x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
    params = [torch.tensor(p, requires_grad=True) for p in d["params"]]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h = F.relu(x @ w1 + b1)
        h = F.relu(h @ w2 + b2)
        loss = F.cross_entropy(h @ w3 + b3, y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return loss.item()
    return step


def mlp_step_numpy():
    d = data("mlp_step")
    x, y, params = d["x"], d["y"], d["params"]
    lr = np.float32(LR)

    def step():
        w1, b1, w2, b2, w3, b3 = params
        z1 = x @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        loss, dz3 = softmax_xent_numpy(h2 @ w3 + b3, y)
        dz2 = (dz3 @ w3.T) * (z2 > 0)
        dz1 = (dz2 @ w2.T) * (z1 > 0)
        grads = [x.T @ dz1, dz1.sum(0), h1.T @ dz2, dz2.sum(0), h2.T @ dz3, dz3.sum(0)]
        for p, g in zip(params, grads):
            p -= lr * g
        return loss
    return step


# -- 5. BLAS-bound: 3 layers of 2048x2048 matmul + tanh, forward + backward ---------------------
def blas_step(torch):
    d = data("blas_step")
    x = torch.tensor(d["x"])
    params = [torch.tensor(w, requires_grad=True) for w in d["params"]]

    def step():
        h = x
        for w in params:
            h = torch.tanh(h @ w)
        loss = h.sum()
        for w in params:
            w.grad = None
        loss.backward()
        return loss.item()
    return step


def blas_step_numpy():
    d = data("blas_step")
    x, params = d["x"], d["params"]

    def step():
        hs = [x]
        for w in params:
            hs.append(np.tanh(hs[-1] @ w))
        g = np.ones_like(hs[-1])
        grads = []
        for i in reversed(range(len(params))):
            g = g * (1 - hs[i + 1] ** 2)
            grads.append(hs[i].T @ g)
            if i:
                g = g @ params[i].T
        return float(hs[-1].sum())
    return step


# -- 6. micrograd's demo: a 2-16-16-1 MLP of scalar ops on 100 points, one training step -------
def scalar_mlp_step(torch):
    d = data("scalar_mlp_step")
    xs, ys = d["x"].tolist(), d["y"].tolist()
    layers = [([[torch.tensor(v, requires_grad=True) for v in row] for row in w.tolist()],
               [torch.tensor(v, requires_grad=True) for v in b.tolist()])
              for w, b in zip(d["params"][::2], d["params"][1::2])]
    params = [p for w, b in layers for p in [v for row in w for v in row] + b]

    def step():
        losses = []
        for x, y in zip(xs, ys):
            h = x
            for k, (w, b) in enumerate(layers):
                h = [sum((wi * hi for wi, hi in zip(row, h)), bj) for row, bj in zip(w, b)]
                if k < len(layers) - 1:
                    h = [a.relu() for a in h]
            losses.append((1 + -y * h[0]).relu())
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return loss.item()
    return step


def scalar_mlp_step_numpy():
    d = data("scalar_mlp_step")
    x, y, params = d["x"], d["y"], d["params"]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        z1 = x @ w1.T + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2.T + b2
        h2 = np.maximum(z2, 0)
        margin = 1 - y * (h2 @ w3.T + b3)[:, 0]
        loss = np.maximum(margin, 0).mean() + 1e-4 * sum((p * p).sum() for p in params)
        ds = (-y * (margin > 0) / len(y))[:, None]
        dz2 = (ds @ w3) * (z2 > 0)
        dz1 = (dz2 @ w2) * (z1 > 0)
        grads = [dz1.T @ x, dz1.sum(0), dz2.T @ h1, dz2.sum(0), ds.T @ h2, ds.sum(0)]
        for p, g in zip(params, grads):
            p -= LR * (g + 2e-4 * p)
        return float(loss)
    return step


# -- 7. a convnet training step: conv-relu-pool-conv-relu-pool-linear, batch 32 of 1x28x28 -----
def conv_step(torch):
    F = torch.nn.functional
    d = data("conv_step")
    x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
    params = [torch.tensor(p, requires_grad=True) for p in d["params"]]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2)), 2)
        loss = F.cross_entropy(h.reshape(h.shape[0], -1) @ w3 + b3, y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return loss.item()
    return step


def _conv_numpy(x, w, b):
    """Valid cross-correlation (N, C, H, W) * (O, C, k, k) -> (N, O, H-k+1, W-k+1), and its im2col."""
    n, k = len(x), w.shape[2]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # N C H' W' k k
    h, wd = win.shape[2:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, -1)  # (N H' W', C k k)
    z = cols @ w.reshape(len(w), -1).T + b
    return z.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _conv_numpy_backward(g, cols, w, x_shape, need_dx):
    """Gradients of _conv_numpy for weight, bias and (when asked) input."""
    o, c, k = w.shape[:3]
    n, _, h, wd = g.shape
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (g2.T @ cols).reshape(w.shape)
    dx = None
    if need_dx:
        dcols = (g2 @ w.reshape(o, -1)).reshape(n, h, wd, c, k, k).transpose(0, 3, 1, 2, 4, 5)
        dx = np.zeros(x_shape, g.dtype)
        # NOTE: a loop over the k*k kernel offsets (9), each a full-batch slice add.
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + h, j:j + wd] += dcols[..., i, j]
    return dw, g.sum((0, 2, 3)), dx


def _pool_numpy(x):
    """2x2 max pool with stride 2 (floor), and the windows it reduced, for the backward."""
    n, c, h, w = x.shape
    win = x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
    return win.max((3, 5)), win


def _pool_numpy_backward(g, out, win, x_shape):
    # NOTE: a tie sends the gradient to every maximal element (PyTorch picks one); ties here are
    # only relu's zeros, whose gradient the relu backward zeroes anyway.
    n, c, h, w = x_shape
    dx = np.zeros(x_shape, g.dtype)
    mask = win == out[:, :, :, None, :, None]
    dx[:, :, :h // 2 * 2, :w // 2 * 2] = (mask * g[:, :, :, None, :, None]).reshape(n, c, h // 2 * 2, -1)
    return dx


def conv_step_numpy():
    d = data("conv_step")
    x, y, params = d["x"], d["y"], d["params"]
    lr = np.float32(LR)

    def step():
        w1, b1, w2, b2, w3, b3 = params
        z1, cols1 = _conv_numpy(x, w1, b1)
        p1, win1 = _pool_numpy(np.maximum(z1, 0))
        z2, cols2 = _conv_numpy(p1, w2, b2)
        p2, win2 = _pool_numpy(np.maximum(z2, 0))
        flat = p2.reshape(len(x), -1)
        loss, dz3 = softmax_xent_numpy(flat @ w3 + b3, y)
        dz2 = _pool_numpy_backward((dz3 @ w3.T).reshape(p2.shape), p2, win2, z2.shape) * (z2 > 0)
        dw2, db2, dp1 = _conv_numpy_backward(dz2, cols2, w2, p1.shape, True)
        dz1 = _pool_numpy_backward(dp1, p1, win1, z1.shape) * (z1 > 0)
        dw1, db1, _ = _conv_numpy_backward(dz1, cols1, w1, x.shape, False)
        for p, g in zip(params, [dw1, db1, dw2, db2, flat.T @ dz3, dz3.sum(0)]):
            p -= lr * g
        return loss
    return step


class Workload(NamedTuple):
    """A workload: setup functions that return the step to time, and its timing plan."""
    setup: Callable      # setup(torch) -> step, for ndgrad and PyTorch
    setup_numpy: Callable  # setup_numpy() -> step, hand-written NumPy forward + backward
    description: str
    repeats: int = 21
    warmups: int = 3
    # NOTE: the fewest rounds of every library in turn (run.py --rounds may ask for more).
    # Workloads of a few milliseconds finish a whole round inside one burst of the machine's
    # noise, so they take more rounds; they cost seconds.
    rounds: int = 1


def _stateless(fn):
    """Setup for a workload that builds all its tensors inside each call."""
    return lambda *torch: (lambda: fn(*torch))


WORKLOADS = {
    "seed_regression": Workload(_stateless(seed_regression), _stateless(seed_regression_numpy),
                                "the seed's linear regression, 100 epochs", rounds=7),
    "seed_descent": Workload(_stateless(seed_descent), _stateless(seed_descent_numpy),
                             "the seed's gradient descent on x**2, 50 epochs", rounds=7),
    "op_chain": Workload(_stateless(op_chain), _stateless(op_chain_numpy),
                         "forward+backward of a chain of 1,000 elementwise ops on a 1-element tensor", rounds=7),
    "mlp_step": Workload(mlp_step, mlp_step_numpy,
                         "MLP 784-256-128-10 training step, batch 64, ReLU, cross-entropy, SGD, float32",
                         repeats=51, rounds=5),
    "blas_step": Workload(blas_step, blas_step_numpy,
                          "3 layers of 2048x2048 float32 matmul + tanh, forward+backward",
                          repeats=3, warmups=1),
    "scalar_mlp_step": Workload(scalar_mlp_step, scalar_mlp_step_numpy,
                                "micrograd's demo: 2-16-16-1 MLP of 0-d tensors on 100 points, "
                                "max-margin loss + L2, one SGD step (NumPy: vectorized)",
                                repeats=3, warmups=1),
    "conv_step": Workload(conv_step, conv_step_numpy,
                          "convnet step, batch 32 of 1x28x28: conv16-relu-pool-conv32-relu-pool-linear, "
                          "cross-entropy, SGD", repeats=5, warmups=1),
}
