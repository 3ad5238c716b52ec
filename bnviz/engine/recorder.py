"""What the trainer writes down after a step: history rows and frozen records.

Kept apart from the training step itself so the bare step can be timed, and
so the per-step bookkeeping (which runs at every step of a flat-out run)
has one place to be made cheap.
"""
from __future__ import annotations

import numpy as np

from .records import LayerRecord, StepRecord, frozen_copy, sorted_percentiles


def _norm(a: np.ndarray | None) -> float | None:
    if a is None:
        return None
    flat = a.reshape(-1)
    return float(np.sqrt(flat @ flat))


class Recorder:
    """Reads one model's state after a step; never changes it."""

    def __init__(self, model):
        self.model = model
        # Column names built once: the row writers run at every step.
        self._keys = [{name: f"L{i}.{name}" for name in (
            "grad_norm_W", "grad_norm_b", "grad_norm_gamma", "grad_norm_beta", "gamma", "beta",
            "batch_mean", "batch_var", "running_mean", "running_var", "pre_pct", "act_in_pct",
            "pre_unit_pct", "act_in_unit_pct")} for i in range(len(model.layers))]
        self._norms: dict[str, float | None] = {}

    def grad_norms(self) -> list[tuple[float, float | None, float | None, float | None]]:
        """Per layer: ||dW||, ||db||, ||dgamma||, ||dbeta|| (None where absent)."""
        out = []
        for layer in self.model.layers:
            bn = layer.bn
            out.append((_norm(layer.linear.dW), _norm(layer.linear.db),
                        _norm(bn.dgamma) if bn else None, _norm(bn.dbeta) if bn else None))
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
            bn = layer.bn
            if bn is not None:
                row[keys["grad_norm_gamma"]] = ng
                row[keys["grad_norm_beta"]] = nbeta
                row[keys["gamma"]] = bn.gamma_used
                row[keys["beta"]] = bn.beta_used
                row[keys["batch_mean"]] = bn.batch_mean
                row[keys["batch_var"]] = bn.batch_var
                row[keys["running_mean"]] = bn.running_mean
                row[keys["running_var"]] = bn.running_var
        return row

    def summary_row(self, step: int) -> dict[str, object]:
        """15th/50th/85th percentiles of pre and act_in, whole layer and per
        unit. The costly part of the bookkeeping: three sorts per layer at most."""
        row = {"step": step}
        for layer, keys in zip(self.model.layers, self._keys):
            pre_unit = sorted_percentiles(np.sort(layer.pre, axis=0))
            pre_all = sorted_percentiles(np.sort(layer.pre, axis=None))
            if layer.act_in is layer.pre:
                act_unit, act_all = pre_unit, pre_all
            else:
                # BN before the activation: per unit, act_in is an increasing
                # (gamma > 0) or decreasing (gamma < 0) affine map of pre, so
                # its percentiles follow from pre's without another sort.
                bn = layer.bn
                scale = bn.gamma_used * bn._inv_std
                mapped = (pre_unit - bn.batch_mean) * scale + bn.beta_used
                act_unit = np.where(scale >= 0, mapped, mapped[::-1])
                act_all = sorted_percentiles(np.sort(layer.act_in, axis=None))
            row[keys["pre_unit_pct"]] = pre_unit
            row[keys["pre_pct"]] = pre_all
            row[keys["act_in_unit_pct"]] = act_unit
            row[keys["act_in_pct"]] = act_all
        return row

    def record(self, step: int, epoch: int, loss: float, accuracy: float, lr: float, labels,
               norms, head_norm: float) -> StepRecord:
        """A frozen record of the model's last training step."""
        layers = []
        for i, (layer, (nW, nb, ng, nbeta)) in enumerate(zip(self.model.layers, norms)):
            bn = layer.bn
            pre = frozen_copy(layer.pre)
            # Copy each distinct array once; aliases stay aliases.
            act_in = pre if layer.act_in is layer.pre else frozen_copy(layer.act_in)
            bn_in = bn_out = None
            if bn is not None:
                bn_in = pre if layer.bn_in is layer.pre else frozen_copy(layer.bn_in)
                bn_out = act_in if layer.bn_out is layer.act_in else frozen_copy(layer.bn_out)
            layers.append(LayerRecord(
                index=i, width=layer.linear.W.shape[1], has_bn=bn is not None,
                placement=layer.placement, pre=pre, bn_in=bn_in,
                normalized=frozen_copy(bn.x_hat) if bn else None, bn_out=bn_out, act_in=act_in,
                batch_mean=frozen_copy(bn.batch_mean) if bn else None,
                batch_var=frozen_copy(bn.batch_var) if bn else None,
                running_mean=frozen_copy(bn.running_mean) if bn else None,
                running_var=frozen_copy(bn.running_var) if bn else None,
                gamma=frozen_copy(bn.gamma_used) if bn else None,
                beta=frozen_copy(bn.beta_used) if bn else None,
                grad_norm_W=nW, grad_norm_b=nb, grad_norm_gamma=ng, grad_norm_beta=nbeta))
        return StepRecord(step=step, epoch=epoch, loss=loss, batch_accuracy=accuracy, lr=lr,
                          layers=tuple(layers), grad_norm_head=head_norm,
                          labels=frozen_copy(labels))
