"""The small CNN on the digits (8x8 images, batch 64, float32, SGD) as one
training step in bnviz's engine and in PyTorch, for bench_engine.

conv 3x3 -> 8 channels, BN, ReLU, 2x2 max pool; conv 3x3 -> 16, BN, ReLU,
2x2 max pool; flatten (16 x 2 x 2); dense 64, BN, ReLU; linear 10.
"""
from __future__ import annotations

import numpy as np

from bnviz.engine import RunConfig, Trainer
from bnviz.engine.cnn import CNN
from bnviz.engine.losses import softmax_cross_entropy

CHANNELS, KERNEL, HIDDEN, BATCH, LR = (8, 16), 3, (64,), 64, 0.05


def digits_images():
    tr = Trainer(RunConfig(dataset="digits"))
    x = np.asarray(tr.x_train, dtype=np.float32).reshape(-1, 1, 8, 8)
    return x, np.asarray(tr.y_train, dtype=np.int64), tr.data.n_classes


def _batches(n: int):
    rng = np.random.default_rng(0)
    state = {"order": rng.permutation(n), "pos": 0}

    def take():
        if state["pos"] + BATCH > n:
            state["order"], state["pos"] = rng.permutation(n), 0
        idx = state["order"][state["pos"]:state["pos"] + BATCH]
        state["pos"] += BATCH
        return idx
    return take


def make_bnviz_cnn_step():
    x, y, k = digits_images()
    net = CNN((1, 8, 8), CHANNELS, KERNEL, HIDDEN, k, pool="max", activation="relu", norm="batch")
    params = net.named_parameters()
    take = _batches(len(y))

    def step():
        idx = take()
        _, dlogits, _ = softmax_cross_entropy(net.forward(x[idx]), y[idx])
        net.backward(dlogits)
        for _, p, g in params:
            p -= LR * g
    return step


def make_torch_cnn_step():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y, k = digits_images()
    x, y = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, k))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    take = _batches(len(y))

    def step():
        idx = torch.from_numpy(take())
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x[idx]), y[idx]).backward()
        opt.step()
    return step
