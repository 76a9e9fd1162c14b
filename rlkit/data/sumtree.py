"""A sum tree: O(log n) updates and proportional sampling, vectorized over a batch."""

from __future__ import annotations

import math

import numpy as np


class SumTree:
    """Leaves hold non-negative priorities; each inner node holds the sum of its children.

    ``find(values)`` returns, for each value in ``[0, total)``, the leaf whose prefix-sum
    interval contains it, so uniform values sample leaves in proportion to priority.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.leaves = 1 << (capacity - 1).bit_length()  # next power of two
        self.tree = np.zeros(2 * self.leaves, dtype=np.float64)

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
        index = np.atleast_1d(np.asarray(index, dtype=np.int64))
        priority = np.broadcast_to(np.asarray(priority, dtype=np.float64), index.shape)
        if (priority < 0).any() or not np.isfinite(priority).all():
            raise ValueError("priorities must be finite and >= 0")
        nodes = index + self.leaves
        self.tree[nodes] = priority
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def _update_one(self, index: int, priority: float) -> None:
        """One leaf (a replay's every ``add``): the walk up to the root in plain Python,
        the same sums as the batched walk (about 30x faster than it for one leaf)."""
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
        nodes = np.ones(len(values), dtype=np.int64)
        while nodes[0] < self.leaves:
            left = 2 * nodes
            go_right = values >= self.tree[left]
            values = np.where(go_right, values - self.tree[left], values)
            nodes = np.where(go_right, left + 1, left)
        return np.minimum(nodes - self.leaves, self.capacity - 1)
