"""A sum tree: O(log n) updates and proportional sampling, over a batch at a time.

A batch's walks run in C where a compiler is at hand (``kernels/sumtree.c`` through
``rlkit.native``): a prioritized replay's sample and priority update for 32 transitions
of a 100k buffer walk 17 levels each, which numpy does as a few array operations per
level on 32 elements (about 0.13 ms a walk, nearly all of it call overhead) and C as 544
scalar steps (about 15 us a walk here, the ctypes call and the cache misses included).
Both paths give the same leaves and the same sums, bit for bit (tested), so a run does
not depend on which one it took.
"""

from __future__ import annotations

import ctypes
import math
from functools import cache
from pathlib import Path

import numpy as np

from rlkit.native import compiled


@cache
def _kernel() -> ctypes.CDLL | None:
    """The compiled ``kernels/sumtree.c`` with its signatures, or None."""
    lib = compiled(Path(__file__).resolve().parent / "kernels" / "sumtree.c")
    if lib is None:
        return None
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.sumtree_find.argtypes = [ptr, i64, i64, ptr, i64, ptr]
    lib.sumtree_find.restype = None
    lib.sumtree_update.argtypes = [ptr, i64, ptr, ptr, i64]
    lib.sumtree_update.restype = ctypes.c_int
    lib.sumtree_set.argtypes = [ptr, i64, i64, ctypes.c_double]
    lib.sumtree_set.restype = ctypes.c_int
    return lib


class SumTree:
    """Leaves hold non-negative priorities; each inner node holds the sum of its children.

    ``find(values)`` returns, for each value in ``[0, total)``, the leaf whose prefix-sum
    interval contains it, so uniform values sample leaves in proportion to priority.
    ``native``: walk batches in C (None: where it compiles; False: numpy).
    """

    def __init__(self, capacity: int, native: bool | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.leaves = 1 << (capacity - 1).bit_length()  # next power of two
        self.tree = np.zeros(2 * self.leaves, dtype=np.float64)
        if native and _kernel() is None:
            raise RuntimeError("the sum tree's C kernel could not be compiled here")
        self.native = native is not False and _kernel() is not None
        """Whether batches walk in C."""

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self.tree[1])

    def __getitem__(self, index: np.ndarray | int) -> np.ndarray:
        return self.tree[np.asarray(index) + self.leaves]

    def update(self, index: np.ndarray | int, priority: np.ndarray | float) -> None:
        """Set the priorities of leaves ``index`` (duplicates: the last one wins)."""
        if np.ndim(index) == 0 and np.ndim(priority) == 0:
            self._update_one(int(index), float(priority))
            return
        index = np.ascontiguousarray(np.atleast_1d(index), dtype=np.int64)
        priority = np.ascontiguousarray(
            np.broadcast_to(np.asarray(priority, dtype=np.float64), index.shape)
        )
        if self.native:
            lib = _kernel()
            code = lib.sumtree_update(
                self._address(),
                self.leaves,
                index.ctypes.data,
                priority.ctypes.data,
                len(index),
            )
            self._check(code)
            return
        if (priority < 0).any() or not np.isfinite(priority).all():
            raise ValueError("priorities must be finite and >= 0")
        if len(index) == 0:
            return
        if index.min() < 0 or index.max() >= self.leaves:
            raise IndexError(f"a leaf outside the tree's {self.leaves}")
        nodes = index + self.leaves
        self.tree[nodes] = priority
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def _address(self) -> int:
        """Where the C kernel finds the tree, once it is shown to be the array the kernel
        expects (a replaced one would have it read and write past its end)."""
        tree = self.tree
        if tree.dtype != np.float64 or not tree.flags.c_contiguous or tree.size != 2 * self.leaves:
            raise ValueError(f"the tree must be {2 * self.leaves} contiguous float64 values")
        return tree.ctypes.data

    def _check(self, code: int) -> None:
        """The C kernel's refusal (nothing changed) as the numpy path raises it."""
        if code == -1:
            raise ValueError("priorities must be finite and >= 0")
        if code == -2:
            raise IndexError(f"a leaf outside the tree's {self.leaves}")

    def _update_one(self, index: int, priority: float) -> None:
        """One leaf (a replay's every ``add``): the walk up to the root in C, else in
        plain Python (about 30x faster than numpy's batched walk for one leaf); the same
        sums as the batched walk."""
        if self.native:
            self._check(_kernel().sumtree_set(self._address(), self.leaves, index, priority))
            return
        if not (priority >= 0 and math.isfinite(priority)):
            raise ValueError("priorities must be finite and >= 0")
        if not 0 <= index < self.leaves:
            raise IndexError(f"leaf {index} outside the tree's {self.leaves}")
        tree = self.tree
        node = index + self.leaves
        tree[node] = priority
        node //= 2
        while node >= 1:
            tree[node] = tree[2 * node] + tree[2 * node + 1]
            node //= 2

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index for each value in ``[0, total)``."""
        values = np.array(values, dtype=np.float64)
        if self.native:
            out = np.empty(len(values), dtype=np.int64)
            _kernel().sumtree_find(
                self._address(),
                self.leaves,
                self.capacity,
                values.ctypes.data,
                len(values),
                out.ctypes.data,
            )
            return out
        if len(values) == 0:
            return np.zeros(0, dtype=np.int64)
        nodes = np.ones(len(values), dtype=np.int64)
        while nodes[0] < self.leaves:
            left = 2 * nodes
            go_right = values >= self.tree[left]
            values = np.where(go_right, values - self.tree[left], values)
            nodes = np.where(go_right, left + 1, left)
        return np.minimum(nodes - self.leaves, self.capacity - 1)
