"""Softmax cross-entropy, the loss of every bnviz network."""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, shifted by the row maximum so
    exp never overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean cross-entropy of (N, K) logits against integer labels (N,).

    Returns (loss, dlogits, probabilities), with
    ``loss = -mean_n log softmax(logits)[n, y_n]`` and
    ``dlogits = (softmax(logits) - onehot(y)) / N``.
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float((np.log(total[:, 0]) - shifted[rows, y]).sum()) / n
    probs = e / total
    dlogits = probs.copy()
    dlogits[rows, y] -= 1.0
    dlogits /= n
    return loss, dlogits, probs


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Share of the rows whose largest logit is the label's."""
    return float(np.count_nonzero(logits.argmax(axis=1) == y)) / len(y)
