"""Evaluation: N episodes of a policy in a fresh environment; mean, std and ``eval/auc``.

The environment comes from a factory so that rlkit needs no knowledge of ``envs``;
the CLI and the agents pass ``lambda: rlkit.envs.make_env(env_id, seed, ...)``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlkit.data.device import casts_kept

Policy = Callable[[Any], Any]
"""Maps one observation to one action."""


class EvaluationCancelled(Exception):  # noqa: N818 - an outcome, like ``Stopped``
    """Raised by ``evaluate`` (and ``record_video``) when its ``cancel()`` turned true: the
    evaluation was given up between two env steps and measured nothing."""


@dataclass(frozen=True)
class EvalResult:
    """What ``evaluate`` measured."""

    returns: tuple[float, ...]
    """Undiscounted return of each episode."""
    lengths: tuple[int, ...]
    """Steps of each episode."""
    discounted_returns: tuple[float, ...] = ()
    """Discounted return of each episode (when a ``gamma`` was given)."""

    @property
    def mean(self) -> float:
        """Mean undiscounted return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation (population) of the undiscounted returns."""
        return float(np.std(self.returns))

    def metrics(self) -> dict[str, float]:
        """The ``eval/...`` metrics of this evaluation."""
        return {
            "eval/mean_return": self.mean,
            "eval/std_return": self.std,
            "eval/mean_length": float(np.mean(self.lengths)),
            "eval/episodes": len(self.returns),
        }


def evaluate(
    policy: Policy,
    make_env: Callable[[], Any],
    episodes: int,
    seed: int | None = None,
    gamma: float | None = None,
    max_steps: int | None = None,
    cancel: Callable[[], bool] | None = None,
) -> EvalResult:
    """Play ``episodes`` whole episodes of ``policy`` in one fresh env from ``make_env``.

    The first reset uses ``seed``; later resets continue the env's own generator, so a
    seed fixes the whole sequence of episodes. A policy with a ``reset()`` method (a
    recurrent policy's memory) has it called before every episode. An episode ends when
    the env terminates or truncates (its time limit), or after ``max_steps`` steps when
    that is given. ``cancel`` is asked before every step; once it returns True the env is
    closed and ``EvaluationCancelled`` raised (a stopping run gives up an evaluation of
    whole Atari games that would outlast its grace period).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = make_env()
    returns, lengths, discounted = [], [], []
    try:
        # the weights do not change while a policy is evaluated: autocast's bf16 copies
        # of them are kept from one step to the next (the nesting count that decides when
        # they are dropped is one for every device type)
        with casts_kept("cpu"):
            for episode in range(episodes):
                obs, _ = env.reset(seed=seed if episode == 0 else None)
                if hasattr(policy, "reset"):
                    policy.reset()
                total, disc, scale, steps = 0.0, 0.0, 1.0, 0
                while True:
                    if cancel is not None and cancel():
                        raise EvaluationCancelled(
                            f"cancelled in episode {episode + 1} of {episodes}"
                        )
                    obs, reward, terminated, truncated, _ = env.step(policy(obs))
                    total += float(reward)
                    if gamma is not None:
                        disc += scale * float(reward)
                        scale *= gamma
                    steps += 1
                    if terminated or truncated or (max_steps is not None and steps >= max_steps):
                        break
                returns.append(total)
                lengths.append(steps)
                discounted.append(disc)
    finally:
        env.close()
    return EvalResult(
        tuple(returns), tuple(lengths), tuple(discounted) if gamma is not None else ()
    )


def evaluate_batched(act: Callable[[Any], Any], env: Any, seed: int | None = None) -> EvalResult:
    """One whole episode in each env of a batched torch env (``rlkit.envs.batched``), all at
    once on its device: ``env.num_envs`` episodes.

    ``act(obs) -> env actions`` takes and returns device tensors. The envs are stepped
    ``env.max_episode_steps`` times, by which every first episode has ended (its time
    limit), so no step waits on the host; the returns and lengths of each env's first
    episode leave the device once, at the end.
    """
    obs, _ = env.reset(seed=seed)
    finished = torch.zeros(env.num_envs, dtype=torch.bool, device=obs.device)
    returns = torch.zeros(env.num_envs, device=obs.device)
    lengths = torch.zeros(env.num_envs, dtype=torch.int64, device=obs.device)
    for _ in range(env.max_episode_steps):
        obs, _, _, _, info = env.step(act(obs))
        first = info["final_info"]["_episode"] & ~finished
        returns = torch.where(first, info["final_info"]["episode"]["r"], returns)
        lengths = torch.where(first, info["final_info"]["episode"]["l"], lengths)
        finished |= first
    return EvalResult(
        tuple(float(r) for r in returns.cpu()), tuple(int(n) for n in lengths.cpu()), ()
    )


@dataclass
class EvalHistory:
    """Periodic evaluations of one run; ``auc`` is the sum of their mean returns."""

    steps: list[int] = field(default_factory=list)
    means: list[float] = field(default_factory=list)

    def add(self, step: int, result: EvalResult) -> dict[str, float]:
        """Record an evaluation at ``step``; return its metrics including ``eval/auc``."""
        self.steps.append(int(step))
        self.means.append(result.mean)
        return {**result.metrics(), "eval/auc": self.auc}

    @property
    def auc(self) -> float:
        """Sum over the periodic evaluations of the mean eval return."""
        return float(sum(self.means))

    def state_dict(self) -> dict[str, list]:
        """Plain data for a checkpoint."""
        return {"steps": list(self.steps), "means": list(self.means)}

    @classmethod
    def from_state_dict(cls, state: dict[str, list]) -> EvalHistory:
        """Rebuild from ``state_dict``."""
        return cls(steps=[int(s) for s in state["steps"]], means=[float(m) for m in state["means"]])


def write_mp4(path: Path, frames: Any, fps: float) -> None:
    """Encode ``frames`` (an iterable of H x W x 3 uint8 arrays) to an H.264 mp4, every frame kept, via a temp file."""
    import imageio.v2 as imageio

    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.mp4")
    try:
        writer = imageio.get_writer(
            tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", macro_block_size=1
        )
        try:
            for frame in frames:
                writer.append_data(np.asarray(frame))
        finally:
            writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _frame_exact_recorder() -> type:
    from gymnasium.wrappers import RecordVideo

    class FrameExactRecordVideo(RecordVideo):
        """gymnasium's ``RecordVideo`` (it decides what to capture: the reset frame and one per
        step), writing each video itself: moviepy's writer takes ``int(duration * fps)``
        frames, which drops the last one whenever the float product falls just short
        (501 frames at 50 fps become 500)."""

        def discard(self) -> None:
            """Drop the frames recorded so far: an episode given up leaves no file."""
            self.recorded_frames = []

        def stop_recording(self) -> None:
            if self.recorded_frames:
                write_mp4(
                    Path(self.video_folder) / f"{self._video_name}.mp4",
                    self.recorded_frames,
                    self.frames_per_sec,
                )
            self.recorded_frames = []
            self.recording = False
            self._video_name = None

    return FrameExactRecordVideo


def record_video(
    policy: Policy,
    make_env: Callable[[], Any],
    folder: str | os.PathLike,
    name_prefix: str,
    episodes: int = 1,
    seed: int | None = None,
    fps: int | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[EvalResult, list[Path]]:
    """Play ``episodes`` episodes as ``evaluate`` does and write each to an mp4.

    ``make_env()`` must give an env with ``render_mode="rgb_array"``; gymnasium's
    ``RecordVideo`` writes ``<folder>/<name_prefix>-episode-<i>.mp4`` with one frame for the
    reset and one per step (``length + 1`` frames). Returns the evaluation and the files,
    in episode order. ``cancel`` as in ``evaluate``: the episode it cuts short is not
    written.
    """
    import warnings

    folder = Path(folder)
    os.environ.setdefault(
        "SDL_VIDEODRIVER", "dummy"
    )  # pygame renders off-screen, no display needed
    env = make_env()
    if getattr(env, "render_mode", None) != "rgb_array":
        env.close()
        raise ValueError(f"record_video needs render_mode='rgb_array', got {env.render_mode!r}")
    with warnings.catch_warnings():  # a videos/ folder that already holds other files is fine
        warnings.filterwarnings("ignore", message=".*Overwriting existing videos.*")
        recorder = _frame_exact_recorder()(
            env, str(folder), episode_trigger=lambda _: True, name_prefix=name_prefix, fps=fps
        )

    def cut() -> bool:
        if cancel is not None and cancel():
            recorder.discard()  # before evaluate closes the recorder, which would write it
            return True
        return False

    result = evaluate(policy, lambda: recorder, episodes, seed=seed, cancel=cut)
    files = [folder / f"{name_prefix}-episode-{i}.mp4" for i in range(episodes)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise RuntimeError(f"RecordVideo wrote no {', '.join(missing)}")
    return result, files


def join_videos(parts: list[Path], out: Path) -> None:
    """Write ``parts`` one after another into ``out``, every frame kept, atomically."""
    if len(parts) == 1:
        tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.mp4")
        try:
            shutil.copyfile(parts[0], tmp)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return
    import imageio.v3 as iio

    fps = iio.immeta(parts[0]).get("fps", 30)
    frames = (frame for part in parts for frame in iio.imiter(part))
    write_mp4(out, frames, fps)
