"""Acting with an actor-critic: in N environments while training, and as a trained policy.

* ``action_spec``: what a policy needs to know about an action space (or a clear error).
* ``Actor``: sampled actions, their log-probabilities and values for a batch of
  observations through the torch module (actions clipped to a Box's bounds for the env
  only; the unclipped sample is what the log-probability sees).
* ``NumpyActor``: the same for an MLP on the CPU, in numpy on views of the parameters
  (acting on a handful of observations per step costs far more in torch dispatch than in
  arithmetic); ``make_actor`` picks one of the two.
* ``ActorCriticPolicy``: a trained feed-forward actor-critic as ``policy(obs) -> action``
  (evaluation: the mode, or a sample from its own generator) and ``predict`` on batches.
* ``ActorCriticState``: what an on-policy agent's checkpoint holds (``state_dict`` /
  ``load_state_dict``).
* ``load_actor_critic``: an agent's network rebuilt from a checkpoint.
* ``probe_network`` and ``on_policy_parts``: what a policy-gradient agent builds before
  its loop (spaces, network, optimizer, envs, rollouts, ``Periodic``), in one order that
  every agent shares, so that runs draw from their generators alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.data.device import casts_kept
from rlkit.distributed import SINGLE, Ranks, Rows
from rlkit.errors import BadInput
from rlkit.nn.passes import policy_model
from rlkit.optim import optimizer_from_config
from rlkit.periodic import Periodic


@dataclass(frozen=True)
class ActionSpec:
    """An action space as a policy sees it."""

    n_actions: int | None
    """Number of actions (Discrete), else None."""
    action_dim: int | None
    """Action dimensions (Box), else None."""
    low: np.ndarray | None = None
    """Lower bounds (Box)."""
    high: np.ndarray | None = None
    """Upper bounds (Box)."""

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one stored action."""
        return () if self.n_actions is not None else (int(self.action_dim),)

    @property
    def dtype(self) -> type:
        """numpy dtype of stored actions."""
        return np.int64 if self.n_actions is not None else np.float32

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the env takes them: Box samples clipped to the bounds."""
        if self.n_actions is not None:
            return actions
        return np.clip(actions, self.low, self.high)


def action_spec(
    space: gym.Space, algo: str, describe: Callable[[gym.Space], str] = str
) -> ActionSpec:
    """``ActionSpec`` of a ``Discrete`` or 1-D ``Box`` space; ``BadInput`` for anything else."""
    if isinstance(space, gym.spaces.Discrete):
        if space.start != 0:
            raise BadInput(f"{algo} needs Discrete actions starting at 0, got {describe(space)}")
        return ActionSpec(int(space.n), None)
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise BadInput(f"{algo} needs a bounded Box action space, got {describe(space)}")
        low, high = space.low.astype(np.float32), space.high.astype(np.float32)
        return ActionSpec(None, int(space.shape[0]), low, high)
    raise BadInput(f"{algo} needs a Discrete or 1-D Box action space, got {describe(space)}")


class Actor:
    """Acts in N environments at once with a feed-forward ``ActorCritic``."""

    def __init__(
        self, net: torch.nn.Module, spec: ActionSpec, device: torch.device, generator: Any
    ) -> None:
        self.net, self.spec, self.device, self.generator = net, spec, device, generator

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, episode_starts: np.ndarray | None = None):
        """``(actions to store, actions for the env, log-probs, values)`` as numpy arrays."""
        dist, values = self.net(torch.as_tensor(obs, device=self.device))
        actions = dist.sample(self.generator)
        log_probs = dist.log_prob(actions)
        actions_np = actions.cpu().numpy()
        return (
            actions_np,
            self.spec.to_env(actions_np),
            log_probs.cpu().numpy(),
            values.cpu().numpy(),
        )

    @torch.no_grad()
    def values(self, obs: np.ndarray, env_indices: np.ndarray | None = None) -> np.ndarray:
        """``V(obs)`` for a batch of observations."""
        return self.net.value(torch.as_tensor(obs, device=self.device)).cpu().numpy()


def _device_step(
    dist: Any, values: torch.Tensor, generator: Any, deterministic: bool, low: Any, high: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(actions to store, actions for the env, log-probs, values)`` of a batch's
    distribution: the mode, or a sample from ``generator`` (or one generator per stacked
    batch); Box actions for the env clipped to ``[low, high]``."""
    actions = dist.mode() if deterministic else dist.sample(generator)
    env_actions = actions if low is None else actions.clamp(low, high)
    return actions, env_actions, dist.log_prob(actions), values


def _pass_distribution(model: Any, spec: ActionSpec, obs: torch.Tensor) -> tuple[Any, torch.Tensor]:
    """The action distribution and values of ``obs`` through a written-out pass's ``act``."""
    from rlkit.distributions import Categorical, DiagGaussian

    out, values = model.act(obs)
    if spec.n_actions is not None:
        return Categorical(out), values
    return DiagGaussian(out, model.log_std.detach().unsqueeze(-2)), values


class DeviceActor:
    """Acts in a batched torch env (``vec_env: torch``): tensors in, tensors out, on the
    env's device, with no transfer to the host.

    Samples come from ``generator`` (on the device); with ``deterministic`` the mode.
    Box actions for the env are clipped to the bounds (as ``ActionSpec.to_env``).
    ``model``, a written-out pass of ``net`` (``rlkit.nn.passes.WrittenOutPolicy``), acts
    through its ``act`` instead of the module's forward (the same numbers, with less
    per-call overhead). ``state_dict`` holds the generator's state (the actor's memory in a
    checkpoint).
    """

    def __init__(
        self,
        net: torch.nn.Module,
        spec: ActionSpec,
        device: torch.device,
        seed: int,
        deterministic: bool = False,
        model: Any = None,
    ) -> None:
        self.net, self.spec, self.deterministic, self.model = net, spec, deterministic, model
        self.generator = torch.Generator(device).manual_seed(seed)
        self.low = self.high = None
        if spec.n_actions is None:
            self.low = torch.as_tensor(spec.low, device=device)
            self.high = torch.as_tensor(spec.high, device=device)

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor, episode_starts: Any = None):
        """``(actions to store, actions for the env, log-probs, values)`` as device tensors."""
        if self.model is None:
            dist, values = self.net(obs)
        else:
            dist, values = _pass_distribution(self.model, self.spec, obs)
        return _device_step(dist, values, self.generator, self.deterministic, self.low, self.high)

    @torch.no_grad()
    def values(self, obs: torch.Tensor) -> torch.Tensor:
        """``V(obs)`` for a batch of observations."""
        return self.net.value(obs) if self.model is None else self.model.values(obs)

    def state_dict(self) -> dict[str, Any]:
        """The sampling generator's state."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back ``state_dict``."""
        self.generator.set_state(state["generator"])


class GroupActor:
    """``DeviceActor`` for ``G`` seeds at once (``--seeds --batched``): ``model`` is the
    grouped written-out pass (``WrittenOutPolicy`` with a group); observations hold every
    seed's envs in turn (``(G * n, ...)``, as the rollout buffer does) and go through the
    pass as ``(G, n, ...)``; seed ``g``'s actions are drawn from ``actors[g]``'s generator,
    as its own ``DeviceActor`` would draw them. Outputs are flat again."""

    def __init__(self, model: Any, spec: ActionSpec, actors: list[DeviceActor]) -> None:
        self.model, self.spec = model, spec
        self.generators = [actor.generator for actor in actors]
        self.low, self.high = actors[0].low, actors[0].high

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor, episode_starts: Any = None):
        """``(actions to store, actions for the env, log-probs, values)``, ``(G * n, ...)``."""
        stacked = obs.unflatten(0, (len(self.generators), -1))
        dist, values = _pass_distribution(self.model, self.spec, stacked)
        out = _device_step(dist, values, self.generators, False, self.low, self.high)
        return tuple(x.flatten(0, 1) for x in out)

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        """``V(obs)`` of ``(G * n, ...)`` observations: ``(G * n,)``."""
        return self.model.values(obs.unflatten(0, (len(self.generators), -1))).flatten()


class NumpyActor:
    """``Actor`` for a vector-observation ``ActorCritic`` on the CPU, in numpy.

    Numpy on views of the parameters (``rlkit.nn.backprop.NumpyForward``) follows every
    optimizer update. Sampling uses a numpy generator: categorical by inverse transform,
    Gaussian as ``mean + std * noise``. A network with ``obs_norm`` has its observations
    normalized with the statistics current at each call.
    """

    def __init__(
        self,
        net: torch.nn.Module,
        spec: ActionSpec,
        rng: np.random.Generator | Rows,
        activation: str,
    ) -> None:
        from rlkit.nn.backprop import NumpyForward

        self.spec, self.rng = spec, rng
        self.policy = NumpyForward([*net.pi_net.linears, net.heads.policy], activation)
        self.value = NumpyForward([*net.vf_net.linears, net.heads.value], activation)
        self.log_std = None if spec.n_actions is not None else net.heads.log_std.detach().numpy()
        self.obs_norm = getattr(net, "obs_norm", None)

    def _normalized(self, obs: np.ndarray) -> np.ndarray:
        return obs if self.obs_norm is None else self.obs_norm.numpy(obs)

    def _noise(self, draw: Callable, shape: tuple[int, ...]) -> np.ndarray:
        """``draw(rng, shape)``; with ``rlkit.distributed.Rows``, this rank's rows of the
        draw for all the run's envs."""
        rows = self.rng
        if isinstance(rows, Rows):  # (rows of a 2-D draw: dim 0)
            return draw(rows.generator, (rows.total, *shape[1:]))[rows.start : rows.stop]
        return draw(rows, shape)

    @staticmethod
    def supports(net: torch.nn.Module, activation: str) -> bool:
        """True for an MLP ``ActorCritic`` with float32 CPU parameters and a tanh / relu activation."""
        return (
            not getattr(net, "image", True)
            and activation in ("tanh", "relu")
            and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters())
        )

    def __call__(self, obs: np.ndarray, episode_starts: np.ndarray | None = None):
        """``(actions to store, actions for the env, log-probs, values)``."""
        obs = self._normalized(obs)
        out = self.policy(obs)
        values = self.value(obs)[:, 0]
        if self.spec.n_actions is not None:
            shifted = out - out.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            cdf = np.exp(log_probs).cumsum(axis=1)
            u = self._noise(np.random.Generator.random, (out.shape[0], 1))
            actions = np.minimum((cdf < u).sum(axis=1), out.shape[1] - 1)
            chosen = log_probs[np.arange(out.shape[0]), actions]
            return actions, actions, chosen.astype(np.float32), values
        std = np.exp(self.log_std)
        noise = self._noise(np.random.Generator.standard_normal, out.shape)
        actions = (out + std * noise).astype(np.float32)
        z = (actions - out) / std
        log_probs = (-0.5 * z * z - self.log_std - 0.5 * np.log(2 * np.pi)).sum(axis=1)
        return actions, self.spec.to_env(actions), log_probs.astype(np.float32), values

    def values(self, obs: np.ndarray, env_indices: np.ndarray | None = None) -> np.ndarray:
        """``V(obs)`` for a batch of observations."""
        return self.value(self._normalized(obs))[:, 0]

    def act_one(self, obs: Any, deterministic: bool, rng: np.random.Generator) -> Any:
        """The action for one observation: the mode, or a sample drawn from ``rng``."""
        out = self.policy(self._normalized(np.asarray(obs)))
        if self.spec.n_actions is not None:
            if deterministic:
                return int(out.argmax())
            p = np.exp(out - out.max())
            return int(min((p.cumsum() < rng.random() * p.sum()).sum(), out.shape[0] - 1))
        if not deterministic:
            out = out + np.exp(self.log_std) * rng.standard_normal(out.shape)
        return self.spec.to_env(out.astype(np.float32))


def make_actor(
    net: torch.nn.Module,
    spec: ActionSpec,
    device: torch.device,
    rngs: Any,
    activation: str,
    ranks: Ranks = SINGLE,
    n_envs: int = 1,
) -> Actor | NumpyActor:
    """``NumpyActor`` for an MLP ``ActorCritic`` on the CPU, else the torch ``Actor``; in a
    data-parallel group, drawing the noise of all ``n_envs`` of the run and keeping this
    rank's rows (``rlkit.distributed.Rows``)."""
    if NumpyActor.supports(net, activation):
        return NumpyActor(net, spec, ranks.rows(rngs.numpy, n_envs), activation)
    return Actor(net, spec, device, ranks.rows(rngs.torch, n_envs))


class ActorCriticPolicy:
    """A feed-forward actor-critic as a policy.

    ``policy(obs)`` is one evaluation step: the mode when ``deterministic``, else a sample
    from the policy's own generator (made from ``eval_seed``), in numpy where
    ``NumpyActor`` applies (training-time evaluation and ``rlkit eval`` take the same path).
    ``predict`` acts on a batch. ``module`` is the torch network.
    """

    def __init__(
        self,
        net: torch.nn.Module,
        spec: ActionSpec,
        device: torch.device,
        activation: str,
        deterministic: bool,
        eval_seed: int,
    ) -> None:
        self.module, self.spec, self.device = net, spec, device
        self.deterministic = deterministic
        self.numpy = (
            NumpyActor(net, spec, np.random.default_rng(), activation)
            if NumpyActor.supports(net, activation)
            else None
        )
        self.rng = np.random.default_rng(eval_seed)
        self.generator = torch.Generator(device=device).manual_seed(eval_seed)

    @torch.no_grad()
    def __call__(self, obs: Any) -> Any:
        """The action for one observation."""
        if self.numpy is not None:
            return self.numpy.act_one(obs, self.deterministic, self.rng)
        dist, _ = self.module(torch.as_tensor(np.asarray(obs)[None], device=self.device))
        action = dist.mode() if self.deterministic else dist.sample(self.generator)
        action = action[0].cpu().numpy()
        return int(action) if self.spec.n_actions is not None else self.spec.to_env(action)

    @torch.no_grad()
    def predict(
        self,
        obs: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """Actions for a batch of observations (no memory: the state stays None)."""
        dist, _ = self.module(torch.as_tensor(obs, device=self.device))
        actions = dist.mode() if deterministic else dist.sample(self.generator)
        return self.spec.to_env(actions.cpu().numpy()), None


@dataclass
class ActorCriticState:
    """What an on-policy agent carries from one update to the next, and its checkpoint holds:
    the network, the optimizer, the update count and where the vector-env loop stands (the
    last observations, which envs start an episode, the envs themselves through
    ``rlkit.snapshot``, and the actor's memory when it has one)."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    env: Any
    """The vector env."""
    obs: np.ndarray | None = None
    episode_starts: np.ndarray | None = None
    updates: int = 0
    actor: Any = None
    """An actor with a memory (``state_dict`` / ``load_state_dict``), else None."""

    def loop_state(self) -> dict[str, Any]:
        """Where the vector-env loop stands (envs, last observations, episode starts, the
        actor's memory): what differs between the ranks of a data-parallel run."""
        from rlkit import snapshot

        loop = {"env": snapshot.env_state(self.env)}
        if self.obs is not None:
            loop["obs"] = snapshot.encode(self.obs)
            loop["episode_starts"] = snapshot.encode(self.episode_starts)
        if self.actor is not None:
            loop["actor"] = self.actor.state_dict()
        return loop

    def state_dict(self) -> dict[str, Any]:
        """Weights, optimizer, counter and loop state as checkpoint data."""
        return {
            # copies: a network whose parameters are views of a larger buffer (a flat one,
            # or a row of a batched group's) saves its own values, not the whole buffer
            "net": {k: v.clone() for k, v in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
            "loop": self.loop_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back ``state_dict``."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])
        self.load_loop_state(state["loop"])

    def load_loop_state(self, loop: dict[str, Any]) -> None:
        """Take back ``loop_state``."""
        from rlkit import snapshot

        snapshot.load_env_state(self.env, loop["env"])
        if "obs" in loop:
            self.obs = snapshot.decode(loop["obs"])
            self.episode_starts = snapshot.decode(loop["episode_starts"])
        if self.actor is not None:
            self.actor.load_state_dict(loop["actor"])
        if getattr(self.env, "fresh_on_resume", False):  # games whose state is out of reach
            self.obs = self.env.restart()
            self.episode_starts = np.ones(len(self.obs), dtype=np.float32)


def load_actor_critic(
    checkpoint: dict[str, Any],
    config_cls: type,
    make_network: Callable,
    env: gym.Env,
    device: str = "cpu",
) -> tuple[Any, torch.nn.Module, torch.device]:
    """The config of a checkpoint (its agent's fields rebuilt) and
    ``make_network(env, config, None)`` loaded with its weights, in eval mode on ``device``."""
    from rlkit.config import build_config

    fields = {f: v for f, v in checkpoint["config"].items() if f in config_cls.__dataclass_fields__}
    config = build_config(config_cls, fields)
    torch_device = torch.device(device)
    net = make_network(env, config, None).to(torch_device)
    net.load_state_dict(checkpoint["net"])
    net.eval()
    return config, net, torch_device


def load_actor_critic_policy(
    checkpoint: dict[str, Any],
    config_cls: type,
    make_network: Callable,
    env: gym.Env,
    algo: str,
    device: str = "cpu",
    seed: int | None = None,
) -> ActorCriticPolicy:
    """An agent's ``ActorCriticPolicy`` from its checkpoint (``load_actor_critic``), with the
    eval generator of ``seed`` (default: the run's), as training-time evaluation uses it."""
    from rlkit.seeding import make_rngs

    config, net, torch_device = load_actor_critic(checkpoint, config_cls, make_network, env, device)
    spec = action_spec(env.action_space, algo)
    run_seed = int(checkpoint.get("seed", 0)) if seed is None else seed
    eval_seed = make_rngs(run_seed, seed_globals=False).eval_seed
    return ActorCriticPolicy(
        net, spec, torch_device, config.activation, config.deterministic, eval_seed
    )


@dataclass
class RolloutParts:
    """What an on-policy loop collects rollouts with, for its ``vec_env``."""

    buffer: Any
    """``RolloutBuffer`` (numpy rows) or ``DeviceRolloutBuffer`` (tensors on the device)."""
    actor: Any
    """``make_actor``'s actor, or a ``DeviceActor``."""
    collect: Callable
    """``collect_rollout``, ``collect_rollout_overlapped`` or ``collect_device_rollout``."""
    evaluator: Callable[[int], Any] | None
    """``Periodic``'s evaluator: ``None`` (a Gymnasium env), or on the device."""


def keeping_casts(collect: Callable, device_type: str) -> Callable:
    """``collect`` inside ``rlkit.data.device.casts_kept``: a bf16 network casts its
    weights once per rollout, not once per step (they change only in the update)."""

    def collect_keeping_casts(*args: Any, **kwargs: Any) -> Any:
        with casts_kept(device_type):
            return collect(*args, **kwargs)

    return collect_keeping_casts


def rollout_env(config: Any, run: Any) -> Any:
    """An on-policy agent's vector env: this rank's share of ``n_envs`` on ``vec_env``.
    On ale, in one process with two or more envs, it comes in two parts, and
    ``rollout_parts`` collects with ``collect_rollout_overlapped``: one half of the games
    is emulated by the C++ threads while the network acts on the other half (PPO Pong on
    2 cores: env and acting together 1.2x faster than one after the other)."""
    n_envs = run.ranks.envs(config.n_envs)[1]
    # a data-parallel rank draws its actions' noise for all the run's envs at once
    # (``rlkit.distributed.Rows``), so it steps its envs whole
    split = config.vec_env == "ale" and not run.ranks.active and n_envs >= 2
    return run.make_vector_env(
        n_envs,
        config.vec_env,
        train=True,
        frame_stack=config.frame_stack,
        device=run.device,
        **({"parts": 2} if split else {}),
    )


def rollout_parts(
    config: Any,
    run: Any,
    net: torch.nn.Module,
    spec: ActionSpec,
    obs_space: gym.Space,
    state: Any,
    model: Any = None,
) -> RolloutParts:
    """The rollout buffer, actor, collect function and evaluator of an on-policy agent.

    With ``vec_env: torch`` everything stays on the run's device: a ``DeviceActor`` (its
    generator seeded from the run's torch generator and kept in ``state.actor``, so a
    checkpoint carries it), a ``DeviceRolloutBuffer``, ``collect_device_rollout`` and an
    evaluation of ``eval_episodes`` batched envs at once. Otherwise the numpy path.
    ``model``: the network's pass; a written-out one also acts (``DeviceActor``'s ``model``).
    """
    from rlkit.data.rollout import (
        DeviceRolloutBuffer,
        RolloutBuffer,
        collect_device_rollout,
        collect_rollout,
        collect_rollout_overlapped,
    )

    n_steps, device, ranks = config.n_steps, run.device, run.ranks
    _, n_envs = ranks.envs(config.n_envs)  # this rank's share (all of them in one process)
    if config.vec_env != "torch":
        buffer = RolloutBuffer(
            n_steps,
            n_envs,
            obs_space.shape,
            obs_space.dtype,
            spec.shape,
            spec.dtype,
            device,
            channels_last=getattr(config, "channels_last", False),
        )
        # acting, a few observations at a time: numpy on views of the parameters for MLPs
        # on the CPU (no per-step tensor overhead), else the module itself
        actor = make_actor(
            net, spec, device, run.rngs, config.activation, ranks, n_envs=config.n_envs
        )
        overlapped = len(getattr(state.env, "parts", ())) == 2  # (``rollout_env``)
        collect = collect_rollout_overlapped if overlapped else collect_rollout
        return RolloutParts(buffer, actor, keeping_casts(collect, device.type), None)
    from rlkit.evaluation import evaluate_batched

    seed = int(torch.randint(2**62, (1,), generator=run.rngs.torch))
    written_out = model if getattr(model, "written_out", False) else None
    actor = state.actor = DeviceActor(net, spec, device, seed, model=written_out)
    action_dtype = torch.float32 if spec.n_actions is None else torch.int64
    buffer = DeviceRolloutBuffer(n_steps, n_envs, obs_space.shape, spec.shape, action_dtype, device)

    def evaluator(eval_seed: int) -> Any:
        policy = DeviceActor(net, spec, device, eval_seed, config.deterministic)
        envs = run.make_vector_env(config.eval_episodes, "torch", False, device=device)
        return evaluate_batched(lambda obs: policy(obs)[1], envs, eval_seed)

    return RolloutParts(buffer, actor, collect_device_rollout, evaluator)


def start_rollouts(state: Any, env: Any, run: Any, periodic: Any) -> int:
    """Reset the vector env with the run's env seed, mark every env as starting an episode,
    then restore a resumed run (``periodic.restore``); returns the step to start from.
    A batched torch env (its observations are tensors) keeps the loop's state on its device."""
    first, _ = run.ranks.envs(env.num_envs * run.ranks.world)
    state.obs, _ = env.reset(seed=run.rngs.env_seed + first)  # env i of the run: env_seed + i
    state.episode_starts = np.ones(env.num_envs, dtype=np.float32)
    step = periodic.restore()  # 0, or where a resumed run's checkpoint was taken
    if torch.is_tensor(state.obs):  # (a checkpoint gives tensors back on the CPU)
        state.obs = torch.as_tensor(state.obs, device=env.device)
        state.episode_starts = torch.as_tensor(state.episode_starts, device=env.device)
    return step


MakeNetwork = Callable[[gym.Env, Any, torch.Generator | None], torch.nn.Module]
"""An agent's ``make_network(env, config, generator)``."""


def probe_network(
    config: Any,
    run: Any,
    make_network: MakeNetwork,
    algo: str,
    describe: Callable[[gym.Space], str],
) -> tuple[ActionSpec, torch.nn.Module, gym.Space]:
    """One training env, made to read its spaces and closed again: the action spec
    (``BadInput`` for actions ``algo`` cannot take; ``describe`` names the space), the
    agent's network built from the run's torch generator and moved to the run's device,
    and the observation space."""
    probe = run.make_env(train=True, frame_stack=config.frame_stack)
    try:
        spec = action_spec(probe.action_space, algo, describe)
        net = make_network(probe, config, run.rngs.torch).to(run.device)
        return spec, net, probe.observation_space
    finally:
        probe.close()


@dataclass
class OnPolicyParts:
    """What A2C and PPO train with (``on_policy_parts``); the loop itself stays in the agent."""

    net: torch.nn.Module
    model: Any
    """The network's pass (``rlkit.nn.passes.policy_model``: written out for MLPs)."""
    optimizer: torch.optim.Optimizer
    loss_config: Any
    """The config the loss sees: a data-parallel run normalizes advantages over all ranks
    itself (``Ranks.normalize_advantages``), so its loss does not."""
    env: Any
    state: ActorCriticState
    rollouts: RolloutParts
    periodic: Periodic
    step: int
    """0, or where a resumed run's checkpoint was taken."""
    episodes: Any
    """This rank's finished-episode sink (``Ranks.episodes``)."""


def on_policy_parts(
    config: Any,
    run: Any,
    make_network: MakeNetwork,
    algo: str,
    describe: Callable[[gym.Space], str],
    learning_rate: float,
) -> OnPolicyParts:
    """Build, in this order, what a feed-forward actor-critic agent needs before its first
    rollout: the network (``probe_network``) and its pass, the optimizer at
    ``learning_rate``, this rank's vector env (``rollout_env``), the state a checkpoint
    holds, the rollout buffer, actor and collect function (``rollout_parts``), ``Periodic``
    with the evaluation policy, then the first reset and a resumed run's restore
    (``start_rollouts``)."""
    spec, net, obs_space = probe_network(config, run, make_network, algo, describe)
    model = policy_model(net, config.activation, config.written_out_backprop)
    optimizer = optimizer_from_config(config, model.parameters(), lr=learning_rate)
    # data-parallel (rlkit.distributed): this rank's share of the envs and of the rollout,
    # gradients summed over the ranks; one process: all of them, sums of one
    ranks = run.ranks
    loss_config = replace(config, normalize_advantage=False) if ranks.active else config
    env = rollout_env(config, run)
    state = ActorCriticState(net, optimizer, env)
    # rollouts: numpy rows and a numpy actor, or (vec_env: torch) all on the device
    rollouts = rollout_parts(config, run, net, spec, obs_space, state, model)

    def eval_policy() -> ActorCriticPolicy:
        return ActorCriticPolicy(
            net, spec, run.device, config.activation, config.deterministic, run.rngs.eval_seed
        )

    periodic = Periodic(
        config,
        run,
        eval_policy,
        state,
        config.frame_stack,
        parameters=net.named_parameters,
        evaluator=rollouts.evaluator,
    )
    step = start_rollouts(state, env, run, periodic)
    episodes = ranks.episodes(periodic.stats, config.n_envs)
    return OnPolicyParts(
        net, model, optimizer, loss_config, env, state, rollouts, periodic, step, episodes
    )
