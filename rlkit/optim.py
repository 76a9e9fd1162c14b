"""Optimizers written from their update equations, as ``torch.optim.Optimizer`` subclasses.

Notation: parameters ``theta``, gradient ``g``, learning rate ``lr``, step ``t``.

* SGD: ``theta <- theta - lr * g``.
* SGD with momentum ``mu``: ``b <- mu * b + g`` (``b_0 = 0``, so ``b_1 = g``), then
  ``theta <- theta - lr * b``; Nesterov looks ahead: ``theta <- theta - lr * (g + mu * b)``.
* Adam (Kingma & Ba 2015): ``m <- beta1 m + (1 - beta1) g``,
  ``v <- beta2 v + (1 - beta2) g^2``, then
  ``theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)``.
* RMSprop (Tieleman & Hinton 2012; A2C's optimizer): ``v <- alpha v + (1 - alpha) g^2``,
  ``theta <- theta - lr * g / (sqrt(v) + eps)`` (no bias correction, ``v_0 = 0``).
* Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"):
  ``u = sign(beta1 m + (1 - beta1) g)``, ``theta <- theta - lr (u + wd theta)``,
  ``m <- beta2 m + (1 - beta2) g``. Every coordinate moves by exactly ``lr``, so Lion
  wants a learning rate 3-10x smaller than Adam's.

``weight_decay`` is L2 (added to the gradient) for SGD and Adam, as in ``torch.optim``,
and decoupled for Lion, as in the paper. RMSprop takes it as L2 too.

Each update is one plain function over the lists of tensors of a parameter group, in
``torch._foreach_*`` operations (one call per operation for all tensors). With
``fused=True`` that function goes through ``torch.compile`` once, which fuses all of
its elementwise operations into a single pass over memory (on the CPU this beats even
``torch.optim.Adam(fused=True)``; see ``benchmarks/optimizers.py``). Compilation needs a
C++ compiler and takes seconds the first time; without one the eager path is used.
Eager Adam on float32 CPU tensors hands the step to torch's own fused Adam kernel
(``torch._fused_adam_``: ``adam_update_``'s arithmetic in one pass, 3x faster than its
seven ``_foreach`` calls on a small MLP; both are tested against ``torch.optim.Adam``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim import optimizer as _torch_optimizer

from rlkit.errors import unknown

# torch's global step hooks (``register_optimizer_step_pre_hook``): the live dicts
_GLOBAL_PRE_HOOKS: dict = getattr(_torch_optimizer, "_global_optimizer_pre_hooks", {})
_GLOBAL_POST_HOOKS: dict = getattr(_torch_optimizer, "_global_optimizer_post_hooks", {})

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "lion")

Tensors = list[torch.Tensor]


# --------------------------------------------------------------- update equations


def sgd_update_(
    params: Tensors,
    grads: Tensors,
    bufs: Tensors,
    lr: torch.Tensor,
    momentum: float,
    nesterov: bool,
    weight_decay: float,
) -> None:
    """SGD / momentum / Nesterov step, in place (``bufs`` empty without momentum)."""
    if weight_decay != 0.0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    if momentum != 0.0:
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_add_(bufs, grads)  # b <- mu b + g
        grads = torch._foreach_add(grads, bufs, alpha=momentum) if nesterov else bufs
    torch._foreach_sub_(params, torch._foreach_mul(grads, lr))


def _numpy_sqrt_ok(tensors: Tensors) -> bool:
    """Whether numpy can take the roots of ``tensors`` in place of PyTorch: contiguous
    float32 CPU tensors, outside ``torch.compile``'s tracing."""
    return not torch.compiler.is_compiling() and all(
        t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors
    )


def _sqrt(tensors: Tensors) -> list[torch.Tensor]:
    """``torch._foreach_sqrt``, through numpy's kernel for contiguous float32 CPU tensors
    outside autograd and compilation: PyTorch's CPU sqrt took 46-75 us for 72k floats on
    one core here, numpy's 30 us; on subnormal values, which the second moments of
    gradients that stay near zero decay into, PyTorch's took 2.1 ms for 139k floats and
    numpy's 0.12 ms. numpy's result is the correctly rounded root; PyTorch's vectorised
    CPU kernel was one unit in the last place off for about one float in seven (on an
    AVX-512 machine here), so the two differ in the last bit there."""
    if not _numpy_sqrt_ok(tensors):
        return list(torch._foreach_sqrt(tensors))
    out = [torch.empty_like(t) for t in tensors]
    for t, o in zip(tensors, out, strict=True):
        np.sqrt(t.detach().numpy(), out=o.numpy())
    return out


def _sqrt_(tensors: Tensors) -> Tensors:
    """``_sqrt`` in place (``tensors`` are scratch the caller owns)."""
    if not _numpy_sqrt_ok(tensors):
        torch._foreach_sqrt_(tensors)
        return tensors
    for t in tensors:
        a = t.detach().numpy()
        np.sqrt(a, out=a)
    return tensors


def adam_update_(
    params: Tensors,
    grads: Tensors,
    m: Tensors,
    v: Tensors,
    step_size: torch.Tensor,
    bias2_sqrt: torch.Tensor,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
) -> None:
    """Adam step, in place; ``step_size = lr / (1 - beta1^t)``, ``bias2_sqrt = sqrt(1 - beta2^t)``."""
    if weight_decay != 0.0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_lerp_(m, grads, 1.0 - beta1)  # m <- beta1 m + (1 - beta1) g
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1.0 - beta2)  # v <- beta2 v + (1 - beta2) g^2
    # theta -= step_size * m / (sqrt(v) / bias2_sqrt + eps)
    #        = (step_size * bias2_sqrt) * m / (sqrt(v) + eps * bias2_sqrt)
    denom = _sqrt(v)
    torch._foreach_add_(denom, eps * bias2_sqrt)
    if isinstance(step_size, torch.Tensor):  # compiled: keep the scalars as tensors
        torch._foreach_div_(denom, step_size * bias2_sqrt)
        torch._foreach_addcdiv_(params, m, denom, value=-1.0)
    else:
        torch._foreach_addcdiv_(params, m, denom, value=-step_size * bias2_sqrt)


def rmsprop_update_(
    params: Tensors,
    grads: Tensors,
    v: Tensors,
    g_avg: Tensors,
    lr: float | torch.Tensor,
    alpha: float,
    eps: float,
    weight_decay: float,
) -> None:
    """RMSprop step, in place (``torch.optim.RMSprop`` without momentum). Centered when
    ``g_avg`` holds the running means of the gradients (empty otherwise): the gradient is
    then scaled by its running standard deviation, ``sqrt(v - g_avg^2)``, instead of its
    root mean square (Graves 2013; the optimizer of DQN and of MinAtar's DQN)."""
    if weight_decay != 0.0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_mul_(v, alpha)
    torch._foreach_addcmul_(v, grads, grads, value=1.0 - alpha)  # v <- alpha v + (1 - alpha) g^2
    if g_avg:
        torch._foreach_lerp_(g_avg, grads, 1.0 - alpha)  # g_avg <- alpha g_avg + (1 - alpha) g
        denom = _sqrt_(torch._foreach_addcmul(v, g_avg, g_avg, value=-1.0))
    else:
        denom = _sqrt(v)
    torch._foreach_add_(denom, eps)
    if isinstance(lr, torch.Tensor):
        torch._foreach_div_(denom, lr)
        torch._foreach_addcdiv_(params, grads, denom, value=-1.0)
    else:
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)


def lion_update_(
    params: Tensors,
    grads: Tensors,
    m: Tensors,
    lr: torch.Tensor,
    beta1: float,
    beta2: float,
    weight_decay: float,
) -> None:
    """Lion step, in place."""
    update = torch._foreach_lerp(m, grads, 1.0 - beta1)  # beta1 m + (1 - beta1) g
    torch._foreach_sign_(update)
    torch._foreach_mul_(update, lr)
    if weight_decay != 0.0:
        torch._foreach_mul_(params, 1.0 - lr * weight_decay)
    torch._foreach_sub_(params, update)
    torch._foreach_lerp_(m, grads, 1.0 - beta2)  # m <- beta2 m + (1 - beta2) g


_COMPILED: dict[Callable, Callable] = {}


def _runner(fn: Callable, fused: bool) -> Callable:
    """``fn`` itself, or its ``torch.compile``d version (made once per function)."""
    if not fused:
        return fn
    if fn not in _COMPILED:
        _COMPILED[fn] = torch.compile(fn, fullgraph=True, dynamic=False)
    return _COMPILED[fn]


class _Base(Optimizer):
    """What the three optimizers share: closures, state creation, the fused switch.

    ``torch.optim.Optimizer`` guards ``add_param_group``, ``zero_grad``, ``state_dict``
    and ``load_state_dict`` against ``torch.compile`` tracing, and that guard imports
    all of ``torch._dynamo`` on its first call (about a second of start-up, which is
    most of what a short run waits for). These updates never run under a compiled
    caller, so the plain functions underneath are used; and ``step`` is not wrapped in
    the profiler hook that ``Optimizer`` puts on every subclass (a few microseconds a
    step). ``step`` calls the step hooks itself instead, the optimizer's own
    (``register_step_pre_hook``, ``register_step_post_hook``) and the global ones
    (``torch.optim.optimizer.register_optimizer_step_pre_hook`` / ``_post_hook``), in
    ``Optimizer``'s order, at the cost of four empty-dict checks a step when there are
    none.
    """

    update: Callable

    add_param_group = Optimizer.add_param_group.__wrapped__  # type: ignore[attr-defined]
    zero_grad = Optimizer.zero_grad.__wrapped__  # type: ignore[attr-defined]
    state_dict = Optimizer.state_dict.__wrapped__  # type: ignore[attr-defined]
    load_state_dict = Optimizer.load_state_dict.__wrapped__  # type: ignore[attr-defined]

    def _patch_step_function(self) -> None:
        self._zero_grad_profile_name = f"Optimizer.zero_grad#{type(self).__name__}.zero_grad"

    def __init__(self, params: Iterable, defaults: dict[str, Any], fused: bool) -> None:
        for key, ok, allowed in (
            ("lr", lambda v: v > 0, "lr > 0"),
            ("momentum", lambda v: 0 <= v < 1, "0 <= momentum < 1"),
            (
                "betas",
                lambda v: len(v) == 2 and all(0 <= b < 1 for b in v),
                "two numbers in [0, 1)",
            ),
            ("eps", lambda v: v >= 0, "eps >= 0"),
            ("weight_decay", lambda v: v >= 0, "weight_decay >= 0"),
        ):
            if key in defaults and not ok(defaults[key]):
                raise ValueError(f"bad value {key}={defaults[key]!r}; allowed: {allowed}")
        super().__init__(params, defaults)
        self.fused = fused

    def _state(self, p: torch.Tensor, *names: str) -> list[torch.Tensor]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            for name in names:
                state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return [state[name] for name in names]

    def _run(self, *args: Any) -> None:
        if self.fused:
            try:
                _runner(type(self).update, True)(*args)
                return
            except Exception as e:  # noqa: BLE001 - no compiler, unsupported platform, ...
                warnings.warn(
                    f"fused {type(self).__name__} unavailable ({type(e).__name__}); using eager",
                    stacklevel=3,
                )
                self.fused = False
        type(self).update(*args)

    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One update of every parameter that has a gradient; returns the closure's loss."""
        if (
            self._optimizer_step_pre_hooks
            or self._optimizer_step_post_hooks
            or _GLOBAL_PRE_HOOKS
            or _GLOBAL_POST_HOOKS
        ):
            return self._hooked_step(closure)
        return self._step(closure)

    def _hooked_step(self, closure: Callable[[], torch.Tensor] | None) -> torch.Tensor | None:
        """``step`` between its hooks, as ``Optimizer`` calls them: a pre-hook may return
        new ``(args, kwargs)``; ``args`` starts with the optimizer."""
        args: tuple = (self,) if closure is None else (self, closure)
        kwargs: dict[str, Any] = {}
        for hook in [*_GLOBAL_PRE_HOOKS.values(), *self._optimizer_step_pre_hooks.values()]:
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"a step pre-hook must return None or (args, kwargs), got {result!r}"
                    )
                args, kwargs = result
        out = type(self)._step(*args, **kwargs)
        for hook in [*self._optimizer_step_post_hooks.values(), *_GLOBAL_POST_HOOKS.values()]:
            hook(self, args, kwargs)
        return out

    @torch.no_grad()
    def _step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._group_step(group, params, [p.grad for p in params])
        return loss

    def _group_step(self, group: dict[str, Any], params: Tensors, grads: Tensors) -> None:
        raise NotImplementedError


def dense(t: torch.Tensor) -> bool:
    """Whether ``t``'s elements fill a block of memory exactly once, in some order of its
    dimensions (contiguous, channels-last, any permutation of a contiguous tensor)."""
    expected = 1
    for stride, size in sorted(
        (st, n) for st, n in zip(t.stride(), t.shape, strict=True) if n != 1
    ):
        if stride != expected:
            return False
        expected *= size
    return True


def flat(t: torch.Tensor) -> torch.Tensor:
    """A ``dense`` tensor's memory as one flat view, in memory order."""
    return t.view(-1) if t.is_contiguous() else t.as_strided((t.numel(),), (1,))


def _native_adam(params: Tensors, grads: Tensors, moments: list[list[torch.Tensor]]) -> bool:
    """Whether torch's own fused Adam kernel can take the step: float32 CPU tensors, dense
    (contiguous or channels-last: elementwise arithmetic does not care in which order it
    meets the elements), each parameter's gradient and moments laid out as the parameter
    is. It is ``adam_update_``'s arithmetic in one pass over memory (equal to float32
    rounding, ``tests/rlkit/test_optim.py``): on the 72k parameters of a 256-256 MLP it
    took 46 us here, the seven ``_foreach`` calls 137 us; on the 1.7M of a channels-last
    Nature CNN 0.6 ms against 2.3."""
    quads = zip(params, grads, *zip(*moments, strict=True), strict=True)
    return hasattr(torch, "_fused_adam_") and all(
        all(
            t.device.type == "cpu"
            and t.dtype == torch.float32
            and t.layout == torch.strided
            and t.stride() == quad[0].stride()
            for t in quad
        )
        and dense(quad[0])
        for quad in quads
    )


LANES = 16
"""Floats in a block that torch's fused Adam kernel computes with vector instructions:
a multiple of its vector width on every CPU it builds for (16 with AVX-512, 8 with AVX2)."""


class _Blocks:
    """The views ``_FusedAdam`` hands the kernel for one ``(param, grad, exp_avg,
    exp_avg_sq)`` tuple: their whole blocks in place, and a zero-padded block for the
    tail, made once and reused while the four tensors keep their memory. ``native`` says
    whether the kernel takes the tuple at all (``_native_adam``); without it nothing else
    is made."""

    def __init__(self, quad: tuple[torch.Tensor, ...]) -> None:
        self.key = self.key_of(quad)
        self.native = _native_adam([quad[0]], [quad[1]], [list(quad[2:])])
        self.views: list[list[torch.Tensor]] = []
        self.tails: list[torch.Tensor] = []
        self.filled: list[torch.Tensor] = []
        if not self.native:
            return
        flat_quad = [flat(x) for x in quad]
        n = flat_quad[0].numel()
        head = n - n % LANES
        self.views = [[x[:head]] if head else [] for x in flat_quad]
        self.tails = [x[head:] for x in flat_quad] if head < n else []
        if self.tails:
            rows = list(flat_quad[0].new_zeros(4, LANES))
            self.filled = [row[: n - head] for row in rows]
            for into, row in zip(self.views, rows, strict=True):
                into.append(row)

    @staticmethod
    def key_of(quad: tuple[torch.Tensor, ...]) -> tuple[tuple[int, int], ...]:
        """Where the four tensors' memory lies: the views stay valid while it is unchanged."""
        return tuple((x.data_ptr(), x.numel()) for x in quad)


class _FusedAdam:
    """One ``torch._fused_adam_`` call over a parameter group's ``(param, grad, exp_avg,
    exp_avg_sq)`` tuples.

    The kernel runs whole blocks of ``LANES`` floats in vector code and a tensor's last
    partial block in scalar code, which rounds ``v <- beta2 v + (1 - beta2) g^2``
    differently (a fused multiply-add or not). So where a tensor has such a tail it is
    copied into a zero-padded block and stepped there: every float then takes the vector
    code wherever it lies, and a network alone moves bitwise as its row of a stacked
    ``(G, P)`` buffer, whose rows are padded to whole blocks (``test_ppo_group``).

    The lists the kernel takes are assembled from each tuple's ``_Blocks`` and kept while
    no tensor of the group moves: a step then only compares where the tensors lie with
    where they lay (6 us for a 256-256 MLP, against about 30 us to check every tensor
    and rebuild the lists; the kernel itself takes about 50 us there)."""

    def __init__(self) -> None:
        self.blocks: dict[int, _Blocks] = {}
        self.key: tuple[tuple[tuple[int, int], ...], ...] | None = None
        self.native = False
        self.lists: list[list[torch.Tensor]] = [[], [], [], []]
        self.into_blocks: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        self.back: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])

    def prepare(self, tensors: list[tuple[torch.Tensor, ...]]) -> bool:
        """Whether the native kernel takes every tuple; (re)assembles its lists when a
        tensor moved since the last call."""
        key = tuple(_Blocks.key_of(quad) for quad in tensors)
        if key == self.key:
            return self.native
        self.key = key
        blocks = []
        for quad, where in zip(tensors, key, strict=True):
            plan = self.blocks.get(id(quad[0]))
            if plan is None or plan.key != where:
                plan = self.blocks[id(quad[0])] = _Blocks(quad)
            blocks.append(plan)
        self.native = all(plan.native for plan in blocks)
        self.lists = [[], [], [], []]
        self.into_blocks, self.back = ([], []), ([], [])
        if not self.native:
            return False
        for plan in blocks:
            if plan.tails:
                self.into_blocks[0].extend(plan.filled)
                self.into_blocks[1].extend(plan.tails)
                for k in (0, 2, 3):  # param, exp_avg, exp_avg_sq come back from the block
                    self.back[0].append(plan.tails[k])
                    self.back[1].append(plan.filled[k])
            for into, views in zip(self.lists, plan.views, strict=True):
                into.extend(views)
        return True

    def step(self, step: int, **hyper: float) -> None:
        """The kernel's step ``step`` over the tuples of the last ``prepare``."""
        if self.into_blocks[0]:  # every tail in one call, however many tensors
            torch._foreach_copy_(*self.into_blocks)
        steps = [torch.tensor(float(step))] * len(self.lists[0])
        torch._fused_adam_(*self.lists, [], steps, amsgrad=False, maximize=False, **hyper)
        if self.back[0]:
            torch._foreach_copy_(*self.back)


def _scalar(value: float, like: torch.Tensor, fused: bool) -> float | torch.Tensor:
    # compiled updates take a 0-d tensor, so they are not recompiled when the value
    # changes; eager updates are faster with a plain float
    return torch.tensor(value, dtype=like.dtype, device=like.device) if fused else value


class SGD(_Base):
    """Stochastic gradient descent, with optional (Nesterov) momentum and L2 weight decay."""

    update = staticmethod(sgd_update_)

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        fused: bool = False,
    ) -> None:
        if nesterov and momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults, fused)

    def _group_step(self, group: dict[str, Any], params: Tensors, grads: Tensors) -> None:
        bufs = [self._state(p, "momentum_buffer")[0] for p in params] if group["momentum"] else []
        self._run(
            params,
            grads,
            bufs,
            _scalar(group["lr"], params[0], self.fused),
            group["momentum"],
            group["nesterov"],
            group["weight_decay"],
        )


class Adam(_Base):
    """Adam with bias correction and L2 weight decay (``torch.optim.Adam``'s semantics)."""

    update = staticmethod(adam_update_)

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        fused: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults, fused)
        self._fused_calls: dict[int, _FusedAdam] = {}

    def _group_step(self, group: dict[str, Any], params: Tensors, grads: Tensors) -> None:
        beta1, beta2 = group["betas"]
        moments = [self._state(p, "exp_avg", "exp_avg_sq") for p in params]
        for p in params:
            self.state[p]["step"] += 1
        t = self.state[params[0]]["step"]
        if not self.fused:
            # keyed by the group's first parameter: the group load_state_dict puts in its
            # place holds the same parameters, and takes over its call
            call = self._fused_calls.setdefault(id(group["params"][0]), _FusedAdam())
            quads = [(p, g, m, v) for p, g, (m, v) in zip(params, grads, moments, strict=True)]
            if call.prepare(quads):
                call.step(
                    t,
                    lr=group["lr"],
                    beta1=beta1,
                    beta2=beta2,
                    weight_decay=group["weight_decay"],
                    eps=group["eps"],
                )
                return
        self._run(
            params,
            grads,
            [mv[0] for mv in moments],
            [mv[1] for mv in moments],
            _scalar(group["lr"] / (1 - beta1**t), params[0], self.fused),
            _scalar((1 - beta2**t) ** 0.5, params[0], self.fused),
            beta1,
            beta2,
            group["eps"],
            group["weight_decay"],
        )


class RMSprop(_Base):
    """RMSprop: the gradient scaled by a running root mean square of its past values (with
    ``centered``, by their running standard deviation)."""

    update = staticmethod(rmsprop_update_)

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        fused: bool = False,
        centered: bool = False,
    ) -> None:
        if not 0 <= alpha < 1:
            raise ValueError(f"bad value alpha={alpha!r}; allowed: 0 <= alpha < 1")
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "centered": centered,
        }
        super().__init__(params, defaults, fused)

    def _group_step(self, group: dict[str, Any], params: Tensors, grads: Tensors) -> None:
        centered = group.get("centered", False)
        names = ("square_avg", "grad_avg") if centered else ("square_avg",)
        states = [self._state(p, *names) for p in params]
        for p in params:
            self.state[p]["step"] += 1
        self._run(
            params,
            grads,
            [s[0] for s in states],
            [s[1] for s in states] if centered else [],
            _scalar(group["lr"], params[0], self.fused),
            group["alpha"],
            group["eps"],
            group["weight_decay"],
        )


class Lion(_Base):
    """Lion: the sign of an interpolated momentum, with decoupled weight decay."""

    update = staticmethod(lion_update_)

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        fused: bool = False,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay}, fused
        )

    def _group_step(self, group: dict[str, Any], params: Tensors, grads: Tensors) -> None:
        beta1, beta2 = group["betas"]
        m = [self._state(p, "exp_avg")[0] for p in params]
        for p in params:
            self.state[p]["step"] += 1
        self._run(
            params,
            grads,
            m,
            _scalar(group["lr"], params[0], self.fused),
            beta1,
            beta2,
            group["weight_decay"],
        )


def make_optimizer(
    name: str,
    params: Iterable,
    lr: float,
    betas: tuple[float, float] | None = None,
    eps: float = 1e-8,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    fused: bool = False,
    alpha: float = 0.99,
    centered: bool = False,
) -> Optimizer:
    """An rlkit optimizer by name: ``sgd``, ``momentum``, ``adam``, ``rmsprop`` or ``lion``.

    ``betas`` defaults to (0.9, 0.999) for Adam and (0.9, 0.99) for Lion; ``alpha`` is
    RMSprop's smoothing constant and ``centered`` makes it centered RMSprop.
    """
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=weight_decay, fused=fused)
    if name == "momentum":
        return SGD(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            fused=fused,
        )
    if name == "adam":
        return Adam(
            params,
            lr=lr,
            betas=betas or (0.9, 0.999),
            eps=eps,
            weight_decay=weight_decay,
            fused=fused,
        )
    if name == "rmsprop":
        return RMSprop(
            params,
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            fused=fused,
            centered=centered,
        )
    if name == "lion":
        return Lion(
            params, lr=lr, betas=betas or (0.9, 0.99), weight_decay=weight_decay, fused=fused
        )
    raise unknown("optimizer", name, OPTIMIZERS, show_all=True)


@torch.no_grad()
def clip_grad_norm_(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale gradients so their global L2 norm is at most ``max_norm``; return the norm before.

    Same result as ``torch.nn.utils.clip_grad_norm_`` (scale ``max_norm / (norm + 1e-6)``
    when above), with fewer operations for a single (flat) gradient tensor.
    """
    with_grads = [p for p in params if p.grad is not None]
    if len(with_grads) == 1:
        grad = with_grads[0].grad
        total = torch.linalg.vector_norm(grad)
        norm = float(total)
        if norm + 1e-6 > max_norm:  # below it the scale would be clamped to exactly 1
            grad.mul_(max_norm / (norm + 1e-6))
        return total
    return torch.nn.utils.clip_grad_norm_(with_grads, max_norm)


def clip_grad_norm_rows_(
    stacked: torch.Tensor, max_norm: float, columns: int | None = None
) -> torch.Tensor:
    """``clip_grad_norm_`` of each row of a stacked ``(G, P)`` parameter's gradient (``G``
    networks in one buffer, ``rlkit.nn.backprop.stack_parameters``; ``columns``: the
    network's own parameters at the start of a row, padding after them): row ``g`` is
    scaled by ``max_norm / (norm_g + 1e-6)`` when above; returns the ``G`` norms before.
    Each norm is taken over the row's own parameters alone, as a network alone takes it
    (a reduction's rounding depends on its length), and the scale in double, as
    ``clip_grad_norm_`` makes it: each row is clipped bitwise as its network alone."""
    grad = stacked.grad
    norms = torch.stack([torch.linalg.vector_norm(row[:columns]) for row in grad])
    wide = norms.double()
    scale = torch.where(wide + 1e-6 > max_norm, max_norm / (wide + 1e-6), 1.0)
    grad.mul_(scale.to(grad.dtype).unsqueeze(-1))
    return norms


class RowOptimizer:
    """Row ``row`` of an optimizer over stacked ``(G, P)`` parameters, seen as the optimizer
    of that row alone: ``state_dict`` is what a one-network run's optimizer would save (its
    moments are the row's first ``columns`` entries, copied: the network's own, without the
    padding), and ``load_state_dict`` takes such a state back into the row. The update
    itself is the stacked optimizer's (elementwise, so each row moves as it would alone).
    A checkpoint of one seed of a batched group is thus a single run's."""

    def __init__(self, optimizer: Optimizer, row: int, columns: int | None = None) -> None:
        self.optimizer, self.row, self.columns = optimizer, row, columns
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """The row's optimizer state, in ``Optimizer.state_dict``'s layout."""
        full = self.optimizer.state_dict()
        state = {}
        for i, entries in full["state"].items():
            shape = self.params[i].shape
            state[i] = {
                k: v[self.row, : self.columns].clone()
                if torch.is_tensor(v) and v.shape == shape
                else v
                for k, v in entries.items()
            }
        return {"state": state, "param_groups": full["param_groups"]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put a one-network optimizer state into the row (other rows keep theirs)."""
        for i, entries in state["state"].items():
            p = self.params[int(i)]
            target = self.optimizer.state[p]
            for k, v in entries.items():
                if torch.is_tensor(v) and v.dim() == p.dim() - 1 and v.dim() > 0:
                    if k not in target:
                        target[k] = torch.zeros_like(p)
                    target[k][self.row, : v.shape[-1]].copy_(v)
                else:
                    target[k] = v
        for group, saved in zip(self.optimizer.param_groups, state["param_groups"], strict=True):
            group.update({k: v for k, v in saved.items() if k != "params"})


def optimizer_from_config(config: Any, params: Iterable, lr: float | None = None) -> Optimizer:
    """The optimizer an agent config asks for (``rlkit.config.OptimizerFields``).

    ``lr`` defaults to ``config.learning_rate``.
    """
    return make_optimizer(
        config.optimizer,
        params,
        lr=config.learning_rate if lr is None else lr,
        betas=tuple(config.optimizer_betas) if config.optimizer_betas is not None else None,
        eps=config.optimizer_eps,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
        fused=config.optimizer_fused,
        alpha=getattr(config, "rms_alpha", 0.99),
        centered=getattr(config, "rms_centered", False),
    )


def load_state(optimizer: Optimizer, state: dict[str, Any]) -> None:
    """``optimizer.load_state_dict(state)``, also when ``state`` was saved with one tensor
    per parameter and ``optimizer`` now holds them as one flat buffer (a network whose pass
    has since been written out, ``rlkit.nn.backprop.flatten_parameters``, which keeps the
    module's parameter order): each per-element state (Adam's moments, momentum, ...) is
    concatenated in that order and the shared scalars (the step count) are kept, so the
    run continues as it would have. Anything else that does not fit raises as
    ``load_state_dict`` does."""
    groups = state["param_groups"]
    current = optimizer.param_groups
    if (
        len(groups) == 1
        and len(current) == 1
        and len(current[0]["params"]) == 1
        and len(groups[0]["params"]) > 1
    ):
        state = _flattened_state(state, current[0]["params"][0].numel())
    optimizer.load_state_dict(state)


def _flattened_state(state: dict[str, Any], size: int) -> dict[str, Any]:
    """One group's per-parameter state as the state of one flat parameter of ``size``."""
    (group,) = state["param_groups"]
    ids = group["params"]
    per_param = [state["state"].get(i) for i in ids]
    flat: dict[str, Any] = {}
    if any(s is not None for s in per_param):
        if any(s is None for s in per_param) or any(
            s.keys() != per_param[0].keys() for s in per_param
        ):
            raise ValueError("per-parameter optimizer state of mixed kinds; cannot flatten it")
        for key, first in per_param[0].items():
            values = [s[key] for s in per_param]
            if isinstance(first, torch.Tensor) and first.dim() > 0:
                flat[key] = torch.cat([v.reshape(-1) for v in values])
                if flat[key].numel() != size:
                    raise ValueError(
                        f"optimizer state {key!r} holds {flat[key].numel()} numbers, "
                        f"the parameters {size}"
                    )
            elif all(torch.equal(torch.as_tensor(v), torch.as_tensor(first)) for v in values):
                flat[key] = first
            else:
                raise ValueError(f"optimizer state {key!r} differs between parameters")
    return {
        "state": {ids[0]: flat} if flat else {},
        "param_groups": [{**group, "params": [ids[0]]}],
    }


def set_learning_rate(optimizer: Optimizer, lr: float) -> None:
    """Set the step size of every parameter group (a schedule's value for this update)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
