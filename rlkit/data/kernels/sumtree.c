/* The sum tree of rlkit.data.sumtree in C: the walks down (find) and up (update) for a
 * batch, one scalar step at a time, with the comparisons, subtractions and sums of the
 * numpy path in the same order, so both give the same leaves and the same tree bit for
 * bit. The tree is an array of 2 * leaves doubles: node 1 is the root, node k has the
 * children 2k and 2k + 1, leaf i is node leaves + i (leaves a power of two). */

#include <math.h>
#include <stdint.h>

/* For each of the n values, the leaf whose prefix-sum interval holds it, capped at
 * capacity - 1 (the padding leaves past the capacity hold 0). */
void sumtree_find(const double *tree, int64_t leaves, int64_t capacity, const double *values,
                  int64_t n, int64_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        double value = values[i];
        int64_t node = 1;
        while (node < leaves) {
            int64_t left = 2 * node;
            if (value >= tree[left]) {
                value = value - tree[left];
                node = left + 1;
            } else {
                node = left;
            }
        }
        int64_t leaf = node - leaves;
        out[i] = leaf < capacity - 1 ? leaf : capacity - 1;
    }
}

/* Set leaf index[i] to priority[i] for i = 0..n-1 in turn (of duplicate leaves the last
 * one wins) and make every node above a changed leaf the sum of its children. Each walk
 * goes up to the root, so the last walk through a node computes it from its final
 * children: the same sums as the numpy path's level-by-level pass. Checks everything
 * first and changes nothing when it returns non-zero: -1 a priority negative or not
 * finite, -2 a leaf outside [0, leaves). */
int sumtree_update(double *tree, int64_t leaves, const int64_t *index, const double *priority,
                   int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!(priority[i] >= 0.0) || !isfinite(priority[i]))
            return -1;
        if (index[i] < 0 || index[i] >= leaves)
            return -2;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t node = index[i] + leaves;
        tree[node] = priority[i];
        for (node /= 2; node >= 1; node /= 2)
            tree[node] = tree[2 * node] + tree[2 * node + 1];
    }
    return 0;
}

/* One leaf (a replay's every add): sumtree_update of a batch of one, without arrays. */
int sumtree_set(double *tree, int64_t leaves, int64_t index, double priority)
{
    return sumtree_update(tree, leaves, &index, &priority, 1);
}
