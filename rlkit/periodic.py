"""The periodic work of a training run, in one place (the role of SB3's callbacks).

A training loop advances its env step counter and calls ``periodic.after(before, step,
metrics)``. At the intervals of the run's config this

1. logs the training metrics (with ``time/sps`` and the ``rollout/`` episode statistics),
2. evaluates (``eval_interval``) and keeps ``best.pt`` when the evaluation is the best so far,
3. records an evaluation video (``video_interval``),
4. saves ``latest.pt`` (``checkpoint_interval``),
5. and, when a signal or a callback asked the run to stop, saves and raises ``Stopped``.

A signal that comes during an evaluation or a video (whole Atari games can outlast the
grace a stop has, ``rlkit.launch.STOP_GRACE_S``) cuts it short between two env steps; the
run saves at once with that work marked pending, and ``--resume`` does it first, on the
same weights, before training on: the resumed run logs and keeps what the uninterrupted
run would have.

``finish(step)`` does the final evaluation and checkpoint and returns the summary. Every
learning agent and the SB3 baseline use it.

What an agent saves comes from its own ``state_dict()`` (weights, optimizer, replay,
where its loop stands); ``Periodic`` adds the step and its own state (episode statistics,
evaluation history, the best evaluation, the run's random generators, the number of
``metrics.jsonl`` rows), and ``restore()`` gives both back on ``--resume``.
"""

from __future__ import annotations

import math
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from rlkit.data.device import casts_kept
from rlkit.evaluation import EvalHistory, EvaluationCancelled, evaluate
from rlkit.io import atomic_write_json
from rlkit.scores import with_human_normalized
from rlkit.timing import PHASES


def crossed(before: int, after: int, interval: int) -> bool:
    """True if a multiple of ``interval`` lies in ``(before, after]`` (``interval`` 0: never)."""
    return interval > 0 and after // interval > before // interval


def plain(metrics: Mapping[str, Any]) -> dict[str, int | float]:
    """Metrics as Python ints and floats (what a ``weights_only`` checkpoint loads)."""
    return {k: int(v) if isinstance(v, int | np.integer) else float(v) for k, v in metrics.items()}


@dataclass
class EpisodeStats:
    """The last 100 finished episodes' returns and lengths, and the episode count."""

    returns: deque = field(default_factory=lambda: deque(maxlen=100))
    lengths: deque = field(default_factory=lambda: deque(maxlen=100))
    episodes: int = 0

    def add(self, episode_return: float, length: int) -> None:
        """Record one finished episode."""
        self.returns.append(float(np.asarray(episode_return).item()))
        self.lengths.append(int(np.asarray(length).item()))
        self.episodes += 1

    def record(self, info: Mapping[str, Any]) -> None:
        """Add the episodes that ended in a step, from its ``info``: a vector env's
        ``final_info`` or a single env's ``episode`` (``RecordEpisodeStatistics``)."""
        final = info.get("final_info")
        if final is not None:
            if "episode" in final:
                for i in np.flatnonzero(final["_episode"]):
                    self.add(final["episode"]["r"][i], final["episode"]["l"][i])
        elif "episode" in info:
            self.add(info["episode"]["r"], info["episode"]["l"])

    def metrics(self) -> dict[str, float]:
        """``rollout/ep_return`` and ``rollout/ep_length`` (means over the last 100 finished
        episodes, when any ended), ``rollout/ep_return_20`` (over the last 20: the window
        Atari learning targets are stated in) and ``rollout/episodes``."""
        out: dict[str, float] = {"rollout/episodes": self.episodes}
        if self.returns:
            out["rollout/ep_return"] = float(np.mean(self.returns))
            out["rollout/ep_return_20"] = float(np.mean(list(self.returns)[-20:]))
            out["rollout/ep_length"] = float(np.mean(self.lengths))
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint."""
        return {
            "returns": list(self.returns),
            "lengths": list(self.lengths),
            "episodes": self.episodes,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back ``state_dict``."""
        self.returns = deque(state["returns"], maxlen=100)
        self.lengths = deque(state["lengths"], maxlen=100)
        self.episodes = int(state["episodes"])


def update_metrics(
    parts: Sequence[Mapping[str, torch.Tensor]], grad_norms: Sequence[torch.Tensor] = ()
) -> dict[str, float]:
    """An update's ``train/`` metrics: each loss part's mean over its minibatches, and
    ``train/grad_norm``, the largest gradient norm before clipping (when it clipped)."""
    metrics = {
        f"train/{k}": float(torch.stack([p[k] for p in parts]).mean())
        for k in (parts[0] if parts else {})
    }
    if grad_norms:
        metrics["train/grad_norm"] = float(torch.stack(list(grad_norms)).max())
    return metrics


class Resumable(Protocol):
    """What an agent saves and restores: its weights, optimizer and where its loop stands."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class Periodic:
    """Log, evaluate, keep the best, checkpoint, record videos and stop, at the config's
    intervals of env steps (see the module doc).

    Args:
        config: the agent's config (``log_interval``, ``eval_interval``, ``eval_episodes``,
            ``checkpoint_interval``, ``video_interval``, ``total_steps``).
        run: the ``rlkit.rundir.Run``.
        eval_policy: makes a fresh evaluation policy (``obs -> action``).
        agent: the agent's ``state_dict`` / ``load_state_dict`` (what a checkpoint holds).
        frame_stack: passed to the evaluation env (Atari).
        parameters: named parameters for the NaN guard (``rlkit.guard``), checked by ``guard``
            and before every checkpoint.
        evaluator: ``evaluator(seed) -> EvalResult`` replaces the evaluation in a Gymnasium
            env (the batched torch envs evaluate on the device).
    """

    def __init__(
        self,
        config: Any,
        run: Any,
        eval_policy: Callable[[], Callable[[Any], Any]],
        agent: Resumable,
        frame_stack: int = 4,
        parameters: Callable[[], Iterable[tuple[str, torch.Tensor]]] | None = None,
        evaluator: Callable[[int], Any] | None = None,
    ) -> None:
        self.config, self.run, self.eval_policy, self.agent = config, run, eval_policy, agent
        self.evaluator = evaluator
        self.frame_stack, self.parameters = frame_stack, parameters
        self.stats, self.history = EpisodeStats(), EvalHistory()
        self.best_eval = -math.inf
        self.last_video = -1
        self.pending: dict[str, int] = {}
        """Work a stop cut short, by kind (``eval``, ``video``): the step it was due at."""
        self.final: dict[str, Any] | None = None
        """The final evaluation's metrics once ``finish`` has logged them (a run resumed
        after that point, a stop during the final video, does not evaluate and log again)."""
        self._saved: tuple[int, int] | None = None  # (step, metrics rows) of the last save
        self.start = time.perf_counter()
        self.start_step = 0
        self.earlier_wall_s = 0.0
        """Training wall seconds of the processes that ran this run before this one (a
        resumed run: up to its checkpoint), so that the summary's wall time and steps/s are
        the whole run's."""
        intervals = (
            config.log_interval,
            config.eval_interval,
            config.video_interval,
            config.checkpoint_interval,
        )
        self._intervals = [i for i in intervals if i > 0]
        self._next_due = 0

    # ------------------------------------------------------------ resuming

    def state_dict(self) -> dict[str, Any]:
        """What ``restore`` needs besides the agent's own state (plain data)."""
        from rlkit import snapshot

        return {
            "stats": self.stats.state_dict(),
            "eval_history": self.history.state_dict(),
            "best_eval": float(self.best_eval),
            "last_video": int(self.last_video),
            "pending": dict(self.pending),
            "final": None if self.final is None else plain(self.final),
            "rng": snapshot.rng_state(self.run.rngs),
            "log_rows": self.run.logger.rows,
            "wall_s": self.earlier_wall_s + time.perf_counter() - self.start,
        }

    def restore(self) -> int:
        """For a resumed run: the agent's and this object's state back from the checkpoint
        (the run's generators last, as they were when it was saved), then the evaluation
        and video a stop cut short at that step; returns its step. A new run returns 0."""
        from rlkit import snapshot

        checkpoint = self.run.resume
        PHASES.start(getattr(self.run, "device", "cpu"))  # the profile, if RLKIT_PROFILE
        if checkpoint is None:
            return 0
        self.agent.load_state_dict(checkpoint)
        ranks = self.run.ranks
        if ranks.active:  # this rank's own envs and observations
            self.agent.load_loop_state(checkpoint["ranks"][ranks.rank])
        state = checkpoint["resume"]
        self.stats.load_state_dict(state["stats"])
        self.history = EvalHistory.from_state_dict(state["eval_history"])
        self.best_eval, self.last_video = state["best_eval"], state["last_video"]
        self.start_step = int(checkpoint["step"])
        earlier = float(state.get("wall_s", 0.0))  # (checkpoints from before it: 0)
        self.earlier_wall_s = earlier if math.isfinite(earlier) and earlier > 0 else 0.0
        final = state.get("final")  # (checkpoints from before it: none)
        self.final = None if final is None else dict(final)
        snapshot.load_rng_state(self.run.rngs, state["rng"])
        self.run.resume = None  # restored: its memory (a DQN replay: gigabytes) can go
        pending = state.get("pending", {})  # (checkpoints from before it: none)
        if "eval" in pending:  # on the checkpoint's weights, as it would have been
            self._evaluate_and_keep_best(int(pending["eval"]))
        if "video" in pending and self.run.ranks.main:
            self._video(int(pending["video"]))
        if pending:
            self.stop_if_requested(self.start_step)  # a stop during that work: saved again
        return self.start_step

    def _save_once(self, step: int) -> None:
        """``save(step)`` unless this very state was just saved (a stop that comes right
        after a periodic checkpoint does not write the same state twice; in a data-parallel
        group, as rank 0 decides)."""
        if self.run.ranks.broadcast(self._saved != (step, self.run.logger.rows)):
            self.save(step)

    def save(self, step: int, best: bool = False) -> None:
        """Write ``latest.pt`` (and ``best.pt``): the agent's state, the step and this state.
        In a data-parallel group every rank calls it: rank 0 writes, with every rank's loop
        state (``ranks``) gathered."""
        from rlkit import guard

        if self.parameters is not None:  # never overwrite a good checkpoint with NaNs
            guard.check(step, None, self.parameters())
        self._saved = (step, self.run.logger.rows)
        ranks = self.run.ranks
        loops = ranks.gather(self.agent.loop_state()) if ranks.active else None
        if not ranks.main:
            return
        self.run.save_checkpoint(
            {
                **self.agent.state_dict(),
                "step": step,
                "episodes": self.stats.episodes,
                "eval_history": self.history.state_dict(),
                "resume": self.state_dict(),
                **({"ranks": loops} if loops is not None else {}),
            },
            best=best,
        )

    # ------------------------------------------------------------ during training

    def guard(self, step: int, metrics: Mapping[str, Any] | None = None) -> None:
        """Stop the run (``rlkit.guard.NonFinite``) at a non-finite loss, gradient norm or
        parameter, before anything of this update is logged or saved."""
        from rlkit import guard

        guard.check(step, metrics, self.parameters() if self.parameters is not None else ())

    def _stop_too(self) -> None:
        """Stop with the rest of a data-parallel group (another rank was asked to)."""
        if not self.run.stop.asked:
            self.run.stop.signum = signal.SIGTERM

    def _signalled(self) -> bool:
        """True once a signal asked the run to stop (what cuts evaluations and videos short;
        a callback's stop lets them finish, as it has no grace period to keep)."""
        return self.run.stop.signum is not None

    def evaluate(self, step: int, cancel: Callable[[], bool] | None = None) -> dict[str, float]:
        """Evaluate now (the eval seed; the global torch generator left as it was) and record
        it in the history; returns the ``eval/...`` metrics. ``cancel``: as in
        ``rlkit.evaluation.evaluate`` (``EvaluationCancelled``, nothing recorded)."""
        seed = self.run.rngs.eval_seed
        device_type = torch.device(getattr(self.run, "device", "cpu")).type
        with torch.random.fork_rng(devices=[]), casts_kept(device_type):
            torch.manual_seed(seed)
            if self.evaluator is not None:
                result = self.evaluator(seed)
            else:
                result = evaluate(
                    self.eval_policy(),
                    lambda: self.run.make_env(train=False, frame_stack=self.frame_stack),
                    self.config.eval_episodes,
                    seed=seed,
                    cancel=cancel,
                )
        # an Atari game's score also human-normalized (rlkit.scores), for its curve too
        return with_human_normalized(self.history.add(step, result), self.run.env_id)

    def video(self, step: int, cancel: Callable[[], bool] | None = None) -> None:
        """Record one evaluation episode to ``videos/`` and W&B (``cancel``: as in
        ``rlkit.evaluation.record_video``)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.run.rngs.eval_seed)
            self.run.record_eval_video(
                self.eval_policy(), step, cancel=cancel, frame_stack=self.frame_stack
            )
        self.last_video = step

    def _video(self, step: int) -> None:
        """A periodic video; left pending when a signal asks the run to stop first."""
        self.pending.pop("video", None)
        try:
            if self._signalled():
                raise EvaluationCancelled("stopping")
            self.video(step, cancel=self._signalled)
        except EvaluationCancelled:
            self.pending["video"] = step

    def log_due(self, before: int, step: int) -> bool:
        """True when going from ``before`` to ``step`` env steps logs training metrics."""
        return crossed(before, step, self.config.log_interval) or step >= self.config.total_steps

    def after(
        self,
        before: int,
        step: int,
        metrics: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        """The periodic work due from ``before`` to ``step`` env steps. ``metrics`` (or a
        function making them, called only when a log is due) are logged at log intervals."""
        ranks = self.run.ranks
        if ranks.active and ranks.any(self.run.stop.asked):
            self._stop_too()  # another rank was asked: all stop here
        if step < self._next_due and not self.run.stop.asked:
            return  # nothing due: the common case of a per-step loop
        with PHASES("periodic"):
            self._due(before, step, metrics)

    def _due(
        self,
        before: int,
        step: int,
        metrics: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None,
    ) -> None:
        """The work of ``after`` when something is due."""
        ranks = self.run.ranks
        config = self.config
        if metrics is not None and self.log_due(before, step):
            values = metrics() if callable(metrics) else metrics
            sps = (step - self.start_step) / max(time.perf_counter() - self.start, 1e-9)
            self.run.logger.log(step, {**values, "time/sps": sps, **self.stats.metrics()})
        if crossed(before, step, config.eval_interval) and step < config.total_steps:
            self._evaluate_and_keep_best(step)
        if crossed(before, step, config.video_interval) and ranks.main:
            self._video(step)
        if crossed(before, step, config.checkpoint_interval):
            self._save_once(step)  # (not again when an improved evaluation just saved it)
        self.stop_if_requested(step)
        due = [(step // i + 1) * i for i in self._intervals]
        self._next_due = min([*due, config.total_steps])

    def stop_if_requested(self, step: int) -> None:
        """When a stop was asked: this run's checkpoint at ``step`` (not again when it was
        just saved), then ``rlkit.errors.Stopped``."""
        self.run.stop_if_requested(step, self._save_once)

    def _evaluate_and_keep_best(self, step: int) -> None:
        """A periodic evaluation (rank 0 alone in a data-parallel group), and ``best.pt``
        when it is the best so far (every rank takes part in the save). A signal to stop
        cuts it short: it is left pending (every rank then stops)."""
        self.pending.pop("eval", None)
        improved = cut = False
        if self.run.ranks.main:
            try:
                result = self.evaluate(step, cancel=self._signalled)
            except EvaluationCancelled:
                cut = True
            else:
                self.run.logger.log(step, result)
                improved = result["eval/mean_return"] > self.best_eval
                self.best_eval = max(self.best_eval, result["eval/mean_return"])
        improved, cut = self.run.ranks.broadcast((improved, cut))
        if cut:
            self.pending["eval"] = step
            self._stop_too()
        elif improved:
            self.save(step, best=True)

    def finish(self, step: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The final evaluation, checkpoint (and video); returns the run's summary (in a
        data-parallel group, rank 0 evaluates and records; the others only save), with
        ``earlier_wall_s``, the training time before a resume, for ``rlkit.launch``.

        A signal during the evaluation saves and stops; ``--resume`` evaluates again. One
        during the final video saves with the video pending and stops; ``--resume`` records
        it and finishes on the evaluation already logged (no second row)."""
        ranks = self.run.ranks
        if PHASES.enabled and ranks.main and self.run.dir is not None:
            atomic_write_json(self.run.dir.path / "profile.json", PHASES.summary())
        cut = False
        if self.final is None:
            final: dict[str, Any] = {}
            if ranks.main:
                try:
                    final = self.evaluate(step, cancel=self._signalled)
                except EvaluationCancelled:  # a stop: saved here; --resume evaluates again
                    cut = True
                else:
                    self.run.logger.log(step, final)
            if ranks.broadcast(cut):
                self._stop_too()
                self.stop_if_requested(step)
            self.final = final
        final = dict(self.final)
        best = ranks.broadcast(final.get("eval/mean_return", 0) >= self.best_eval)
        self.save(step, best=best)
        if self.config.video_interval and self.last_video != step and ranks.main:
            self._video(step)  # a signal during it: left pending
        if ranks.broadcast("video" in self.pending):
            self._stop_too()
            self.save(step)  # with the video pending (the evaluation is in the last save)
            self.stop_if_requested(step)
        wall = time.perf_counter() - self.start
        if self.earlier_wall_s > 0:  # a resumed run: the whole run's rate
            sps = step / max(self.earlier_wall_s + wall, 1e-9)
        else:  # (a run resumed from a checkpoint without its wall time: this process's)
            sps = (step - self.start_step) / max(wall, 1e-9)
        return {
            "total_steps": step,
            "time/sps": sps,
            **final,
            **(extra or {}),
            "earlier_wall_s": self.earlier_wall_s,
        }
