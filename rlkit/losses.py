"""Loss functions, written from their definitions.

Every loss takes ``reduction``: ``mean`` (default), ``sum`` or ``none``.

* ``cross_entropy(logits, target)``: ``-log softmax(logits)[target]``, computed as
  ``logsumexp(logits) - logits[target]`` so large logits never overflow.
* ``binary_cross_entropy(logits, y)``: ``-(y log p + (1-y) log(1-p))`` with
  ``p = sigmoid(logits)``, computed as ``softplus(z) - y z``.
* ``mse``: mean of ``(y_hat - y)^2``; ``mae``: mean of ``|y_hat - y|``.
* ``huber(delta)``: quadratic within ``delta``, linear beyond (DQN's loss, delta = 1),
  ``0.5 e^2`` if ``|e| <= delta`` else ``delta (|e| - 0.5 delta)``.

And the objective of PPO, which the ``ppo`` and ``recurrent-ppo`` agents share:
``ppo_loss`` (clipped surrogate, value loss, entropy bonus), returning a
``rlkit.nn.passes.Loss`` with its gradient with respect to the policy's outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlkit.nn.passes import Loss, PolicyOutputs, QOutputs

REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of class indices ``target`` (N,) under ``logits`` (N, C)."""
    picked = logits.gather(-1, target.long().unsqueeze(-1)).squeeze(-1)
    return _reduce(torch.logsumexp(logits, dim=-1) - picked, reduction)


def binary_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Binary cross-entropy of 0/1 ``target`` under ``logits`` (any shape)."""
    target = target.to(logits.dtype)
    return _reduce(torch.nn.functional.softplus(logits) - target * logits, reduction)


def mse(prediction: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error."""
    return _reduce((prediction - target).square(), reduction)


def mae(prediction: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error."""
    return _reduce((prediction - target).abs(), reduction)


def huber(
    prediction: torch.Tensor, target: torch.Tensor, delta: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Huber loss (smooth L1 scaled by ``delta``): quadratic near 0, linear in the tails."""
    error = (prediction - target).abs()
    quadratic = torch.clamp(error, max=delta)
    return _reduce(0.5 * quadratic.square() + delta * (error - quadratic), reduction)


def huber_gradient(
    prediction: torch.Tensor, target: torch.Tensor, delta: float = 1.0
) -> torch.Tensor:
    """d huber / d prediction, elementwise (unreduced): ``clamp(prediction - target, -delta, delta)``."""
    return (prediction - target).clamp(-delta, delta)


def categorical_loss(
    out: QOutputs, targets: torch.Tensor, weights: torch.Tensor | None, support: torch.Tensor
) -> Loss:
    """C51's loss (Bellemare et al. 2017): the cross-entropy of the projected target
    distribution ``targets`` ``(batch, N)`` under the predicted log-probabilities
    ``out.q`` ``(batch, N)`` of the taken actions, ``L = mean(w * -sum_i m_i log p_i)``.
    ``parts``: the per-sample cross-entropies as ``td_errors`` (Rainbow's priorities) and
    the predicted means as ``q``. ``grads["q"]``, for a written-out pass (``out.q`` without
    autograd), is the gradient with respect to the log-probabilities."""
    per_sample = -(targets * out.q).sum(dim=-1)
    value = (per_sample * weights).mean() if weights is not None else per_sample.mean()
    grads: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        q = out.q.detach().exp() @ support
        if not out.q.requires_grad:  # a written-out pass: dL/dlog p = -w m / batch
            scale = weights[:, None] / len(targets) if weights is not None else 1.0 / len(targets)
            grads["q"] = -targets * scale
    return Loss(value, {"td_errors": per_sample.detach(), "q": q}, grads)


def quantile_huber_loss(
    out: QOutputs,
    targets: torch.Tensor,
    weights: torch.Tensor | None,
    kappa: float = 1.0,
    with_value: bool = True,
) -> Loss:
    """QR-DQN's loss (Dabney et al. 2018): predicted quantiles ``out.q`` ``(batch, N)`` at
    the midpoint levels ``tau_i`` against target samples ``targets`` ``(batch, M)``,

        rho_ij = |tau_i - 1{u_ij < 0}| * huber_kappa(u_ij) / kappa,   u_ij = y_j - theta_i,

    summed over quantiles and averaged over targets and the batch (sb3-contrib's
    reduction), weighted per sample ``w`` under prioritized replay. ``parts``: the
    per-sample losses as ``td_errors`` and (``with_value``, as the loss's value) the
    predicted means as ``q``; a written-out pass without them needs only the gradient."""
    theta = out.q
    grads: dict[str, torch.Tensor] = {}
    if theta.requires_grad:  # through autograd
        per_sample = _QuantileHuber.apply(theta, targets.detach(), kappa)
    else:  # a written-out pass: the gradient w.r.t. the quantiles, from the same sums
        per_sample, slope = quantile_huber_parts(theta, targets, kappa)
        grads["q"] = (
            slope / len(theta) if weights is None else slope * weights[:, None] / len(theta)
        )
    parts = {"td_errors": per_sample.detach()}
    if not with_value and grads:
        return Loss(None, parts, grads)
    value = (per_sample * weights).mean() if weights is not None else per_sample.mean()
    return Loss(value, {**parts, "q": theta.detach().mean(dim=-1)}, grads)


PAIRWISE_MAX = 1024
"""``N * M`` up to which the quantile Huber loss is computed pair by pair."""


def quantile_huber_parts(
    theta: torch.Tensor, targets: torch.Tensor, kappa: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's quantile Huber loss ``(batch,)`` and its gradient w.r.t. the
    quantiles ``(batch, N)`` (float32), computed as ``_QuantileHuber`` describes, or pair
    by pair when ``N * M`` is small (``PAIRWISE_MAX``: there the ``(batch, N, M)`` tensor is
    smaller than the sorted path's dozen calls cost)."""
    n, m = theta.shape[-1], targets.shape[-1]
    if n * m <= PAIRWISE_MAX and _numpy_ready(theta, targets):
        return _pairwise_numpy(theta, targets, kappa)
    if n * m <= PAIRWISE_MAX:
        t = theta.detach()
        u = targets.detach().to(t.dtype)[:, None, :] - t[:, :, None]  # (batch, N, M)
        tau = (2 * torch.arange(n, device=t.device, dtype=t.dtype) + 1) / (2 * n)
        weight = torch.where(u < 0, 1.0 - tau[:, None], tau[:, None])
        clipped = u.clamp(-kappa, kappa)
        size = clipped.abs()  # huber_kappa(u) = |c| (|u| - |c| / 2) with c = clamp(u, +-kappa)
        loss = size * (u.abs() - 0.5 * size) / kappa
        per_sample = (weight * loss).sum(dim=(1, 2)) / m
        slope = (weight * clipped).sum(dim=-1) / (-kappa * m)
        return per_sample.to(torch.float32), slope.to(torch.float32)
    t = theta.detach().double()  # (batch, N)
    y = targets.detach().double().sort(dim=-1).values  # (batch, M)
    zero = torch.zeros_like(y[:, :1])
    p1 = torch.cat([zero, y.cumsum(dim=-1)], dim=-1)  # (batch, M + 1)
    p2 = torch.cat([zero, y.square().cumsum(dim=-1)], dim=-1)
    a1 = torch.searchsorted(y, t - kappa, side="left")  # y < t - kappa before it
    a2 = torch.searchsorted(y, t, side="left")  # y < t before it
    a3 = torch.searchsorted(y, t + kappa, side="right")  # y <= t + kappa before it
    ends = torch.full_like(a1, m)
    starts = torch.zeros_like(a1)

    def run(lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Count, sum of u and sum of u^2 over the sorted targets [lo, hi)."""
        count = (hi - lo).double()
        s1 = p1.gather(1, hi) - p1.gather(1, lo)
        s2 = p2.gather(1, hi) - p2.gather(1, lo)
        su = s1 - count * t
        return count, su, s2 - 2.0 * t * s1 + count * t * t

    c1, u1, _ = run(starts, a1)  # u < -kappa
    _, u2, q2 = run(a1, a2)  # -kappa <= u < 0
    _, u3, q3 = run(a2, a3)  # 0 <= u <= kappa
    c4, u4, _ = run(a3, ends)  # u > kappa
    tau = (2 * torch.arange(n, device=theta.device, dtype=torch.float64) + 1) / (2 * n)
    below = (-u1 - 0.5 * kappa * c1) + 0.5 * q2 / kappa
    above = 0.5 * q3 / kappa + (u4 - 0.5 * kappa * c4)
    per_sample = ((1.0 - tau) * below + tau * above).sum(dim=-1) / m
    slope = (1.0 - tau) * (u2 / kappa - c1) + tau * (u3 / kappa + c4)
    return per_sample.to(torch.float32), (-slope / m).to(torch.float32)


def _numpy_ready(*tensors: torch.Tensor) -> bool:
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


_PAIRWISE_CONSTANTS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _pairwise_numpy(
    theta: torch.Tensor, targets: torch.Tensor, kappa: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairwise sums of ``quantile_huber_parts`` in numpy, for float32 CPU tensors: on
    ``(64, 10, 10)`` (QR-DQN's CartPole preset) torch's dozen calls cost about 170 us here,
    numpy's about 60 (a call on a few thousand floats is mostly per-call overhead)."""
    n, m = theta.shape[-1], targets.shape[-1]
    constants = _PAIRWISE_CONSTANTS.get((n, m))
    if constants is None:
        tau = ((2 * np.arange(n) + 1) / (2 * n)).astype(np.float32)[:, None]
        constants = _PAIRWISE_CONSTANTS[n, m] = (tau, 1 - 2 * tau, np.ones(m, np.float32))
    tau, flip, ones = constants
    t = theta.detach().numpy()
    u = targets.detach().numpy()[:, None, :] - t[:, :, None]  # (batch, N, M)
    weight = (u < 0) * flip  # |tau - 1{u < 0}| = tau + 1{u < 0} (1 - 2 tau)
    weight += tau
    clipped = np.clip(u, -kappa, kappa)
    weighted = weight * clipped
    slope = weighted @ ones  # summed over the targets (BLAS: a reduction on the last axis is slow)
    # huber_kappa(u) = |c| (|u| - |c| / 2) = c (u - c / 2), c and u having one sign
    clipped *= -0.5
    clipped += u
    weighted *= clipped
    per_sample = weighted.reshape(len(u), -1).sum(axis=1)
    per_sample /= kappa * m
    slope /= -kappa * m
    return torch.from_numpy(per_sample), torch.from_numpy(slope)


class _QuantileHuber(torch.autograd.Function):
    """Each sample's quantile Huber loss and its gradient from sorted targets, without the
    ``(batch, N, M)`` pairwise tensor (through autograd that tensor cost twice the Nature
    CNN's whole step).

    With ``u_ij = y_j - theta_i``, the targets sorted, and prefix sums of ``y`` and ``y^2``,
    the ``j`` of each ``theta_i`` fall in four runs found by binary search: ``u < -kappa``,
    ``-kappa <= u < 0``, ``0 <= u <= kappa``, ``u > kappa``. On each run the Huber loss is a
    polynomial in ``u`` (linear outside ``[-kappa, kappa]``, quadratic inside), so its sum
    is a few prefix-sum differences; the weight is ``1 - tau_i`` below 0 and ``tau_i`` from 0
    on. The gradient, ``d loss_b / d theta_i = -(1 / M) sum_j w_ij clamp(u_ij, -kappa,
    kappa) / kappa``, comes from the same sums. ``O(N log M)`` per sample instead of
    ``O(N M)``; sums in float64 (the quadratic run subtracts large prefix sums).
    """

    @staticmethod
    def forward(ctx: Any, theta: torch.Tensor, targets: torch.Tensor, kappa: float) -> torch.Tensor:
        per_sample, grad = quantile_huber_parts(theta, targets, kappa)
        ctx.save_for_backward(grad)
        ctx.theta_dtype = theta.dtype
        return per_sample

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (grad,) = ctx.saved_tensors
        return (grad * grad_out[:, None]).to(ctx.theta_dtype), None, None


def normalized(advantages: torch.Tensor) -> torch.Tensor:
    """Advantages scaled to mean 0, std 1 along the last dimension (unchanged for a single
    sample)."""
    if advantages.shape[-1] < 2:
        return advantages
    mean = advantages.mean(dim=-1, keepdim=True)
    return (advantages - mean) / (advantages.std(dim=-1, keepdim=True) + 1e-8)


PPO_PARTS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
"""The parts ``ppo_loss`` reports."""


def ppo_loss(out: PolicyOutputs, batch: Any, clip: float, config: Any) -> Loss:
    """PPO's loss of a minibatch (Schulman et al. 2017), its parts and its gradient.

    ``L = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)) + vf_coef mean((V - R)^2) - ent_coef mean(H)``
    with ``r = exp(log pi - log pi_old)``; ``V`` is clipped to ``V_old +- clip_range_vf`` when
    that is set. ``batch`` holds the rollout's ``log_probs``, ``values``, ``advantages`` and
    ``returns`` (flat, like ``out``); ``config`` gives ``normalize_advantage``,
    ``clip_range_vf``, ``vf_coef`` and ``ent_coef``.

    Gradient, with ``B`` the batch size: ``dL/dlog pi = -A r / B`` where the unclipped
    term is the smaller one (else 0: the clipped term does not move with ``log pi``),
    ``dL/dV = 2 vf_coef (V - R) / B`` (0 where value clipping holds ``V``) and
    ``dL/dH = -ent_coef / B``.

    Means are over the last dimension: ``G`` stacked minibatches ``(G, B)`` (many seeds at
    once) give ``G`` losses and parts, and each row's gradient is its own minibatch's.
    """
    n = max(out.log_probs.shape[-1], 1)  # (a data-parallel rank may hold no row of a minibatch)
    advantages = normalized(batch.advantages) if config.normalize_advantage else batch.advantages
    log_ratio = out.log_probs - batch.log_probs
    ratio = log_ratio.exp()
    unclipped = advantages * ratio
    clipped = advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    policy_loss = -torch.min(unclipped, clipped).mean(dim=-1)
    values = out.values
    if config.clip_range_vf is not None:
        change = values - batch.values
        values = batch.values + change.clamp(-config.clip_range_vf, config.clip_range_vf)
    value_error = values - batch.returns
    value_loss = value_error.square().mean(dim=-1)
    entropy = out.entropy.mean(dim=-1)
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    with torch.no_grad():
        d_value = value_error * (2.0 * config.vf_coef / n)
        if config.clip_range_vf is not None:
            d_value = d_value * (change.abs() <= config.clip_range_vf)
        grads = {
            "log_probs": torch.where(unclipped <= clipped, unclipped, 0.0).mul_(-1.0 / n),
            "values": d_value,
        }
        if config.ent_coef:  # (no entropy term, no gradient to take through it)
            grads["entropy"] = torch.full_like(out.values, -config.ent_coef / n)
        parts = {
            "policy_loss": policy_loss.detach(),
            "value_loss": value_loss.detach(),
            "entropy": entropy.detach(),
            # Schulman's low-variance estimator (r - 1) - log r, with expm1 for r - 1: no
            # cancellation against 1 when r is near 1, where the estimate lives
            "approx_kl": (torch.expm1(log_ratio) - log_ratio).mean(dim=-1),
            "clip_fraction": ((ratio - 1.0).abs() > clip).float().mean(dim=-1),
        }
    return Loss(loss, parts, grads)


LOSSES = {"cross_entropy": cross_entropy, "mse": mse, "mae": mae, "huber": huber}
