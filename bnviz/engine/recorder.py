"""What the trainer writes down after a step: history rows and frozen records.

Kept apart from the training step itself so the bare step can be timed, and
so the per-step bookkeeping (which runs at every step of a flat-out run)
has one place to be made cheap.
"""
from __future__ import annotations

import math

import numpy as np

from .probe import probe_percentiles
from .records import LayerRecord, StepRecord, frozen_copy, layer_percentiles


def _norm(a: np.ndarray | None) -> float | None:
    if a is None:
        return None
    # A BLAS dot without the ufunc machinery of ``@`` or ``np.linalg.norm``:
    # np.dot for vectors, np.vdot (which flattens) for matrices, measured fastest.
    return math.sqrt(np.dot(a, a) if a.ndim == 1 else np.vdot(a, a))


class Recorder:
    """Reads one model's state after a step; never changes it."""

    def __init__(self, model):
        self.model = model
        # Column names built once: the row writers run at every step.
        self._keys = [{name: f"L{i}.{name}" for name in (
            "grad_norm_W", "grad_norm_b", "grad_norm_gamma", "grad_norm_beta", "gamma", "beta",
            "batch_mean", "batch_var", "running_mean", "running_var", "pre_pct", "act_in_pct",
            "pre_unit_pct", "act_in_unit_pct", "pre_probe_pct", "act_in_probe_pct",
            "pre_unit_probe_pct", "act_in_unit_probe_pct", "renorm_r", "renorm_d")}
            for i in range(len(model.layers))]
        self._norms: dict[str, float | None] = {}

    def grad_norms(self) -> list[tuple[float, float | None, float | None, float | None]]:
        """Per layer: ||dW||, ||db||, ||dgamma||, ||dbeta|| (None where absent)."""
        out = []
        for layer in self.model.layers:
            norm = layer.norm
            out.append((_norm(layer.linear.dW), _norm(layer.linear.db),
                        _norm(norm.dgamma) if norm else None, _norm(norm.dbeta) if norm else None))
        return out

    def step_row(self, step: int, epoch: int, loss: float, accuracy: float, lr: float,
                 norms, head_norm: float) -> dict[str, object]:
        """The cheap per-step series: scalars, gradient norms, BN vectors."""
        row = {"step": step, "epoch": epoch, "loss": loss, "batch_accuracy": accuracy, "lr": lr,
               "grad_norm_head": head_norm}
        for layer, keys, (nW, nb, ng, nbeta) in zip(self.model.layers, self._keys, norms):
            row[keys["grad_norm_W"]] = nW
            if nb is not None:
                row[keys["grad_norm_b"]] = nb
            norm = layer.norm
            if norm is not None:
                row[keys["grad_norm_gamma"]] = ng
                row[keys["grad_norm_beta"]] = nbeta
                row[keys["gamma"]] = norm.gamma_used
                row[keys["beta"]] = norm.beta_used
            bn = layer.bn
            if bn is not None:
                row[keys["batch_mean"]] = bn.batch_mean
                row[keys["batch_var"]] = bn.batch_var
                row[keys["running_mean"]] = bn.running_mean
                row[keys["running_var"]] = bn.running_var
                if bn.kind == "renorm":
                    row[keys["renorm_r"]] = bn.r
                    row[keys["renorm_d"]] = bn.d
        return row

    def summary_row(self, step: int) -> dict[str, object]:
        """15th/50th/85th percentiles of pre and act_in over the step's
        mini-batch, whole layer and per unit. The costly part of the
        bookkeeping: three sorts per layer at most."""
        row = {"step": step}
        for layer, keys in zip(self.model.layers, self._keys):
            # BN before the activation: act_in is affine in pre, per unit
            # (not so for LayerNorm, GroupNorm or noisy BN: None, measured directly).
            affine = layer.norm.unit_affine() if layer.act_in is not layer.pre else None
            pcts = layer_percentiles(layer.pre, layer.act_in, affine)
            for name, pct in zip(("pre_unit_pct", "pre_pct", "act_in_unit_pct", "act_in_pct"), pcts):
                row[keys[name]] = pct
        return row

    def probe_row(self, x: np.ndarray, stats=None) -> dict[str, object]:
        """The same percentiles over the probe x (see ``probe``), named
        ``L{i}.pre_probe_pct``, ``L{i}.act_in_unit_probe_pct``, ...; the
        model's caches and running statistics are left as they are."""
        row = {}
        for keys, pcts in zip(self._keys, probe_percentiles(self.model, x, stats)):
            for name, pct in zip(("pre_unit_probe_pct", "pre_probe_pct", "act_in_unit_probe_pct",
                                  "act_in_probe_pct"), pcts):
                row[keys[name]] = pct
        return row

    def record(self, step: int, epoch: int, loss: float, accuracy: float, lr: float, labels,
               norms, head_norm: float) -> StepRecord:
        """A frozen record of the model's last training step."""
        layers = []
        for i, (layer, (nW, nb, ng, nbeta)) in enumerate(zip(self.model.layers, norms)):
            bn, norm = layer.bn, layer.norm
            pre = frozen_copy(layer.pre)
            # Copy each distinct array once; aliases stay aliases.
            act_in = pre if layer.act_in is layer.pre else frozen_copy(layer.act_in)
            bn_in = bn_out = None
            if norm is not None:
                bn_in = pre if layer.bn_in is layer.pre else frozen_copy(layer.bn_in)
                bn_out = act_in if layer.bn_out is layer.act_in else frozen_copy(layer.bn_out)
            layers.append(LayerRecord(
                index=i, width=layer.width, has_bn=norm is not None, kind=layer.kind,
                norm=norm.kind if norm else None,
                placement=layer.placement, pre=pre, bn_in=bn_in,
                normalized=frozen_copy(layer.normalized()), bn_out=bn_out, act_in=act_in,
                batch_mean=frozen_copy(bn.batch_mean) if bn else None,
                batch_var=frozen_copy(bn.batch_var) if bn else None,
                running_mean=frozen_copy(bn.running_mean) if bn else None,
                running_var=frozen_copy(bn.running_var) if bn else None,
                gamma=frozen_copy(norm.gamma_used) if norm else None,
                beta=frozen_copy(norm.beta_used) if norm else None,
                renorm_r=frozen_copy(bn.r) if bn is not None and bn.kind == "renorm" else None,
                renorm_d=frozen_copy(bn.d) if bn is not None and bn.kind == "renorm" else None,
                grad_norm_W=nW, grad_norm_b=nb, grad_norm_gamma=ng, grad_norm_beta=nbeta))
        return StepRecord(step=step, epoch=epoch, loss=loss, batch_accuracy=accuracy, lr=lr,
                          layers=tuple(layers), grad_norm_head=head_norm,
                          labels=frozen_copy(labels))
