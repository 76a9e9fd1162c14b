"""Classic control as batched torch environments: one state tensor, any device.

``rlkit.make_vector_env("CartPole-v1", 4096, backend="torch", device="cpu", seed=0)``
returns a ``BatchedEnv``: a Gymnasium ``VectorEnv`` whose whole state is one tensor
``env.state`` of shape ``(n_envs, state_dim)`` in Gymnasium's own layout, stepped by a
handful of tensor operations for all envs at once. Actions go in and observations,
rewards, terminations and truncations come out as torch tensors on the env's device.

The dynamics are Gymnasium's, written for a batch (``tests/envs/test_batched.py`` holds
each env against Gymnasium's own over 10,000 random steps): CartPole-v1 (Euler),
Acrobot-v1 (RK4 over one 0.2 s step, the "book" dynamics, angles wrapped to [-pi, pi]),
MountainCar-v0, MountainCarContinuous-v0 and Pendulum-v1.

Autoreset is ``SAME_STEP``, as rlkit's other vector envs: the step that ends an episode
returns the next episode's first observation; ``info["final_obs"]`` holds the last
observation of every env (meaningful where ``info["_final_obs"]`` is true), and
``info["final_info"]["episode"]`` the finished episodes' returns ``r`` and lengths ``l``
(masked by ``info["final_info"]["_episode"]``). No step waits on the host: fresh initial
states are drawn for every env at every step and kept where an episode ended (a
``torch.where``), so a GPU never synchronises inside a rollout.

On the CPU, CartPole steps through a native kernel (``rlkit.envs.native``: C compiled
once per machine, one pass over the arrays, no per-operation dispatch), where the torch
operations would pay PyTorch's dispatcher a few dozen times per step. Its initial states
come from one splitmix64 generator per env (seeded from the env's ``torch.Generator`` at
``reset(seed=...)``), so the same seed gives other initial states than the torch path;
each path is deterministic. ``native=False`` keeps the torch operations; ``native=True``
refuses to run without the kernel. ``compile=True`` hands the torch step (all but the
random draws) to ``torch.compile``, which fuses its operations into one loop but costs
seconds to compile and about 0.1 ms per call (``benchmarks/batched_envs.py``).

Initial states come from the env's own ``torch.Generator`` on its device, seeded by
``reset(seed=s)``, with Gymnasium's distributions (e.g. CartPole: each of the four
variables uniform in [-0.05, 0.05]). ``env.generator`` and ``env.state_dict()`` carry
everything needed to continue exactly (``load_state_dict``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector.utils import batch_space

from rlkit.envs import native as native_kernels
from rlkit.errors import BadInput, unknown

Tensor = torch.Tensor


class BatchedEnv(gym.vector.VectorEnv):
    """Base class: ``n_envs`` copies of one classic-control env in one state tensor.

    A subclass gives ``env_id``, ``state_dim``, ``initial_state`` (draws from the
    generator), ``dynamics`` (next state, reward, terminated for a batch) and
    ``observe`` (state to observation).
    """

    env_id: ClassVar[str]
    state_dim: ClassVar[int]
    kernel: ClassVar[str | None] = None
    """The native CPU kernel of this env (``envs/kernels/<kernel>.c``), if it has one; an env
    with a kernel gives ``reset_bounds``, the uniform range of every initial state variable."""
    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(
        self,
        n_envs: int,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        compile: bool = False,
        native: bool | None = None,
    ) -> None:
        if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
            raise BadInput(f"bad value n_envs={n_envs!r}; allowed: an integer >= 1")
        self.device = torch.device(device)
        self.num_envs = n_envs
        self.render_mode = render_mode
        self._renderer: gym.Env | None = None
        reference = gym.make(self.env_id)  # spaces and time limit from Gymnasium's registry
        self.spec = reference.spec
        self.max_episode_steps = int(max_episode_steps or reference.spec.max_episode_steps)
        self.single_observation_space = reference.observation_space
        self.single_action_space = reference.action_space
        reference.close()
        self.observation_space = batch_space(self.single_observation_space, n_envs)
        self.action_space = batch_space(self.single_action_space, n_envs)
        self.discrete = isinstance(self.single_action_space, gym.spaces.Discrete)
        self.generator = torch.Generator(self.device)
        self.generator.manual_seed(0 if seed is None else seed)
        self.state = torch.zeros(n_envs, self.state_dim, device=self.device)
        self.elapsed = torch.zeros(n_envs, dtype=torch.int64, device=self.device)
        """Steps taken in each env's current episode."""
        self.returns = torch.zeros(n_envs, device=self.device)
        """Each env's undiscounted return so far in its current episode."""
        self._advance = (
            torch.compile(self._advance_eager, dynamic=False, fullgraph=True)
            if compile
            else self._advance_eager
        )
        self._native = self._load_native(native, compile)
        if self._native is not None:
            self.rng = self._native_streams()
            """One splitmix64 state per env (the native kernel's initial-state draws)."""

    def _load_native(self, native: bool | None, compile: bool) -> Any:
        """The native kernel when it applies: CPU, an env with a kernel, not ``compile``;
        ``native=True`` makes it a requirement (``BadInput`` without it)."""
        if native is False or (native is None and compile):
            return None
        why = None
        if self.device.type != "cpu":
            why = f"the native kernels step envs on the CPU, not on {self.device}"
        elif self.kernel is None:
            with_kernel = sorted(c.env_id for c in BATCHED.values() if c.kernel)
            why = f"{self.env_id} has no native kernel (those with one: {', '.join(with_kernel)})"
        elif compile:
            why = "native=true and compile=true exclude each other"
        lib = None if why else native_kernels.load(self.kernel)
        if lib is None and why is None:
            why = "the native kernel could not be compiled (no C compiler, or no cache dir)"
        if why is not None:
            if native:
                raise BadInput(f"native=true: {why}")
            return None
        return _Kernel(lib)

    def _native_streams(self) -> Tensor:
        """A splitmix64 state for each env, drawn from the env's generator."""
        return torch.randint(-(2**63), 2**63 - 1, (self.num_envs,), generator=self.generator)

    # --- what a subclass writes ---------------------------------------------------------
    def initial_state(self, n: int) -> Tensor:
        """``n`` initial states drawn from ``self.generator`` (Gymnasium's distribution)."""
        raise NotImplementedError

    def dynamics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of every env: ``(next_state, reward, terminated)``."""
        raise NotImplementedError

    def observe(self, state: Tensor) -> Tensor:
        """The observations of ``state`` (the state itself unless overridden)."""
        return state.clone()

    def set_gym_state(self, env: gym.Env, state: np.ndarray) -> None:
        """Put one env's ``state`` into Gymnasium's env ``env`` (rendering and tests)."""
        env.unwrapped.state = np.asarray(state, dtype=np.float64)

    # --- the VectorEnv API ----------------------------------------------------------------
    def _uniform(self, n: int, low: Tensor | float, high: Tensor | float) -> Tensor:
        u = torch.rand(n, self.state_dim, generator=self.generator, device=self.device)
        return low + (high - low) * u

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Start a new episode in every env; ``seed`` re-seeds the env's generator."""
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise BadInput(f"a batched env takes one integer seed, got {seed!r}")
            self.generator.manual_seed(seed)
            if self._native is not None:  # each env's own stream, from the seed
                self.rng = self._native_streams()
        if self._native is not None:
            self.state = torch.empty(self.num_envs, self.state_dim)
            self._native.draw(
                self.num_envs, self.state_dim, _ptr(self.state), _ptr(self.rng), *self.reset_bounds
            )
        else:
            self.state = self.initial_state(self.num_envs)
        self.elapsed.zero_()
        self.returns.zero_()
        return self.observe(self.state), {}

    def _actions(self, actions: Any) -> Tensor:
        if (
            type(actions) is Tensor
            and self.discrete
            and actions.dtype == torch.int64
            and actions.shape == (self.num_envs,)
            and actions.device == self.device
        ):
            return actions  # already what the step takes
        actions = torch.as_tensor(actions, device=self.device)
        if self.discrete:
            return actions.reshape(self.num_envs).long()
        return actions.reshape(self.num_envs, -1).to(self.state.dtype)

    def step(self, actions: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Step every env (``SAME_STEP`` autoreset; see the module doc for ``info``)."""
        if self._native is not None:
            return self._native_step(self._actions(actions))
        fresh = self.initial_state(self.num_envs)
        (
            self.state,
            self.elapsed,
            self.returns,
            obs,
            final_obs,
            reward,
            terminated,
            truncated,
            returns,
            lengths,
        ) = self._advance(self.state, self.elapsed, self.returns, self._actions(actions), fresh)
        info = _info(final_obs, terminated | truncated, returns, lengths)
        return obs, reward, terminated, truncated, info

    def _native_step(
        self, actions: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """``step`` through the native kernel: dynamics, time limit, episode sums and
        autoreset in one pass over the arrays."""
        n, dim = self.num_envs, self.state_dim
        if not self.state.is_contiguous() or self.state.dtype != torch.float32:
            self.state = self.state.contiguous().float()  # (a user may have replaced it)
        floats = torch.empty(n, 2 * dim + 2)  # per env: obs, final obs, reward, episode return
        flags = torch.empty(3, n, dtype=torch.bool)  # terminated, truncated, either
        lengths = torch.empty(n, dtype=torch.int64)
        at = floats.data_ptr()
        self._native.step(
            n,
            self.state.data_ptr(),
            actions.contiguous().data_ptr(),
            at,
            flags.data_ptr(),
            flags.data_ptr() + n,
            flags.data_ptr() + 2 * n,
            self.elapsed.data_ptr(),
            self.returns.data_ptr(),
            lengths.data_ptr(),
            self.rng.data_ptr(),
            self.max_episode_steps,
            *self.reset_bounds,
        )
        terminated, truncated, done = flags
        info = _info(floats[:, dim : 2 * dim], done, floats[:, 2 * dim + 1], lengths)
        return floats[:, :dim], floats[:, 2 * dim], terminated, truncated, info

    def _advance_eager(
        self, state: Tensor, elapsed: Tensor, returns: Tensor, actions: Tensor, fresh: Tensor
    ) -> tuple[Tensor, ...]:
        """The step as a pure function of tensors (what ``compile=True`` hands to
        ``torch.compile``): dynamics, time limit, episode returns, autoreset to ``fresh``."""
        nxt, reward, terminated = self.dynamics(state, actions)
        elapsed = elapsed + 1
        truncated = elapsed >= self.max_episode_steps  # as Gymnasium's TimeLimit: both may hold
        done = terminated | truncated
        returns = returns + reward
        final_obs = self.observe(nxt)
        obs = torch.where(done.unsqueeze(1), self.observe(fresh), final_obs)
        return (
            torch.where(done.unsqueeze(1), fresh, nxt),
            torch.where(done, 0, elapsed),
            torch.where(done, 0.0, returns),
            obs,
            final_obs,
            reward,
            terminated,
            truncated,
            returns,
            elapsed,
        )

    def state_dict(self) -> dict[str, Tensor]:
        """Everything that decides the envs' future: state, step counts, returns, generator."""
        state = {
            "state": self.state.clone(),
            "elapsed": self.elapsed.clone(),
            "returns": self.returns.clone(),
            "generator": self.generator.get_state(),
        }
        if self._native is not None:
            state["rng"] = self.rng.clone()
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Continue exactly where ``state_dict()`` was taken."""
        keys = ("state", "elapsed", "returns") + (("rng",) if self._native is not None else ())
        if ("rng" in state) != (self._native is not None):
            raise BadInput("a batched env's saved state is from the other step path (native)")
        for key in keys:
            value = state[key]
            if not isinstance(value, Tensor) or value.shape != getattr(self, key).shape:
                raise BadInput(f"a batched env's saved {key} does not fit {self.num_envs} envs")
            setattr(self, key, value.to(self.device, getattr(self, key).dtype).clone())
        self.generator.set_state(state["generator"])

    def render(self, index: int = 0) -> np.ndarray | None:
        """An RGB frame of env ``index`` drawn by Gymnasium's own renderer."""
        if self._renderer is None:
            self._renderer = gym.make(self.env_id, render_mode="rgb_array")
            self._renderer.reset(seed=0)
        self.set_gym_state(self._renderer, self.state[index].double().cpu().numpy())
        return self._renderer.render()

    def close_extras(self, **kwargs: Any) -> None:
        """Close the renderer, if one was opened."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class CartPole(BatchedEnv):
    """CartPole-v1: state ``[x, x_dot, theta, theta_dot]``, reward 1 per step, 500 steps."""

    env_id = "CartPole-v1"
    state_dim = 4
    kernel = "cartpole"
    reset_bounds = (-0.05, 0.05)
    """Every initial state variable is uniform in this range (torch path and native kernel)."""
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_mass = masspole + masscart
    polemass_length = masspole * length
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def initial_state(self, n: int) -> Tensor:
        return self._uniform(n, *self.reset_bounds)

    def dynamics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x, x_dot, theta, theta_dot = state.unbind(1)
        force = actions.to(state.dtype) * (2 * self.force_mag) - self.force_mag
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + self.polemass_length * theta_dot.square() * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta.square() / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        nxt = torch.stack(
            (
                x + self.tau * x_dot,
                x_dot + self.tau * xacc,
                theta + self.tau * theta_dot,
                theta_dot + self.tau * thetaacc,
            ),
            dim=1,
        )
        terminated = (nxt[:, 0].abs() > self.x_threshold) | (nxt[:, 2].abs() > self.theta_threshold)
        return nxt, torch.ones_like(x), terminated


class Acrobot(BatchedEnv):
    """Acrobot-v1: state ``[theta1, theta2, dtheta1, dtheta2]``, observation
    ``[cos t1, sin t1, cos t2, sin t2, dt1, dt2]``, reward -1 until the tip is high, 500 steps."""

    env_id = "Acrobot-v1"
    state_dim = 4
    dt = 0.2
    l1, m1, m2, lc1, lc2, moi = 1.0, 1.0, 1.0, 0.5, 0.5, 1.0
    max_vel_1, max_vel_2 = 4 * math.pi, 9 * math.pi

    def initial_state(self, n: int) -> Tensor:
        return self._uniform(n, -0.1, 0.1)

    def _derivs(self, s: Tensor, torque: Tensor) -> Tensor:
        """Gymnasium's ``_dsdt`` ("book" dynamics) for a batch of states."""
        m1, m2, l1, lc1, lc2, i1, i2, g = (
            self.m1,
            self.m2,
            self.l1,
            self.lc1,
            self.lc2,
            self.moi,
            self.moi,
            9.8,
        )
        theta1, theta2, dtheta1, dtheta2 = s.unbind(1)
        cos2, sin2 = torch.cos(theta2), torch.sin(theta2)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos2) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * cos2) + i2
        phi2 = m2 * lc2 * g * torch.cos(theta1 + theta2 - math.pi / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * dtheta2.square() * sin2
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
            + (m1 * lc1 + m2 * l1) * g * torch.cos(theta1 - math.pi / 2)
            + phi2
        )
        ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1.square() * sin2 - phi2) / (
            m2 * lc2**2 + i2 - d2.square() / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return torch.stack((dtheta1, dtheta2, ddtheta1, ddtheta2), dim=1)

    def dynamics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        torque = actions.to(state.dtype) - 1.0  # AVAIL_TORQUE = [-1, 0, 1]
        dt, dt2 = self.dt, self.dt / 2
        k1 = self._derivs(state, torque)
        k2 = self._derivs(state + dt2 * k1, torque)
        k3 = self._derivs(state + dt2 * k2, torque)
        k4 = self._derivs(state + dt * k3, torque)
        ns = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        nxt = torch.stack(
            (
                _wrap(ns[:, 0]),
                _wrap(ns[:, 1]),
                ns[:, 2].clamp(-self.max_vel_1, self.max_vel_1),
                ns[:, 3].clamp(-self.max_vel_2, self.max_vel_2),
            ),
            dim=1,
        )
        terminated = -torch.cos(nxt[:, 0]) - torch.cos(nxt[:, 1] + nxt[:, 0]) > 1.0
        reward = torch.where(terminated, 0.0, -1.0).to(state.dtype)
        return nxt, reward, terminated

    def observe(self, state: Tensor) -> Tensor:
        t1, t2, dt1, dt2 = state.unbind(1)
        return torch.stack(
            (torch.cos(t1), torch.sin(t1), torch.cos(t2), torch.sin(t2), dt1, dt2), dim=1
        )


def _wrap(x: Tensor) -> Tensor:
    """Gymnasium's ``wrap(x, -pi, pi)``: shift by 2 pi until inside (once suffices for one
    RK4 step of Acrobot, whose speeds are bounded)."""
    two_pi = 2 * math.pi
    x = torch.where(x > math.pi, x - two_pi, x)
    return torch.where(x < -math.pi, x + two_pi, x)


class MountainCar(BatchedEnv):
    """MountainCar-v0: state ``[position, velocity]``, reward -1 per step, 200 steps."""

    env_id = "MountainCar-v0"
    state_dim = 2
    min_position, max_position, max_speed, goal_position = -1.2, 0.6, 0.07, 0.5
    force, gravity = 0.001, 0.0025

    def initial_state(self, n: int) -> Tensor:
        u = torch.rand(n, generator=self.generator, device=self.device)
        return torch.stack((-0.6 + 0.2 * u, torch.zeros_like(u)), dim=1)

    def _move(self, state: Tensor, push: Tensor) -> tuple[Tensor, Tensor]:
        position, velocity = state.unbind(1)
        velocity = (velocity + push - self.gravity * torch.cos(3 * position)).clamp(
            -self.max_speed, self.max_speed
        )
        position = (position + velocity).clamp(self.min_position, self.max_position)
        velocity = torch.where((position == self.min_position) & (velocity < 0), 0.0, velocity)
        return position, velocity

    def dynamics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        push = (actions.to(state.dtype) - 1) * self.force
        position, velocity = self._move(state, push)
        terminated = (position >= self.goal_position) & (velocity >= 0)
        return torch.stack((position, velocity), dim=1), -torch.ones_like(position), terminated


class MountainCarContinuous(MountainCar):
    """MountainCarContinuous-v0: reward 100 at the goal minus 0.1 a^2, 999 steps."""

    env_id = "MountainCarContinuous-v0"
    goal_position, power = 0.45, 0.0015

    def dynamics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        action = actions[:, 0]
        position, velocity = self._move(state, action.clamp(-1.0, 1.0) * self.power)
        terminated = (position >= self.goal_position) & (velocity >= 0)
        reward = torch.where(terminated, 100.0, 0.0) - 0.1 * action.square()
        return torch.stack((position, velocity), dim=1), reward, terminated


class Pendulum(BatchedEnv):
    """Pendulum-v1: state ``[theta, theta_dot]``, observation ``[cos, sin, theta_dot]``,
    reward minus the cost of angle, speed and torque, 200 steps."""

    env_id = "Pendulum-v1"
    state_dim = 2
    max_speed, max_torque, dt, g, m, length = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0

    def initial_state(self, n: int) -> Tensor:
        high = torch.tensor([math.pi, 1.0], device=self.device)
        return self._uniform(n, -high, high)

    def dynamics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        th, thdot = state.unbind(1)
        u = actions[:, 0].clamp(-self.max_torque, self.max_torque)
        normalized = torch.remainder(th + math.pi, 2 * math.pi) - math.pi
        costs = normalized.square() + 0.1 * thdot.square() + 0.001 * u.square()
        newthdot = (
            thdot
            + (3 * self.g / (2 * self.length) * torch.sin(th) + 3.0 / (self.m * self.length**2) * u)
            * self.dt
        )
        newthdot = newthdot.clamp(-self.max_speed, self.max_speed)
        newth = th + newthdot * self.dt
        return torch.stack((newth, newthdot), dim=1), -costs, torch.zeros_like(th, dtype=torch.bool)

    def observe(self, state: Tensor) -> Tensor:
        th, thdot = state.unbind(1)
        return torch.stack((torch.cos(th), torch.sin(th), thdot), dim=1)

    def set_gym_state(self, env: gym.Env, state: np.ndarray) -> None:
        super().set_gym_state(env, state)
        env.unwrapped.last_u = None


def _info(final_obs: Tensor, done: Tensor, returns: Tensor, lengths: Tensor) -> dict[str, Any]:
    """A step's ``info``: last observations and finished episodes, masked by ``done``."""
    return {
        "final_obs": final_obs,
        "_final_obs": done,
        "final_info": {"episode": {"r": returns, "l": lengths}, "_episode": done},
    }


def _ptr(tensor: Tensor) -> int:
    return tensor.data_ptr()


class _Kernel:
    """A native kernel's functions with their argument types declared once."""

    def __init__(self, lib: Any) -> None:
        import ctypes

        i64, ptr, f32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
        self.step = lib.step
        self.step.argtypes = [i64] + [ptr] * 10 + [i64, f32, f32]
        self.draw = lib.draw
        self.draw.argtypes = [i64, i64, ptr, ptr, f32, f32]
        for f in (self.step, self.draw):
            f.restype = None


BATCHED: dict[str, type[BatchedEnv]] = {
    cls.env_id: cls for cls in (CartPole, Acrobot, MountainCar, MountainCarContinuous, Pendulum)
}
"""The env ids with a batched torch version, and their classes."""


ENV_KWARGS = ("compile", "max_episode_steps", "native", "render_mode")
"""The keywords a batched env takes (``env_kwargs`` of a run with ``vec_env: torch``)."""


def check_batched(env_id: str, env_kwargs: dict[str, Any]) -> None:
    """``BadInput`` (one line listing what is supported) unless ``env_id`` has a batched
    torch version that takes ``env_kwargs``."""
    if env_id not in BATCHED:
        raise unknown("env id with a batched torch version", env_id, BATCHED, show_all=True)
    extra = sorted(set(env_kwargs) - set(ENV_KWARGS))
    if extra:
        raise BadInput(
            f"the batched {env_id} takes no env_kwargs {extra}; allowed: {list(ENV_KWARGS)}"
        )


def make_batched_env(
    env_id: str,
    n_envs: int,
    device: str | torch.device = "cpu",
    seed: int | None = None,
    **env_kwargs: Any,
) -> BatchedEnv:
    """``n_envs`` copies of ``env_id`` as one ``BatchedEnv`` on ``device`` (``BadInput`` for
    an id without a torch version, an unknown device or keywords it does not take)."""
    check_batched(env_id, env_kwargs)
    try:
        torch_device = torch.device(device)
        torch.empty(0, device=torch_device)
    except (RuntimeError, TypeError, AssertionError) as e:
        raise BadInput(
            f"unknown device {device!r} for the batched envs ({str(e).splitlines()[0]}); "
            "allowed: cpu, cuda, cuda:N where a GPU is present"
        ) from None
    env = BATCHED[env_id](n_envs, torch_device, seed, **env_kwargs)
    if seed is not None:
        env.reset(seed=seed)
    return env
