"""Launching a run: the library layer under ``rlkit train``, ``--seeds``, ``rlkit sweep`` and
the Python API.

Two steps, so that bad input is refused before anything is written:

* ``plan_run`` (a new run) or ``plan_resume`` (``--resume RUN_DIR``) resolve the config
  exactly as ``rlkit train`` does (``configs/<algo>/<env-id>.yaml``, a ``--config`` file or
  dict, ``key=value`` overrides), check the env against the algorithm, and return a
  ``RunSpec``: a typed description of the run. Bad input raises ``BadInput`` and writes
  nothing.
* ``execute(spec)`` creates the run directory (unless ``spec.run_dir`` is None), builds the
  Logger and the ``Run`` context, trains, and writes ``summary.json``. It returns a
  ``RunResult``; a run stopped on request raises ``Stopped``, one that fails after it
  started raises ``RunFailed`` with a one-line message.

The CLI maps those exceptions to exit codes (``BadInput`` 2, ``RunFailed`` 1, ``Stopped``
128 + the signal). ``load_run`` turns a run dir or checkpoint back into a playable policy
(``rlkit eval``, ``rlkit render``, ``rlkit.load``). See ``docs/design.md``.
"""

from __future__ import annotations

import copy
import errno
import importlib
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import gymnasium as gym
import torch

from rlkit.agents import ALGORITHMS
from rlkit.checkpoint import load_checkpoint, load_run_checkpoint
from rlkit.config import config_dict, load_config, package_versions
from rlkit.distributed import SINGLE, SPLITTABLE, Ranks
from rlkit.errors import BadInput, RunFailed, StopNow, Stopped, unknown
from rlkit.guard import NonFinite
from rlkit.logging import WANDB_MODES, Logger
from rlkit.rundir import Run, RunDir, StopRequest, default_run_dir, safe_name
from rlkit.seeding import make_rngs

DEVICES = ("auto", "cpu", "cuda")
IMPLEMENTATIONS = ("rlkit", "sb3")


class _Default:
    """The default run dir (``runs/<algo>-<env-id>-s<seed>-<time>``), as opposed to None."""

    def __repr__(self) -> str:
        return "DEFAULT_RUN_DIR"


DEFAULT_RUN_DIR: Any = _Default()
"""``run_dir=DEFAULT_RUN_DIR``: the CLI's default folder; ``run_dir=None``: write nothing."""


# ---------------------------------------------------------------- agents, devices, configs


def load_agent(algo: str) -> ModuleType:
    """The agent module of an algorithm name, or ``BadInput`` naming the valid ones."""
    if algo not in ALGORITHMS:
        raise unknown("algorithm", algo, ALGORITHMS, show_all=True)
    return importlib.import_module(ALGORITHMS[algo])


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is bad input."""
    if isinstance(name, torch.device):
        name = name.type
    if name not in DEVICES:
        raise unknown("device", str(name), DEVICES, show_all=True)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInput(
            "--device cuda asked for, but torch sees no CUDA GPU; use --device cpu or auto"
        )
    return torch.device(name)


def config_search_paths() -> list[Path]:
    """Folders searched for ``configs/<algo>/<env>.yaml``: the working dir, the installed
    package (``rlkit/configs``), then the checkout the package runs from."""
    package = Path(__file__).resolve().parent
    return [Path("configs"), package / "configs", package.parent / "configs"]


def default_config_path(algo: str, env_id: str) -> Path | None:
    """``configs/<algo>/<env-id>.yaml`` (``/`` in the id becomes ``-``) if it exists. A
    MinAtar ``-v0`` id (the game with all six actions, as MinAtar's paper played it) with
    no file of its own takes its game's ``-v1`` (minimal actions) preset: the same game and
    agent, only the action set differs."""
    from rlkit.envs.minatar import preset_id

    for env in dict.fromkeys((env_id, preset_id(env_id))):  # its own file first
        name = env.replace("/", "-") + ".yaml"
        for folder in config_search_paths():
            path = folder / algo / name
            if path.is_file():
                return path
    return None


# ---------------------------------------------------------------- environments


def env_factory(env_id: str, env_kwargs: Mapping[str, Any], **defaults: Any) -> Callable[..., Any]:
    """``make_env(seed=None, **kwargs)`` for one env id, its configured kwargs and defaults."""
    from rlkit.envs import make_env

    def make(seed: int | None = None, **kwargs: Any) -> gym.Env:
        return make_env(env_id, seed=seed, **{**defaults, **env_kwargs, **kwargs})

    return make


def _with_episode_statistics(env: gym.Env) -> gym.Env:
    """``env`` reporting finished episodes in ``info["episode"]`` (once, not twice)."""
    inner = env
    while isinstance(inner, gym.Wrapper):
        if isinstance(inner, gym.wrappers.RecordEpisodeStatistics):
            return env
        inner = inner.env
    return gym.wrappers.RecordEpisodeStatistics(env)


def custom_env_factory(source: Callable[..., gym.Env] | gym.Env) -> Callable[..., Any]:
    """A ``make_env``-like factory for a user's env factory or env instance.

    A factory is called for every env the run needs (``render_mode`` passed on when a
    video asks for frames). An instance is used as the one training env; evaluation plays
    deep copies of it taken before training starts, so the training episode is never
    disturbed.
    """
    if isinstance(source, gym.Env):
        pristine = copy.deepcopy(source)
        training = _with_episode_statistics(source)

        def make_from_instance(seed: int | None = None, train: bool = False, **_: Any) -> gym.Env:
            env = training if train else _with_episode_statistics(copy.deepcopy(pristine))
            _seed_spaces(env, seed)
            return env

        return make_from_instance

    def make_from_factory(
        seed: int | None = None, render_mode: str | None = None, **_: Any
    ) -> gym.Env:
        env = source(render_mode=render_mode) if render_mode is not None else source()
        if not isinstance(env, gym.Env):
            raise BadInput(f"the env factory returned {type(env).__name__}, not a gymnasium.Env")
        env = _with_episode_statistics(env)
        _seed_spaces(env, seed)
        return env

    return make_from_factory


def _seed_spaces(env: gym.Env, seed: int | None) -> None:
    if seed is not None:
        env.action_space.seed(seed)
        env.observation_space.seed(seed + 1)


def custom_env_id(env: gym.Env) -> str:
    """The id a user's env runs under: its registered id, else ``custom-<ClassName>``."""
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    return f"custom-{type(env.unwrapped).__name__}"


def check_custom_env(env: gym.Env) -> None:
    """Gymnasium's env checker on a user's env; its first complaint as ``BadInput``."""
    from gymnasium.utils.env_checker import check_env

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(env.unwrapped, skip_render_check=True)
    except Exception as e:  # noqa: BLE001 - every failed check is the user's env
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInput(f"the env does not pass gymnasium's env checker: {first}") from None


# ---------------------------------------------------------------- the spec of a run


@dataclass
class RunSpec:
    """A checked run: what ``execute`` needs (made by ``plan_run`` or ``plan_resume``)."""

    agent: ModuleType
    """The agent module (``rlkit.agents.ppo``, ...)."""
    config: Any
    """The agent's frozen ``Config``."""
    env_id: str
    """The Gymnasium id (``custom-<Class>`` for a user's env)."""
    seed: int
    """The run seed."""
    device: torch.device
    """Where tensors live."""
    run_dir: RunDir | None
    """Where the run is written; None writes nothing."""
    resolved: dict[str, Any]
    """``config.yaml``: algo, env_id, seed, device, implementation, every field, versions."""
    make_env: Callable[..., Any]
    """``make_env(seed=None, train=False, frame_stack=..., render_mode=None) -> gymnasium.Env``."""
    wandb: str = "offline"
    """W&B mode: online, offline or disabled."""
    implementation: str = "rlkit"
    """``rlkit`` (our agent) or ``sb3`` (the Stable-Baselines3 baseline)."""
    resume: dict[str, Any] | None = None
    """The checkpoint a resumed run continues from."""
    restart: bool = False
    """A ``--resume`` of a run killed before its first checkpoint: it starts again."""
    notes: list[str] = field(default_factory=list)
    """Warnings for the user (printed by the CLI before the run starts)."""
    make_vector: Callable[..., Any] | None = None
    """``make_vector(n_envs, backend, train, frame_stack)``: the run's vector envs."""
    ranks: Ranks = SINGLE
    """This process's place in a data-parallel run (``rlkit.distributed``)."""

    @property
    def algo(self) -> str:
        """The algorithm's name."""
        return str(self.agent.ALGO)


@dataclass
class RunResult:
    """What a finished run gives back."""

    summary: dict[str, Any]
    """``summary.json``'s content."""
    run_dir: Path | None
    """Where it was written (None for a run without a directory)."""
    checkpoint: dict[str, Any] | None
    """The last checkpoint's state, in memory."""


def vector_factory(
    env_id: str | None, env_kwargs: Mapping[str, Any], make: Callable[..., Any]
) -> Callable[..., Any]:
    """``make_vector(n_envs, backend="sync", train=True, frame_stack=4, device="cpu",
    parts=1)`` of a run's env: its ``make_env`` copies (sync, async), the C++ Atari vector
    env of ``env_id`` (ale, in ``parts`` parts) or its batched torch version on ``device``
    (torch)."""
    from rlkit.envs import make_backend_vector_env

    def make_vector(
        n_envs: int,
        backend: str = "sync",
        train: bool = True,
        frame_stack: int = 4,
        device: Any = "cpu",
        parts: int = 1,
    ):
        return make_backend_vector_env(
            env_id, dict(env_kwargs), make, n_envs, backend, train, frame_stack, device, parts
        )

    return make_vector


def check_backend(config: Any, env: Any, env_id: str) -> None:
    """``vec_env: ale`` is for Atari ids, with the ``env_kwargs`` the C++ env honours;
    ``vec_env: torch`` for the ids with a batched torch version, with its keywords."""
    backend = getattr(config, "vec_env", "sync")
    if backend == "torch":
        from rlkit.envs.batched import BATCHED, check_batched

        if not isinstance(env, str):
            raise BadInput(
                "vec_env=torch steps the batched version of an env id "
                f"({', '.join(sorted(BATCHED))}); a user's env runs with vec_env=sync"
            )
        check_batched(env_id, dict(getattr(config, "env_kwargs", {})))
        return
    if backend != "ale":
        return
    if not isinstance(env, str):
        raise BadInput(
            "vec_env=ale steps Atari games by their id; a user's env runs with vec_env=sync"
        )
    from rlkit.envs.ale_vector import ale_settings

    ale_settings(env_id, dict(getattr(config, "env_kwargs", {})))


def env_id_and_factory(config: Any, env: Any) -> tuple[str, Callable[..., Any]]:
    """``(env_id, make_env)`` of an env id (with the config's ``env_kwargs`` and
    ``frame_stack``), a user's env factory or an env instance."""
    if isinstance(env, str):
        from rlkit.envs import check_env_id

        env_id = check_env_id(env)
        safe_name(env_id)
        make = env_factory(
            env_id,
            getattr(config, "env_kwargs", {}),
            frame_stack=getattr(config, "frame_stack", 4),
        )
        return env_id, make
    if getattr(config, "env_kwargs", {}):
        raise BadInput("env_kwargs are for env ids; build your env with its keywords instead")
    make = custom_env_factory(env)
    return custom_env_id(env if isinstance(env, gym.Env) else make()), make


def env_bytes(make: Callable[..., Any]) -> int:
    """What one more env costs: the resident memory one made and reset adds (at least
    ``rlkit.resources.MIN_ENV_BYTES``)."""
    from rlkit.resources import MIN_ENV_BYTES, resident_bytes

    before = resident_bytes()
    extra = make()
    try:
        extra.reset(seed=0)
        after = resident_bytes()
    finally:
        extra.close()
    if before is None or after is None:
        return MIN_ENV_BYTES
    return max(after - before, MIN_ENV_BYTES)


def check_memory(agent: ModuleType, config: Any, probe: gym.Env, make: Callable[..., Any]) -> None:
    """The memory preflight (``rlkit.resources``): the agent's own estimate (network,
    rollout or replay buffer, table) plus ``n_envs`` envs, against what is available."""
    from rlkit.resources import check_fits

    estimate = getattr(agent, "memory_bytes", None)
    parts = dict(estimate(probe, config)) if estimate is not None else {}
    n_envs = int(getattr(config, "n_envs", 1))
    if n_envs > 1:
        parts["envs"] = (n_envs * env_bytes(make), "lower n_envs")
    check_fits(parts)


def plan_run(
    algo: str,
    env: str | Callable[..., gym.Env] | gym.Env,
    *,
    config: str | Path | Mapping[str, Any] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    seed: int | None = None,
    device: str | torch.device = "auto",
    run_dir: Any = DEFAULT_RUN_DIR,
    wandb: str = "offline",
    implementation: str = "rlkit",
) -> RunSpec:
    """Every check that can fail on bad input, before anything is written.

    ``env`` is a registered id, an env factory or an env instance (a user's env is checked
    with gymnasium's env checker). ``config`` is a YAML file or a mapping (default:
    ``configs/<algo>/<env-id>.yaml`` when it exists); ``overrides`` are ``key=value``
    strings or a mapping. ``run_dir`` None writes nothing.
    """
    agent = load_agent(algo)
    if implementation not in IMPLEMENTATIONS:
        raise unknown("implementation", implementation, IMPLEMENTATIONS, show_all=True)
    if implementation == "sb3":
        from rlkit import sb3

        sb3.check_algo(algo)
    if wandb not in WANDB_MODES:
        raise unknown("W&B mode", wandb, WANDB_MODES, show_all=True)
    if isinstance(env, str) and "=" in env:
        raise BadInput(f"expected an env id before the overrides, got {env!r}")
    if not isinstance(env, str) and not (isinstance(env, gym.Env) or callable(env)):
        raise BadInput(
            f"env must be a Gymnasium id, an env factory or an env, got {type(env).__name__}"
        )
    if config is None and isinstance(env, str):
        from rlkit.envs import check_env_id

        config = default_config_path(algo, check_env_id(env))
    config_obj, run_keys = load_config(agent.Config, config, overrides)
    env_id, make = env_id_and_factory(config_obj, env)
    check_backend(config_obj, env, env_id)
    for key, wanted in (("algo", algo), ("env_id", env_id)):
        if key in run_keys and run_keys[key] != wanted:
            raise BadInput(f"config {config} is for {key}={run_keys[key]!r}, not {wanted!r}")
    if seed is None:
        from rlkit.config import coerce

        seed = coerce("seed", run_keys.get("seed", 0), int)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadInput(f"bad value --seed {seed}; allowed: an integer >= 0")
    torch_device = resolve_device(device)
    if isinstance(env, gym.Env) and getattr(config_obj, "n_envs", 1) > 1:
        raise BadInput(
            f"{algo} with n_envs={config_obj.n_envs} needs an env factory (one env per copy), "
            "not a single env instance; pass env=lambda: MyEnv() or set n_envs=1"
        )
    notes: list[str] = []
    probe = make()  # (of an env instance: a copy, so the user's env is never stepped here)
    try:
        if not isinstance(env, str):
            check_custom_env(probe)
            probe.close()
            probe = make()
        agent.check_env(probe, config_obj)
        check_memory(agent, config_obj, probe, make)
        if implementation == "sb3":
            from rlkit import sb3

            sb3.sb3_kwargs(algo, config_obj, probe.observation_space.shape)
            speed = sb3.speed_notes(algo, config_obj)
            if speed:
                notes.append(
                    f"rlkit baseline: {', '.join(speed)} only change how rlkit computes; "
                    "SB3 runs its own way"
                )
    finally:
        probe.close()
    directory = None
    if run_dir is not None:
        label = algo if implementation == "rlkit" else f"sb3-{algo}"
        path = default_run_dir(label, env_id, seed) if run_dir is DEFAULT_RUN_DIR else run_dir
        directory = RunDir(Path(path))
        directory.check_new()
    resolved = {
        "algo": algo,
        "env_id": env_id,
        "seed": seed,
        "device": str(torch_device),
        "implementation": implementation,
        **config_dict(config_obj),
        "versions": package_versions(),
    }
    make_vector = vector_factory(
        env_id if isinstance(env, str) else None, getattr(config_obj, "env_kwargs", {}), make
    )
    return RunSpec(
        agent,
        config_obj,
        env_id,
        seed,
        torch_device,
        directory,
        resolved,
        make,
        wandb,
        implementation,
        notes=notes,
        make_vector=make_vector,
    )


def plan_group(
    algo: str,
    env_id: str,
    seeds: Sequence[int],
    parent: Path,
    *,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    device: str | torch.device = "auto",
    wandb: str = "offline",
) -> list[RunSpec]:
    """The specs of ``--seeds ... --batched``: one ``plan_run`` per seed (run dir
    ``parent/s<seed>``) on the batched torch envs (``vec_env=torch`` unless the overrides
    name a backend), checked by the agent's ``check_group``. ``BadInput`` for an agent
    that cannot batch its seeds, listing those that can."""
    agent = load_agent(algo)
    if not hasattr(agent, "train_group"):
        able = ", ".join(a for a in ALGORITHMS if hasattr(load_agent(a), "train_group"))
        raise BadInput(
            f"--batched trains seeds as one batched computation for {able}; {algo} runs "
            "its --seeds in separate processes (drop --batched)"
        )
    if len(set(seeds)) != len(seeds):
        raise BadInput(f"--batched needs distinct seeds, got {list(seeds)}")
    overrides = list(overrides)
    if not any(o.split("=", 1)[0].strip() == "vec_env" for o in overrides):
        overrides.append("vec_env=torch")
    first = plan_run(
        algo,
        env_id,
        config=config,
        overrides=overrides,
        seed=seeds[0],
        device=device,
        run_dir=parent / f"s{seeds[0]}",
        wandb=wandb,
    )
    agent.check_group(first.config)
    rest = [
        plan_run(
            algo,
            env_id,
            config=config,
            overrides=overrides,
            seed=seed,
            device=device,
            run_dir=parent / f"s{seed}",
            wandb=wandb,
        )
        for seed in seeds[1:]
    ]
    return [first, *rest]


def plan_resume(
    run_dir: str | Path, device: str | torch.device = "auto", wandb: str = "offline"
) -> RunSpec:
    """The checks of ``--resume RUN_DIR``: the run dir's algo, env, config and last checkpoint."""
    from rlkit import snapshot

    directory = RunDir(Path(run_dir))
    if not directory.path.is_dir():
        raise BadInput(f"no such run dir: {directory.path}")
    saved = directory.read_config()
    if saved.get("implementation", "rlkit") != "rlkit":
        raise BadInput(
            f"{directory.path} is an rlkit baseline run; resuming SB3 runs is not supported"
        )
    if directory.summary.is_file():
        raise BadInput(
            f"{directory.path} already finished (it has summary.json); nothing to resume"
        )
    algo = str(saved.get("algo"))
    agent = load_agent(algo)
    if not agent.RESUMABLE:
        resumable = [a for a in ALGORITHMS if load_agent(a).RESUMABLE]
        raise BadInput(
            f"--resume supports {', '.join(resumable)}; a {algo} run starts over quickly instead"
        )
    config, _ = load_config(agent.Config, directory.config, [])

    def spec_of(resume: dict[str, Any] | None) -> RunSpec:
        from rlkit.config import coerce
        from rlkit.envs import check_env_id

        if not isinstance(saved.get("env_id"), str):
            raise BadInput(f"{directory.config} names no env_id; it is not an rlkit run's config")
        env_id = check_env_id(saved["env_id"])
        seed = coerce("seed", saved.get("seed", 0), int)
        if seed < 0:
            raise BadInput(f"bad value seed={seed} in {directory.config}; allowed: an integer >= 0")
        env_kwargs = getattr(config, "env_kwargs", {})
        make = env_factory(env_id, env_kwargs, frame_stack=getattr(config, "frame_stack", 4))
        return RunSpec(
            agent,
            config,
            env_id,
            seed,
            resolve_device(device),
            directory,
            saved,
            make,
            wandb,
            resume=resume,
            make_vector=vector_factory(env_id, env_kwargs, make),
        )

    if not any((directory.checkpoints / n).is_file() for n in ("latest.pt", "previous.pt")):
        # stopped before its first checkpoint: the same seed and config replay it from the start
        spec = spec_of(None)
        spec.restart = True
        spec.notes.append(
            f"rlkit: {directory.path} has no checkpoint yet; starting it again from step 0"
        )
        return spec
    checkpoint, path = load_run_checkpoint(directory.checkpoints)
    if checkpoint.get("algo") != algo or "resume" not in checkpoint:
        raise BadInput(f"{directory.latest} is not a resumable {algo} checkpoint of this run")
    check_resume = getattr(agent, "check_resume", None)  # an agent's own condition
    if check_resume is not None:
        check_resume(checkpoint, path)
    if getattr(config, "vec_env", "sync") == "async":
        raise BadInput(
            "--resume needs vec_env=sync: async envs keep their state in worker processes "
            "that a checkpoint does not capture"
        )
    spec = spec_of(checkpoint)
    if getattr(config, "vec_env", "sync") == "ale":
        spec.notes.append(
            "rlkit: vec_env=ale keeps the games in C++, where a checkpoint cannot reach: the run "
            "continues with fresh games (weights, optimizer, replay, counters and generators as saved)"
        )
    probe = spec.make_env()
    try:
        opaque = snapshot.opaque_parts(probe)
    finally:
        probe.close()
    if opaque:
        raise BadInput(
            f"--resume of {spec.env_id} is not supported yet: {', '.join(opaque)} keeps its "
            "state in native code that a checkpoint does not capture"
        )
    return spec


def check_ranks(spec: RunSpec, nproc: int) -> None:
    """What a run split over ``nproc`` data-parallel ranks needs (``BadInput`` naming what
    is not so): an algorithm that splits, ``n_envs`` a multiple of ``nproc``, a vector env
    each rank can own."""
    if nproc < 1:
        raise BadInput(f"bad value --nproc {nproc}; allowed: an integer >= 1")
    if spec.algo not in SPLITTABLE:
        raise BadInput(
            f"--nproc splits the rollouts of {', '.join(SPLITTABLE)} over ranks; "
            f"{spec.algo} runs in one process (use --seeds for many runs)"
        )
    n_envs = spec.config.n_envs
    if n_envs < nproc or n_envs % nproc:
        raise BadInput(
            f"--nproc {nproc} needs n_envs a multiple of {nproc} (each rank steps n_envs / "
            f"nproc envs); n_envs is {n_envs}"
        )
    if spec.config.vec_env == "torch":
        raise BadInput(
            "--nproc runs vec_env sync, async or ale on each rank; the batched torch envs run "
            "many envs in one process already (use --seeds --batched for many seeds)"
        )
    if spec.implementation != "rlkit":
        raise BadInput("--nproc is rlkit's; SB3 trains in one process")
    gpus = torch.cuda.device_count() if spec.device.type == "cuda" else 0
    local = int(os.environ.get("LOCAL_WORLD_SIZE", nproc))  # ranks on this machine
    if spec.device.type == "cuda" and local > gpus:
        raise BadInput(
            f"--nproc {local} on cuda needs a GPU per rank (NCCL); this machine has {gpus} "
            "(fewer ranks, or --device cpu for gloo)"
        )


# ---------------------------------------------------------------- running


STOP_GRACE_S = float(os.environ.get("RLKIT_STOP_GRACE_S", "10"))
"""Seconds a run has, after SIGINT / SIGTERM, to reach a point where it saves (the end of
its step or update); past them it stops wherever it is, its last checkpoint standing. The
save at that point is not timed: it writes a whole checkpoint however large (a second
signal still stops it at once, the last checkpoint standing)."""

LAST_RESORT_S = 5.0
"""Seconds after ``StopNow`` is raised at which a process still running exits at once
(``os._exit``): library code that swallowed the exception, or a cleanup stuck on a lock the
exception left held, cannot keep a stopped run alive."""


def stop_on_signals(
    stop: StopRequest, console: TextIO | None, grace: float = STOP_GRACE_S
) -> Callable[[], None] | None:
    """SIGINT / SIGTERM ask the run to stop after its current step (with a checkpoint): it
    has ``grace`` seconds to reach that point from any stage (envs being built, a rollout,
    an update, an evaluation, a periodic checkpoint write, which then completes or leaves
    the previous one whole). Reaching it disarms the timer (``StopRequest.on_save_point``),
    so the stop's own checkpoint is written whole whatever its size. When the grace passes
    first, or the same signal comes again, ``StopNow`` is raised wherever the run is (a
    second SIGINT: ``KeyboardInterrupt``); should the process still be running
    ``LAST_RESORT_S`` later, it exits then (``os._exit``, one line on stderr). Returns the
    function that puts the old handlers back and disarms the timers (None off the main
    thread: no handlers there)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, _frame: object) -> None:
        if stop.signum is not None:
            if signum != stop.signum:
                return  # a Ctrl-C, then its parent's SIGTERM: one request, already under way
            if signum == signal.SIGINT:  # the same signal again: at once
                raise KeyboardInterrupt
            last_resort_in(LAST_RESORT_S)
            raise StopNow(signum)
        stop.signum = signum
        signal.setitimer(signal.ITIMER_REAL, grace)
        if console is not None:
            name = signal.Signals(signum).name
            print(
                f"\n{name}: stopping at the end of this step (within {grace:g}s) and saving "
                "a checkpoint (Ctrl-C again to stop at once, the last checkpoint standing)",
                file=console,
            )

    def out_of_time(_signum: int, _frame: object) -> None:
        last_resort_in(LAST_RESORT_S)
        raise StopNow(stop.signum if stop.signum is not None else signal.SIGTERM)

    def last_resort_in(seconds: float) -> None:
        """Arm the alarm that ends the process if it is still running ``seconds`` from now
        (``restore`` disarms it once the run is closed)."""
        signal.signal(signal.SIGALRM, exit_now)
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def exit_now(_signum: int, _frame: object) -> None:
        signum = stop.signum if stop.signum is not None else signal.SIGTERM
        sys.stderr.write(
            f"rlkit: still running {LAST_RESORT_S:g}s after it was told to stop at once; "
            "exiting now, the last checkpoint standing\n"
        )
        sys.stderr.flush()
        os._exit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, out_of_time)
    stop.on_save_point = lambda: signal.setitimer(signal.ITIMER_REAL, 0)

    def restore() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        stop.on_save_point = None
        for s, h in previous.items():
            signal.signal(s, h)

    return restore


def _create_dir(spec: RunSpec) -> bool:
    """Create a new run's directory and write its ``config.yaml``; True if it was created
    here (a resumed run's directory exists already)."""
    directory = spec.run_dir
    created = directory is not None and not directory.path.exists()
    try:
        if directory is not None and spec.resume is None and not spec.restart:
            directory.create()
            directory.write_config(spec.resolved)
    except OSError as e:  # a full disk, a read-only file system: leave nothing half-made behind
        if created:
            shutil.rmtree(directory.path, ignore_errors=True)
        raise RunFailed(f"cannot write the run dir {directory.path}: {e.strerror or e}") from e
    return created


def _open_run(
    spec: RunSpec,
    stop: StopRequest,
    console: TextIO,
    progress: bool,
    group: str | None,
    tags: Sequence[str],
    listeners: Sequence[Callable[[int, Mapping[str, Any]], None]],
) -> Run:
    """The ``Run`` of ``spec``, with its Logger (the progress line on ``console`` when
    ``progress``)."""
    directory, resume = spec.run_dir, spec.resume
    logger = Logger(
        None if directory is None else directory.path,
        total_steps=getattr(spec.config, "total_steps", 0),
        config=spec.resolved,
        wandb_mode=spec.wandb if directory is not None else "disabled",
        group=group or f"{spec.algo}-{safe_name(spec.env_id)}",
        tags=[spec.algo, spec.env_id, spec.implementation, *tags],
        console=console if progress else None,
        start_step=0 if resume is None else int(resume.get("step", 0)),
        # a resumed run keeps the rows its checkpoint saw; a restarted one keeps none
        resume_rows=(
            0 if spec.restart else None if resume is None else int(resume["resume"]["log_rows"])
        ),
        listeners=listeners,
    )
    run = Run(
        algo=spec.algo,
        env_id=spec.env_id,
        seed=spec.seed,
        device=spec.device,
        dir=directory,
        logger=logger,
        rngs=make_rngs(spec.seed),
        make_env=spec.make_env,
        make_vector_env=spec.make_vector,
        resolved_config=spec.resolved,
        resume=resume,
        ranks=spec.ranks,
    )
    spec.resume = None  # the run holds the checkpoint until it is restored, then frees it
    run.stop = stop
    if resume is not None and console is not None and directory is not None:
        pending = (resume.get("resume") or {}).get("pending") or {}
        names = {"eval": "evaluation", "video": "video"}
        first = " and ".join(f"{names.get(k, k)} at step {int(v):,}" for k, v in pending.items())
        then = f", first doing the {first} that the stop cut short" if first else ""
        print(f"resuming {directory.path} from step {int(resume['step']):,}{then}", file=console)
    return run


def _close_run(spec: RunSpec, run: Run, result: dict[str, Any], wall: float) -> dict[str, Any]:
    """Write a finished run's summary (``summary.json``, the logger's) and close its logger.
    A resumed run's ``wall_time_s`` adds the training time of the processes before this one
    (``earlier_wall_s``, which ``Periodic.finish`` reads from the checkpoint)."""
    wall += float(result.pop("earlier_wall_s", 0.0))
    summary = {
        "algo": spec.algo,
        "implementation": spec.implementation,
        "env_id": spec.env_id,
        "seed": spec.seed,
        "total_steps": result.pop("total_steps"),
        "wall_time_s": wall,
        **result,
    }
    summary.setdefault("time/sps", summary["total_steps"] / max(wall, 1e-9))
    run.logger.summary(summary)
    run.logger.close(step=summary["total_steps"])
    if spec.run_dir is not None:
        spec.run_dir.write_summary(summary)
    return summary


@contextmanager
def flushing_denormals() -> Iterator[None]:
    """Flush float32 denormals to zero on this thread while rlkit's agents train.

    Numbers below 1.2e-38 are computed in microcode on many x86 CPUs, up to a hundred times
    slower. Adam's first moments of weights whose gradient is zero (dead ReLUs) decay into
    that range within a few hundred steps, after which a fused Adam step on an Intel Xeon
    here took 0.51 ms instead of 0.05 (QR-DQN on CartPole-v1: 41 s a run flushing nothing,
    27 s flushing, the same final evaluation). TensorFlow flushes them by default; torch
    leaves it to the caller (``torch.set_flush_denormal``). The flag is the thread's own
    (torch's OpenMP workers keep theirs) and is put back as it was when the run ends. SB3
    runs (``rlkit baseline``) are left as SB3 ships.

    A thread starts with the flag of the thread that starts it, and torch's intra-op
    workers are started by the first parallel operation: if that came inside a run, they
    would flush for the rest of the process (a caller's later multi-threaded arithmetic
    with them). So the workers are started first, with one parallel fill."""
    threads = torch.get_num_threads()
    if threads > 1:  # (torch splits an elementwise op in chunks of at least 32k elements)
        torch.empty(threads * 32_768).fill_(1.0)
    before = bool((torch.tensor([1e-39]) * 1.0).item() == 0.0)  # already flushed?
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def _train(
    specs: Sequence[RunSpec],
    runs: list[Run],
    stop: StopRequest,
    body: Callable[[], list[dict[str, Any]]],
    created: Sequence[bool],
    console: TextIO,
    handle_signals: bool,
    reraise: tuple[type[BaseException], ...],
) -> list[dict[str, Any]]:
    """Run ``body`` (which opens ``runs`` and trains them) with the signal handlers and the
    exception mapping of ``execute``; returns the runs' summaries."""
    directory = specs[0].run_dir
    where = f" (run dir kept: {directory.path})" if directory is not None else ""
    start = time.perf_counter()
    restore = None
    closed: set[int] = set()
    try:
        restore = stop_on_signals(stop, console) if handle_signals else None
        results = body()
        wall = time.perf_counter() - start
        summaries = []
        for spec, run, result in zip(specs, runs, results, strict=True):
            summaries.append(_close_run(spec, run, result, wall))
            closed.add(id(run))
        return summaries
    except Stopped as e:
        e.checkpoint = runs[0].last_checkpoint if runs else None
        raise
    except StopNow as e:  # past the grace period: stopped where it was, nothing more saved
        raise Stopped(e.signum, None, saved=False) from None
    except KeyboardInterrupt:
        raise
    except reraise:
        raise
    except BadInput:
        for spec, made in zip(specs, created, strict=True):
            if made:
                shutil.rmtree(spec.run_dir.path, ignore_errors=True)
        raise
    except NonFinite as e:
        raise RunFailed(f"{e}{where}") from e
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise RunFailed(f"{type(e).__name__}: {e}{where}") from e
        target = e.filename or (directory.path if directory is not None else "a file")
        raise RunFailed(
            f"{e.strerror} writing {target}; the checkpoints written before are intact{where}"
        ) from e
    except Exception as e:  # noqa: BLE001 - reported as one line
        raise RunFailed(f"{type(e).__name__}: {e}{where}") from e
    finally:
        try:
            for run in runs:
                if id(run) not in closed:
                    run.logger.close()
        finally:  # after the close, which the last-resort alarm still covers
            if restore is not None:
                restore()


def execute(
    spec: RunSpec,
    *,
    quiet: bool = False,
    console: TextIO | None = None,
    group: str | None = None,
    tags: Sequence[str] = (),
    listeners: Sequence[Callable[[int, Mapping[str, Any]], None]] = (),
    reraise: tuple[type[BaseException], ...] = (),
    handle_signals: bool = True,
    stop: Any = None,
) -> RunResult:
    """Create the run dir, train, write ``summary.json``; return the summary.

    ``group`` and ``tags`` name the W&B run (default group ``<algo>-<env-id>``); ``listeners``
    see every logged row (a sweep's pruner, the API's callback) and may set ``stop``
    (a ``rlkit.rundir.StopRequest`` shared with the run). Exceptions in ``reraise`` (a
    pruned trial) pass through untouched. Raises ``BadInput`` (the new run dir is removed),
    ``Stopped`` (a checkpoint was saved), ``RunFailed`` (the run dir is kept) or
    ``KeyboardInterrupt``. Messages and the progress line go to ``console`` (default
    ``sys.stderr``; ``quiet`` drops the progress line).
    """
    console = sys.stderr if console is None else console
    created = _create_dir(spec)
    stop = stop if stop is not None else StopRequest()
    runs: list[Run] = []

    def body() -> list[dict[str, Any]]:
        runs.append(_open_run(spec, stop, console, not quiet, group, tags, listeners))
        if spec.implementation == "sb3":
            from rlkit import sb3

            return [sb3.train(spec.algo, spec.config, runs[0])]  # SB3 as it ships
        with flushing_denormals():
            return [spec.agent.train(spec.config, runs[0])]

    summaries = _train([spec], runs, stop, body, [created], console, handle_signals, reraise)
    directory = spec.run_dir
    return RunResult(
        summaries[0], None if directory is None else directory.path, runs[0].last_checkpoint
    )


def execute_group(
    specs: Sequence[RunSpec], *, quiet: bool = False, console: TextIO | None = None
) -> list[RunResult]:
    """``execute`` for the seeds of ``--seeds --batched``: one run dir, logger and ``Run``
    per spec (same algo, env and config; each its own seed), trained together by the
    agent's ``train_group``. The first seed shows the progress line; a stop saves every
    seed's checkpoint."""
    console = sys.stderr if console is None else console
    created = [_create_dir(spec) for spec in specs]
    stop = StopRequest()
    runs: list[Run] = []
    first = specs[0]

    def body() -> list[dict[str, Any]]:
        for i, spec in enumerate(specs):
            shown = not quiet and i == 0
            runs.append(_open_run(spec, stop, console, shown, None, ("batched",), ()))
        with flushing_denormals():
            return first.agent.train_group(first.config, runs)

    summaries = _train(specs, runs, stop, body, created, console, True, ())
    return [
        RunResult(summary, None if spec.run_dir is None else spec.run_dir.path, run.last_checkpoint)
        for summary, spec, run in zip(summaries, specs, runs, strict=True)
    ]


# ---------------------------------------------------------------- loading a run's policy


def find_checkpoint(target: Path, best: bool = False) -> Path:
    """The checkpoint of a run dir (latest.pt, or best.pt) or ``target`` itself."""
    if target.is_dir():
        path = target / "checkpoints" / ("best.pt" if best else "latest.pt")
        fallback = not best and (target / "checkpoints" / "previous.pt").is_file()
        if not path.is_file() and not fallback:
            raise BadInput(
                f"{target} has no {path.relative_to(target)}; is it a finished run directory?"
            )
        return path
    if not target.exists():
        raise BadInput(f"no such run dir or checkpoint: {target}")
    return target


def read_checkpoint(target: Path, best: bool = False) -> tuple[dict[str, Any], Path]:
    """The checkpoint of a run dir (falling back to ``previous.pt`` when ``latest.pt`` is
    damaged) or a ``.pt`` file, checked to be an rlkit checkpoint of some run."""
    path = find_checkpoint(Path(target), best)
    if path.parent.name == "checkpoints":  # a run's checkpoint: fall back to previous.pt
        checkpoint, path = load_run_checkpoint(path.parent, path.name)
    else:
        checkpoint = load_checkpoint(path)
    if not (
        isinstance(checkpoint.get("algo"), str)
        and isinstance(checkpoint.get("env_id"), str)
        and isinstance(checkpoint.get("config"), dict)
    ):
        raise BadInput(f"{path} is not an rlkit checkpoint (no algo / env_id / config)")
    return checkpoint, path


@dataclass
class LoadedRun:
    """A checkpoint's policy and what is needed to play it."""

    policy: Any
    """The evaluation policy: ``policy(obs) -> action`` and ``policy.predict(...)``."""
    path: Path
    """The checkpoint it came from."""
    algo: str
    implementation: str
    env_id: str
    seed: int
    config: dict[str, Any]
    """The run's resolved config (``deterministic`` as asked)."""
    make: Callable[..., Any]
    """The env factory of the run's env id and env_kwargs."""
    checkpoint: dict[str, Any]
    """The checkpoint's state."""


def policy_of_checkpoint(
    checkpoint: dict[str, Any], env: gym.Env, device: torch.device, seed: int, where: Any
) -> Any:
    """The policy of an rlkit or ``rlkit baseline`` checkpoint for ``env``."""
    algo = str(checkpoint["algo"])
    agent = load_agent(algo)
    try:
        if str(checkpoint.get("implementation", "rlkit")) == "sb3":
            from rlkit import sb3

            return sb3.load_policy(checkpoint, env, device=str(device), seed=seed)
        return agent.load_policy(checkpoint, env, device=str(device), seed=seed)
    except (KeyError, RuntimeError) as e:
        raise BadInput(f"{where} does not fit {algo} on {checkpoint['env_id']}: {e}") from None


def load_run(
    target: str | Path,
    best: bool = False,
    seed: int | None = None,
    device: str | torch.device = "auto",
    stochastic: bool = False,
) -> LoadedRun:
    """The policy of a run dir or checkpoint (rlkit's or ``rlkit baseline``'s), ``BadInput``
    if unusable.

    Deterministic unless ``stochastic``; sampling and DQN's ``eval_epsilon`` draw from the
    eval generator of ``seed`` (default: the run's), as training-time evaluation does.
    """
    checkpoint, path = read_checkpoint(Path(target), best)
    agent = load_agent(str(checkpoint["algo"]))
    config = {**checkpoint["config"], "deterministic": not stochastic}
    checkpoint = {**checkpoint, "config": config}
    env_id = str(checkpoint["env_id"])
    if seed is None:
        from rlkit.config import coerce

        seed = coerce("seed", checkpoint.get("seed", 0), int)
    if seed < 0:
        raise BadInput(f"bad value --seed {seed}; allowed: an integer >= 0")
    torch_device = resolve_device(device)
    from rlkit.envs import check_env_id

    try:
        check_env_id(env_id)
    except BadInput:
        raise BadInput(
            f"{path} was trained on {env_id}, which is not a registered id here; "
            "load it with rlkit.load(..., env=...) and your env"
        ) from None
    make = env_factory(
        env_id, config.get("env_kwargs", {}) or {}, frame_stack=int(config.get("frame_stack", 4))
    )
    env = make()
    try:
        policy = policy_of_checkpoint(checkpoint, env, torch_device, seed, path)
    finally:
        env.close()
    implementation = str(checkpoint.get("implementation", "rlkit"))
    return LoadedRun(
        policy, path, agent.ALGO, implementation, env_id, seed, config, make, checkpoint
    )
