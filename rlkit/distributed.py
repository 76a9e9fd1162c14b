"""Data-parallel training over ``torch.distributed`` ranks (``rlkit train --nproc N``, or
``torchrun ... -m rlkit train ...`` on many machines).

One run, ``N`` processes. Rank ``r`` steps its share of the run's ``n_envs``, the columns
``[r * n_envs / N, (r + 1) * n_envs / N)`` of the single-process rollout, and learns from
the rows of each minibatch that it holds. The split is chosen so that the run is the
single-process run of the same seed, cut into pieces:

* every rank builds the same network from the same seed (no broadcast needed) and applies
  the same summed gradient, so the weights never drift apart;
* env ``i`` of the run is seeded as in one process (``env_seed + i``), whichever rank
  steps it;
* the action noise of a step is drawn for all ``n_envs`` from the run's generator (the
  same state on every rank) and each rank keeps its own rows (``Rows``);
* a minibatch is a slice of one permutation of the whole rollout (the same on every
  rank); a rank computes its rows' share of the minibatch mean (``sum / batch_size``),
  advantages are normalized with the whole minibatch's mean and std, and the ranks' gradients
  are summed (``all_reduce``): the single-process gradient, up to the order of the sums;
* what the run logs, the episode statistics, the observation statistics and the explained
  variance are computed from every rank's data, gathered in env order.

Rank 0 alone evaluates, logs and writes the run dir; a checkpoint holds every rank's loop
state (its envs, last observations), so ``--resume`` restores every rank exactly. Gloo on
the CPU, NCCL on CUDA. Faults are left to torch's elastic launcher: a rank that dies ends
the group.

Outside a group (``WORLD_SIZE`` unset or 1) ``SINGLE`` stands in: every operation is the
identity, so the agents' loops read the same either way.
"""

from __future__ import annotations

import os
import signal as signal_module
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

SPLITTABLE = ("ppo", "a2c", "recurrent-ppo")
"""Algorithms whose training splits over ranks."""


@dataclass(frozen=True)
class Rows:
    """This rank's rows ``[start, stop)`` of noise drawn for ``total`` rows (see the
    module doc): a generator and the slice of every draw this rank keeps."""

    generator: Any
    start: int
    stop: int
    total: int
    dim: int = 0
    """The envs' dimension of the noise (1 for a recurrent actor's ``(1, n_envs, ...)``)."""


@dataclass(frozen=True)
class Ranks:
    """This process's place in a data-parallel group (``rank`` of ``world``)."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    """Where collectives' tensors live (the rank's GPU under NCCL)."""

    @property
    def main(self) -> bool:
        """True on rank 0, the one that evaluates, logs and writes."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """True in a group of more than one process."""
        return self.world > 1

    def envs(self, n_envs: int) -> tuple[int, int]:
        """``(first, count)``: the run's envs this rank steps."""
        count = n_envs // self.world
        return self.rank * count, count

    def rows(self, generator: Any, n_envs: int, dim: int = 0) -> Any:
        """``generator`` as this rank draws action noise with it: ``Rows`` in a group (the
        envs along ``dim``), else itself."""
        if not self.active:
            return generator
        first, count = self.envs(n_envs)
        return Rows(generator, first, first + count, n_envs, dim)

    # ------------------------------------------------------------ collectives

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the ranks, in place; returned."""
        if self.active:
            torch.distributed.all_reduce(tensor)
        return tensor

    def sum_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Every parameter's gradient summed over the ranks: one ``all_reduce`` of them
        flattened into one buffer."""
        if not self.active:
            return
        for p in parameters:
            if p.grad is None:  # (a parameter no output of this minibatch reached)
                p.grad = torch.zeros_like(p)
        grads = [p.grad for p in parameters]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item() > 0)

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj``, in rank order, on rank 0 (None elsewhere)."""
        if not self.active:
            return [obj]
        out: list[Any] | None = [None] * self.world if self.main else None
        torch.distributed.gather_object(obj, out, dst=0)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def columns(self, array: Any) -> np.ndarray:
        """``(n_steps, envs of this rank, ...)`` arrays of every rank side by side:
        ``(n_steps, n_envs, ...)``, the single-process layout, on every rank."""
        if not self.active:
            return np.asarray(array)
        local = torch.as_tensor(np.ascontiguousarray(array), device=self.device)
        parts = [torch.empty_like(local) for _ in range(self.world)]
        torch.distributed.all_gather(parts, local)
        return torch.cat(parts, dim=1).cpu().numpy()

    # ------------------------------------------------------------ the update's pieces

    def local_rows(self, rows: torch.Tensor, n_envs: int) -> torch.Tensor:
        """Of ``rows`` of the run's rollout (``(n_steps, n_envs * world)`` flattened), those
        this rank holds, as rows of its own ``(n_steps, n_envs)`` part, in the same order."""
        if not self.active:
            return rows
        t, column = rows // (n_envs * self.world), rows % (n_envs * self.world)
        mine = column // n_envs == self.rank
        return t[mine] * n_envs + (column[mine] - self.rank * n_envs)

    def local_envs(self, envs: torch.Tensor, n_envs: int) -> torch.Tensor:
        """Of the run's envs ``envs``, those this rank steps, as its own env indices, in
        the same order."""
        if not self.active:
            return envs
        return envs[envs // n_envs == self.rank] - self.rank * n_envs

    def normalize_advantages(self, batch: Any, batch_size: int) -> Any:
        """``batch`` with its advantages scaled by the whole minibatch's mean and (unbiased)
        std, as ``rlkit.losses.normalized`` does in one process."""
        a = batch.advantages
        moments = torch.stack([a.sum(), a.square().sum()]).double()
        total, squares = self.sum_(moments).tolist()
        if batch_size < 2:
            return batch
        mean = total / batch_size
        std = max(squares - batch_size * mean * mean, 0.0) / (batch_size - 1)
        return replace(batch, advantages=(a - mean) / (std**0.5 + 1e-8))

    def share(self, loss: Any, rows: int, batch_size: int) -> Any:
        """A rank's share of a minibatch loss computed as the mean of its ``rows``: value,
        parts and gradients times ``rows / batch_size``, so that their sums over the ranks
        are the minibatch's means (a rank without rows adds zeros)."""
        if not self.active:
            return loss
        f = rows / batch_size
        parts = {k: v * f if rows else torch.zeros_like(v) for k, v in loss.parts.items()}
        grads = {k: g * f for k, g in loss.grads.items()}
        value = None if loss.value is None else loss.value * f
        return replace(loss, value=value, parts=parts, grads=grads)

    def sum_parts(self, parts: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        """Each minibatch's loss parts summed over the ranks (one ``all_reduce``)."""
        if not self.active or not parts:
            return parts
        keys = list(parts[0])
        table = torch.stack([torch.stack([p[k].float() for k in keys]) for p in parts])
        table = self.sum_(table.to(self.device)).cpu()
        return [dict(zip(keys, row, strict=True)) for row in table]

    def episodes(self, stats: Any, n_envs: int) -> Any:
        """What a rollout records finished episodes in: ``stats`` itself in one process; in
        a group, ``RankEpisodes`` (``flush`` adds every rank's to rank 0's ``stats``)."""
        return RankEpisodes(self, stats, self.envs(n_envs)[0]) if self.active else stats

    def flush(self, episodes: Any) -> None:
        """After a rollout: a group's episodes to rank 0 (``episodes``)."""
        if isinstance(episodes, RankEpisodes):
            episodes.flush()


class RankEpisodes:
    """A rank's finished episodes of a rollout, kept with their step and env; ``flush``
    hands every rank's to rank 0's ``EpisodeStats`` in the order one process sees them
    (by step, then env)."""

    def __init__(self, ranks: Ranks, stats: Any, first_env: int) -> None:
        self.ranks, self.stats, self.first_env = ranks, stats, first_env
        self.rows: list[tuple[int, int, float, int]] = []
        self.t = 0

    def record(self, info: dict[str, Any]) -> None:
        """The episodes that ended in one step of the vector env (its ``final_info``)."""
        final = info.get("final_info")
        if final is not None and "episode" in final:
            for i in np.flatnonzero(final["_episode"]):
                episode = final["episode"]
                r, n = float(np.asarray(episode["r"][i])), int(np.asarray(episode["l"][i]))
                self.rows.append((self.t, self.first_env + int(i), r, n))
        self.t += 1

    def flush(self) -> None:
        """Every rank's episodes of the rollout to rank 0's ``stats``."""
        gathered = self.ranks.gather(self.rows)
        self.rows, self.t = [], 0
        if gathered is not None:
            for _t, _env, episode_return, length in sorted(r for rows in gathered for r in rows):
                self.stats.add(episode_return, length)


SINGLE = Ranks()
"""One process: no group."""


def from_environment() -> int:
    """The group size torch's launcher set (``WORLD_SIZE``), 1 outside one."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def join(device: torch.device) -> Ranks:
    """Join the group torch's launcher started (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT`` in the environment): gloo on the CPU, NCCL on CUDA (each rank on the
    GPU of its ``LOCAL_RANK``)."""
    world = from_environment()
    if world <= 1:
        return SINGLE
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend)
    where = torch.device("cuda", torch.cuda.current_device()) if device.type == "cuda" else device
    return Ranks(torch.distributed.get_rank(), torch.distributed.get_world_size(), where)


def lost_peer(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) came out of a collective of torch.distributed:
    another rank went away, and the launcher reports which."""
    cause = error.__cause__ or error
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return False
    tb = cause.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and f"torch{os.sep}distributed" in tb.tb_frame.f_code.co_filename


def leave() -> None:
    """Leave the group (at the end of a rank's run)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


@dataclass(frozen=True)
class Failure:
    """How a group launched by ``launch`` ended badly: the first rank that failed."""

    rank: int
    exitcode: int
    """The rank's exit status (negative: killed by that signal)."""
    signal: str | None = None
    """The signal that ended the group from outside (SIGTERM, SIGINT), if one did."""

    def describe(self) -> str:
        """``rank 1 was killed by SIGKILL`` / ``rank 0 exited with status 2``."""
        if self.exitcode < 0:
            try:
                name = signal_module.Signals(-self.exitcode).name
            except ValueError:
                name = f"signal {-self.exitcode}"
            return f"rank {self.rank} was killed by {name}"
        return f"rank {self.rank} exited with status {self.exitcode}"


def launch(argv: list[str], nproc: int, monitor_s: float = 0.1) -> Failure | None:
    """Run ``python -m rlkit.cli.main <argv>`` as ``nproc`` ranks on this machine through
    torch's elastic launcher (``torchrun --standalone``): a rendezvous on a free local
    port, no restarts, the group stopped as soon as one rank fails (the launcher checks
    every ``monitor_s`` seconds and ends the others). Returns None when every rank
    finished, else the ``Failure``."""
    import logging
    import sys
    import uuid

    from torch.distributed.elastic.multiprocessing.api import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    for name in list(logging.root.manager.loggerDict):  # the launcher's own chatter
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"rlkit-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=monitor_s,
        logs_specs=DefaultLogsSpecs(),
        start_method="spawn",
    )
    try:
        elastic_launch(config, sys.executable)("-m", "rlkit.cli.main", *argv)
    except ChildFailedError as e:
        rank, failure = min(e.failures.items(), key=lambda kv: kv[1].timestamp)
        return Failure(int(rank), int(failure.exitcode))
    except SignalException as e:
        return Failure(-1, 128 + int(e.sigval), signal_module.Signals(e.sigval).name)
    return None
