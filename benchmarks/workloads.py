"""Benchmark workloads, each written once against the PyTorch API (`torch` is a parameter, bound
to ndgrad or to PyTorch), plus hand-written NumPy forward+backward versions as the floor."""
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


WORKLOADS = {
    "seed_regression": (seed_regression, seed_regression_numpy, "the seed's linear regression, 100 epochs"),
    "seed_descent": (seed_descent, seed_descent_numpy, "the seed's gradient descent on x**2, 50 epochs"),
    "op_chain": (op_chain, op_chain_numpy, "forward+backward of a chain of 1,000 elementwise ops on a 1-element tensor"),
}
