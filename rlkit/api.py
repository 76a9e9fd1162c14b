"""The Python API: train, load, predict, evaluate, continue and save agents in memory.

::

    import rlkit
    agent = rlkit.train("ppo", "CartPole-v1", seed=0, total_steps=50_000)
    actions, state = agent.predict(obs, deterministic=True)
    result = agent.evaluate(episodes=10)      # {"eval/mean_return": ..., ...}
    agent.learn(20_000)                       # continue training the same agent
    agent.save("ppo-cartpole")                # a run dir that rlkit eval / render take
    agent = rlkit.load("ppo-cartpole")        # any rlkit run dir or checkpoint, SB3 baselines too

``rlkit.train`` plans and runs exactly as ``rlkit train`` does (``rlkit.launch``): the same
config resolution, checks, run directory, metrics and checkpoints. Bad input raises
``rlkit.BadInput`` with the line the CLI prints; a run that fails once started raises
``rlkit.RunFailed``.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit import launch
from rlkit.config import build_config, config_dict
from rlkit.errors import BadInput, Stopped
from rlkit.rundir import RunDir, StopRequest
from rlkit.scores import with_human_normalized
from rlkit.seeding import make_rngs

Callback = Callable[[dict[str, Any]], Any]
"""Called with each logged row (``step``, ``time`` and the metrics); ``False`` stops the run."""


class Agent:
    """A trained or loaded agent, in memory.

    Made by ``rlkit.train`` or ``rlkit.load``; not constructed directly.
    """

    def __init__(
        self,
        spec: launch.RunSpec,
        checkpoint: dict[str, Any],
        summary: dict[str, Any] | None,
        run_dir: Path | None,
    ) -> None:
        self._spec, self._checkpoint = spec, checkpoint
        self.summary = summary
        """The run's summary (``summary.json``), None for a run stopped early or a bare checkpoint."""
        self.run_dir = run_dir
        """The run directory it was trained in or loaded from (None: never written)."""
        self._policy, self.observation_space, self.action_space = _policy_of(spec, checkpoint)

    # ------------------------------------------------------------ what it is

    @property
    def algo(self) -> str:
        """The algorithm's name."""
        return self._spec.algo

    @property
    def env_id(self) -> str:
        """The env id it trained on (``custom-<Class>`` for a user's env)."""
        return self._spec.env_id

    @property
    def config(self) -> Any:
        """The agent's frozen ``Config``."""
        return self._spec.config

    @property
    def steps(self) -> int:
        """Env steps trained so far (sweeps for the planners)."""
        return int(self._checkpoint.get("step", self._checkpoint.get("iterations", 0)))

    @property
    def policy(self) -> Any:
        """The torch module (the actor-critic, the Q-network, SB3's policy); for tabular
        agents the ``(S,)`` tensor of greedy actions."""
        module = getattr(self._policy, "module", None)
        return module if module is not None else self._policy.table

    @property
    def values(self) -> torch.Tensor | None:
        """A planner's state values ``V`` (``(S,)``), else None."""
        return self._checkpoint.get("values")

    @property
    def q(self) -> torch.Tensor | None:
        """The action values ``Q`` (``(S, A)``) of a planner or Q-learning, else None."""
        return self._checkpoint.get("q")

    def __repr__(self) -> str:
        where = f", run_dir={str(self.run_dir)!r}" if self.run_dir is not None else ""
        return f"Agent({self.algo!r}, {self.env_id!r}, steps={self.steps}{where})"

    # ------------------------------------------------------------ acting

    def predict(
        self, obs: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        """Actions for one observation or a batch (numpy or torch), as the env takes them.

        A batch gives a batch of actions; one observation gives one. ``state`` and
        ``episode_start`` carry recurrent-ppo's LSTM memory (``(h, c)``, zeroed where an
        episode starts), as sb3-contrib's ``predict``; other agents return None.
        """
        x = obs.detach().cpu().numpy() if isinstance(obs, torch.Tensor) else np.asarray(obs)
        shape = self.observation_space.shape
        single = x.shape == tuple(shape)
        if not single and x.shape[1:] != tuple(shape):
            raise BadInput(
                f"predict takes an observation of shape {tuple(shape)} or a batch of them, "
                f"got shape {x.shape}"
            )
        batch = x[None] if single else x
        starts = episode_start
        if starts is not None:
            starts = np.atleast_1d(np.asarray(starts, dtype=bool))
        actions, state = self._policy.predict(batch, state, starts, deterministic)
        return (actions[0] if single else actions), state

    def evaluate(
        self, episodes: int | None = None, seed: int | None = None, deterministic: bool = True
    ) -> dict[str, Any]:
        """Play ``episodes`` (default: the config's ``eval_episodes``) in a fresh env, with
        the eval seed of ``seed`` (default: the run's), as ``rlkit eval`` does; returns
        ``eval/mean_return``, ``eval/std_return``, ``eval/mean_length``, ``eval/episodes``
        (on an Atari game of the Atari-57 table also ``eval/human_normalized``,
        ``rlkit.scores``) and the ``returns`` and ``lengths`` of every episode."""
        from rlkit.evaluation import evaluate

        episodes = episodes if episodes is not None else getattr(self.config, "eval_episodes", 10)
        if episodes < 1:
            raise BadInput(f"bad value episodes={episodes}; allowed: an integer >= 1")
        seed = self._spec.seed if seed is None else seed
        policy, _, _ = _policy_of(self._spec, self._checkpoint, seed, deterministic)
        eval_seed = make_rngs(seed, seed_globals=False).eval_seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(eval_seed)
            result = evaluate(policy, self._spec.make_env, episodes, seed=eval_seed)
        return {
            **with_human_normalized(result.metrics(), self._spec.env_id),
            "returns": list(result.returns),
            "lengths": list(result.lengths),
        }

    # ------------------------------------------------------------ training on

    def learn(self, steps: int, callback: Callback | None = None, progress: bool = True) -> Agent:
        """Train ``steps`` more env steps, continuing this agent in memory: its weights,
        optimizer, replay buffer, counters, random generators and envs carry on from where
        training stopped (nothing is written to disk; ``save`` does). Schedules (``lin_``
        learning rates, epsilon) stretch over the new total, as SB3's ``learn`` with
        ``reset_num_timesteps=False``. Returns the agent."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise BadInput(f"bad value steps={steps!r}; allowed: an integer >= 1")
        spec = self._spec
        if spec.implementation != "rlkit":
            raise BadInput(
                "learn() continues rlkit agents; an SB3 baseline trains with rlkit.train"
            )
        if not spec.agent.RESUMABLE or "resume" not in self._checkpoint:
            raise BadInput(
                f"{self.algo} cannot continue training: it "
                + (
                    "solves the MDP exactly; train it again"
                    if not spec.agent.RESUMABLE
                    else "was loaded from a checkpoint without its training state"
                )
            )
        check = getattr(spec.agent, "check_resume", None)
        if check is not None:
            check(self._checkpoint, "this agent")
        total = self.steps + steps
        config = build_config(type(spec.config), {**config_dict(spec.config), "total_steps": total})
        resolved = {**spec.resolved, "total_steps": total}
        follow = copy.copy(spec)
        follow.config, follow.resolved, follow.run_dir = config, resolved, None
        follow.resume, follow.restart, follow.wandb = self._checkpoint, False, "disabled"
        summary, checkpoint = _run(follow, callback, progress)
        self._spec, self._checkpoint, self.summary = follow, checkpoint, summary
        self._policy, _, _ = _policy_of(follow, checkpoint)
        return self

    def save(self, path: str | Path) -> Path:
        """Write the agent: ``path`` ending in ``.pt`` is one checkpoint file; anything else
        is a run dir (``config.yaml``, ``checkpoints/latest.pt``, ``summary.json``) that
        ``rlkit eval``, ``rlkit render`` and ``rlkit.load`` take. Returns ``path``."""
        from rlkit.checkpoint import save_checkpoint

        path = Path(path)
        state = {**self._checkpoint, "config": self._spec.resolved}
        if path.suffix == ".pt":
            path.parent.mkdir(parents=True, exist_ok=True)
            save_checkpoint(path, state)
            return path
        directory = RunDir(path)
        if not directory.config.is_file():  # a run dir of its own may be written over
            directory.check_new()
        directory.create()
        directory.write_config(self._spec.resolved)
        save_checkpoint(directory.latest, state, keep_previous=True)
        if self.summary is not None:
            directory.write_summary(self.summary)
        self.run_dir = path
        return path


def _policy_of(
    spec: launch.RunSpec,
    checkpoint: dict[str, Any],
    seed: int | None = None,
    deterministic: bool | None = None,
) -> tuple[Any, gym.Space, gym.Space]:
    """The policy of ``checkpoint`` on ``spec``'s env (the eval generator of ``seed``,
    default the run's; ``deterministic`` as given, default the run's), and the env's
    observation and action spaces."""
    if deterministic is not None:
        config = {**checkpoint["config"], "deterministic": deterministic}
        checkpoint = {**checkpoint, "config": config}
    env = spec.make_env()
    try:
        seed = spec.seed if seed is None else seed
        policy = launch.policy_of_checkpoint(checkpoint, env, spec.device, seed, "the checkpoint")
    finally:
        env.close()
    return policy, env.observation_space, env.action_space


def _run(
    spec: launch.RunSpec, callback: Callback | None, progress: bool
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Execute ``spec`` with ``callback`` on every logged row; the summary (None when the
    callback stopped the run) and the last checkpoint."""
    stop = StopRequest()
    listeners = []
    if callback is not None:

        def listen(step: int, row: Mapping[str, Any]) -> None:
            if callback(dict(row)) is False:
                stop.by_callback = True

        listeners.append(listen)
    try:
        result = launch.execute(
            spec,
            quiet=not progress,
            console=sys.stderr,
            listeners=listeners,
            handle_signals=False,
            stop=stop,
        )
    except Stopped as e:
        if e.checkpoint is None:
            raise
        return None, e.checkpoint
    if result.checkpoint is None:
        raise BadInput(f"{spec.algo} finished without a checkpoint")
    return result.summary, result.checkpoint


def train(
    algo: str,
    env: str | Callable[..., gym.Env] | gym.Env,
    *,
    config: str | Path | Mapping[str, Any] | None = None,
    seed: int | None = None,
    device: str = "auto",
    wandb: str = "disabled",
    run_dir: str | Path | None = launch.DEFAULT_RUN_DIR,
    callback: Callback | None = None,
    progress: bool = True,
    **overrides: Any,
) -> Agent:
    """Train ``algo`` on ``env`` and return the agent.

    Args:
        algo: ``value-iteration``, ``policy-iteration``, ``q-learning``, ``dqn``,
            ``reinforce``, ``a2c``, ``ppo`` or ``recurrent-ppo``.
        env: a Gymnasium id, an env factory (``lambda: MyEnv()``) or an env instance (one
            training env; evaluation plays copies of it). A user's env is checked with
            gymnasium's env checker.
        config: a YAML file or a mapping (default ``configs/<algo>/<env-id>.yaml`` when it
            exists, as ``rlkit train``).
        seed: the run seed (default 0, or the config file's).
        device: ``auto``, ``cpu`` or ``cuda``.
        wandb: ``disabled`` (default here), ``offline`` or ``online``.
        run_dir: where the run is written (default ``runs/<algo>-<env>-s<seed>-<time>``);
            None writes nothing to disk.
        callback: called with each logged row's metrics; returning ``False`` stops the run
            after its current step (the agent is returned as it is then).
        progress: show the progress line on stderr.
        **overrides: config fields, as ``key=value`` on the command line
            (``total_steps=50_000``, ``env_kwargs={"is_slippery": False}``).
    """
    spec = launch.plan_run(
        algo,
        env,
        config=config,
        overrides=overrides,
        seed=seed,
        device=device,
        run_dir=run_dir,
        wandb=wandb,
    )
    summary, checkpoint = _run(spec, callback, progress)
    path = spec.run_dir.path if spec.run_dir is not None else None
    return Agent(spec, checkpoint, summary, path)


def load(
    path: str | Path,
    env: str | Callable[..., gym.Env] | gym.Env | None = None,
    device: str = "auto",
    best: bool = False,
) -> Agent:
    """An agent from a run dir or checkpoint: rlkit's (any algorithm) or an ``rlkit
    baseline`` run (SB3's policy). ``env`` replaces the run's env id (needed for a user's
    env); ``best`` takes ``checkpoints/best.pt``."""
    checkpoint, where = launch.read_checkpoint(Path(path), best)
    agent_module = launch.load_agent(str(checkpoint["algo"]))
    saved = dict(checkpoint["config"])
    fields = {k: v for k, v in saved.items() if k in agent_module.Config.__dataclass_fields__}
    config = build_config(agent_module.Config, fields)
    if env is None:
        env_id = str(checkpoint["env_id"])
        from rlkit.envs import check_env_id

        try:
            check_env_id(env_id)
        except BadInput:
            raise BadInput(
                f"{where} was trained on {env_id}, which is not a registered id here; "
                "pass env= (your env, or a factory of it)"
            ) from None
        env_id, make = launch.env_id_and_factory(config, env_id)
    else:
        env_id, make = launch.env_id_and_factory(config, env)
    seed = int(checkpoint.get("seed", 0))
    env_kwargs = getattr(config, "env_kwargs", {})
    make_vector = launch.vector_factory(
        env_id if env is None or isinstance(env, str) else None, env_kwargs, make
    )
    spec = launch.RunSpec(
        agent_module,
        config,
        env_id,
        seed,
        launch.resolve_device(device),
        None,
        saved,
        make,
        "disabled",
        str(checkpoint.get("implementation", "rlkit")),
        make_vector=make_vector,
    )
    run_dir = where.parent.parent if where.parent.name == "checkpoints" else None
    summary = None
    if run_dir is not None and (run_dir / "summary.json").is_file():
        summary = RunDir(run_dir).read_summary()
    return Agent(spec, checkpoint, summary, run_dir)


def make_vector_env(
    env_id: str,
    n_envs: int,
    backend: str = "sync",
    device: str | None = None,
    seed: int | None = None,
    **env_kwargs: Any,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of ``env_id`` stepped together with gymnasium's ``SAME_STEP`` autoreset.

    ``backend``: ``sync`` (one process) or ``async`` (one process per env) of rlkit's
    ``make_env`` (Atari preprocessing, episode statistics); ``torch`` for the classic-control
    ids with a batched torch version (``rlkit.envs.batched``: one state tensor on
    ``device``, torch tensors in and out). With ``seed`` the envs are reset once with it
    (sync and async: copy ``i`` gets ``seed + i``, so later resets continue seeded
    streams; torch: the env's generator is seeded with it). ``env_kwargs`` go to
    ``gymnasium.make`` (torch: ``max_episode_steps`` only).
    """
    from rlkit.envs import check_env_id
    from rlkit.envs import make_vector_env as vector

    backends = ("sync", "async", "torch")
    if backend not in backends:
        from rlkit.errors import unknown

        raise unknown("vector-env backend", backend, backends, show_all=True)
    if backend == "torch":
        from rlkit.envs.batched import make_batched_env

        return make_batched_env(env_id, n_envs, device or "cpu", seed, **env_kwargs)
    if device not in (None, "cpu"):
        raise BadInput(f"the {backend} backend steps envs on the CPU; got device={device!r}")
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise BadInput(f"bad value n_envs={n_envs!r}; allowed: an integer >= 1")
    check_env_id(env_id)
    make = launch.env_factory(env_id, env_kwargs)
    envs = vector(lambda: make(), n_envs, asynchronous=backend == "async")
    if seed is not None:
        envs.reset(seed=seed)
    return envs


def evaluate_policy(
    env: str | gym.Env,
    policy: str | np.ndarray | torch.Tensor = "uniform",
    gamma: float = 0.99,
    **env_kwargs: Any,
) -> dict[str, Any]:
    """The exact value of any policy on a tabular env (its model ``env.unwrapped.P``).

    ``policy``: ``uniform``, an ``(S, A)`` table of probabilities ``pi(a|s)`` (an array or a
    ``.npy`` / ``.csv`` file), or ``(S,)`` actions (a deterministic policy). Solves
    ``(I - gamma P_pi) V = R_pi`` and returns ``values`` (``V^pi``, ``(S,)``), ``q``
    (``Q^pi``, ``(S, A)``) and ``v_start`` (the value of the initial-state distribution),
    as numpy arrays; ``rlkit train policy-evaluation`` is the same from the command line.
    """
    from rlkit.agents import policy_evaluation
    from rlkit.envs import check_plannable, make_env

    made = isinstance(env, str)
    instance = make_env(env, **env_kwargs) if made else env
    try:
        mdp = check_plannable(instance, "policy evaluation", float(gamma))
    finally:
        if made:
            instance.close()
    if isinstance(policy, torch.Tensor):
        policy = policy.detach().cpu().numpy()
    if not isinstance(policy, str) and np.asarray(policy).ndim == 1:
        actions = np.asarray(policy)
        if actions.shape != (mdp.n_states,) or not np.isin(actions, range(mdp.n_actions)).all():
            raise BadInput(
                f"a deterministic policy is one action in 0..{mdp.n_actions - 1} per state "
                f"({mdp.n_states} states), got shape {actions.shape}"
            )
        policy = np.eye(mdp.n_actions)[actions]
    table = policy_evaluation.policy_table(policy, mdp.n_states, mdp.n_actions)
    values, q = policy_evaluation.evaluate_policy(mdp, table, float(gamma), torch.device("cpu"))
    values_np = values.numpy()
    return {"values": values_np, "q": q.numpy(), "v_start": float(mdp.initial @ values_np)}
