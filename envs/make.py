"""``make_env``: the one entry point for every registered Gymnasium id."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from rlkit.errors import BadInput, unknown


def _register_atari() -> None:
    """Register ale-py's ids (imported only when an Atari id is asked for)."""
    try:
        import ale_py
    except ImportError:  # pragma: no cover - ale-py is a dependency
        return
    gym.register_envs(ale_py)


def env_ids(include_atari: bool = False) -> list[str]:
    """Every registered Gymnasium id (the ids registered on demand, Atari's and MinAtar's,
    only when asked: Atari's are many)."""
    if include_atari:
        from rlkit.envs.minatar import register_minatar

        _register_atari()
        register_minatar()
    return sorted(gym.registry)


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if registered, else raise ``BadInput`` naming close matches."""
    if env_id in gym.registry:
        return env_id
    _register_atari()  # Atari ids exist only once ale-py is imported
    if env_id in gym.registry:
        return env_id
    from rlkit.envs.minatar import register_minatar

    # MinAtar's ids too are registered on demand: for the id itself, and so that a
    # near miss (``MinAtar-Breakout-v1``, a config file's name) is offered the real one
    if not register_minatar() and env_id.startswith("MinAtar/"):
        raise BadInput(
            f"{env_id} needs the minatar package (a dependency of rlkit): pip install minatar"
        )
    if env_id in gym.registry:
        return env_id
    raise unknown("env id", env_id, gym.registry.keys())


def make_env(
    env_id: str,
    seed: int | None = None,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    train: bool = False,
    frame_stack: int = 4,
    **kwargs: Any,
) -> gym.Env:
    """Make ``env_id`` with gymnasium, seeding its spaces with ``seed``.

    Atari ids get the Nature preprocessing (``rlkit.envs.atari``): with ``train=True`` a lost
    life ends the episode and rewards are clipped; with ``train=False`` (evaluation)
    an episode is a whole game with the real score. ``frame_stack`` applies to Atari
    only. Every env reports finished episodes in ``info["episode"]`` (for Atari: whole
    games with the real score). ``max_episode_steps`` overrides the registered time limit.
    ``kwargs`` go to ``gymnasium.make``; an error the env's constructor raises with them,
    or a package the id needs and lacks (Box2D, an entry point's module), is a
    ``BadInput`` of one line naming the id and the keywords. The caller passes ``seed`` to the first ``reset`` as usual;
    here it seeds the action and observation spaces so that ``action_space.sample()``
    is reproducible too.
    """
    from rlkit.envs.atari import is_atari, make_atari
    from rlkit.envs.minatar import is_minatar, make_minatar

    check_env_id(env_id)
    try:
        if is_minatar(env_id):
            make_kwargs = dict(kwargs)
            if render_mode is not None:
                make_kwargs["render_mode"] = render_mode
            if max_episode_steps is not None:
                make_kwargs["max_episode_steps"] = max_episode_steps
            env = make_minatar(env_id, **make_kwargs)
        elif is_atari(env_id):
            env = make_atari(
                env_id,
                train=train,
                frame_stack=frame_stack,
                render_mode=render_mode,
                max_episode_steps=max_episode_steps,
                **kwargs,
            )
        else:
            make_kwargs: dict[str, Any] = dict(kwargs)
            if render_mode is not None:
                make_kwargs["render_mode"] = render_mode
            if max_episode_steps is not None:
                make_kwargs["max_episode_steps"] = max_episode_steps
            env = gym.wrappers.RecordEpisodeStatistics(gym.make(env_id, **make_kwargs))
    except gym.error.DependencyNotInstalled as e:
        raise BadInput(
            f"{env_id} needs a package that is not installed: {_first_line(e)}"
        ) from None
    except ImportError as e:  # the package of the id's entry point (or of a ROM) is missing
        missing = f"the package {e.name!r}" if getattr(e, "name", None) else "a package"
        raise BadInput(
            f"{env_id} needs {missing}, which is not installed ({_first_line(e)})"
        ) from None
    except Exception as e:  # noqa: BLE001 - the constructor's own error, with the user's keywords
        if not kwargs:
            raise  # not a bad keyword: a real failure, reported by the run as such
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise BadInput(
            f"bad env_kwargs for {env_id}: {given} made its constructor fail with "
            f"{type(e).__name__}: {_first_line(e)}"
        ) from None
    if seed is not None:
        env.action_space.seed(seed)
        env.observation_space.seed(seed + 1)
    return env


def _first_line(error: BaseException) -> str:
    """The first line of an error's message (some constructors' run to many lines)."""
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def describe_space(space: gym.Space) -> str:
    """A short description of a space: ``Box(shape=(4,), float32)``, ``Discrete(2)``."""
    if isinstance(space, gym.spaces.Box):
        return f"Box(shape={space.shape}, {space.dtype})"
    return str(space)
