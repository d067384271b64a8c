"""The balanced interval tree that picks a kernel for a device capability (kernels.layer._interval_tree)."""

from __future__ import annotations

import random
import sys
from typing import Optional

import pytest

from kernels.layer._interval_tree import IntervalTree, _Node


def _check_avl(node: Optional[_Node]) -> int:
    """Height of ``node``'s subtree; fails if it is unbalanced, unordered or has stale bookkeeping."""
    if node is None:
        return 0
    left, right = _check_avl(node.left), _check_avl(node.right)
    assert abs(left - right) <= 1
    assert node.height == 1 + max(left, right)
    ends = [node.end] + [child.max_end for child in (node.left, node.right) if child is not None]
    assert node.max_end == max(ends)
    if node.left is not None:
        assert (node.left.start, node.left.end) < (node.start, node.end)
    if node.right is not None:
        assert (node.right.start, node.right.end) > (node.start, node.end)
    return node.height


def _brute_force(ranges: dict[tuple[int, int], str], point: int) -> Optional[str]:
    matches = [(end - start, id(data), data) for (start, end), data in ranges.items() if start <= point <= end]
    return min(matches)[2] if matches else None


def test_smallest_containing_range_wins_with_inclusive_bounds() -> None:
    tree: IntervalTree[str] = IntervalTree()
    for start, end, name in [(75, 89, "turing-ada"), (80, 89, "ampere-ada"), (90, sys.maxsize, "hopper+"),
                             (86, 86, "sm86-only")]:
        tree.insert(start, end, name)
    assert tree.find_smallest_interval(86) == "sm86-only"
    assert tree.find_smallest_interval(80) == "ampere-ada"
    assert tree.find_smallest_interval(89) == "ampere-ada"
    assert tree.find_smallest_interval(79) == "turing-ada"
    assert tree.find_smallest_interval(120) == "hopper+"
    assert tree.find_smallest_interval(74) is None
    assert IntervalTree().find_smallest_interval(80) is None
    assert sorted(tree.search(86)) == ["ampere-ada", "sm86-only", "turing-ada"]


def test_same_range_replaces_its_value() -> None:
    tree: IntervalTree[str] = IntervalTree()
    tree.insert(10, 20, "old")
    tree.insert(10, 25, "wider")
    tree.insert(10, 20, "new")
    assert len(tree) == 2
    assert tree.find_smallest_interval(15) == "new"
    assert sorted(tree.search(15)) == ["new", "wider"]


def test_ties_default_to_id_and_can_be_broken_by_a_key() -> None:
    tree: IntervalTree[str] = IntervalTree()
    first, second = "first-narrow", "second-narrow"
    tree.insert(0, 100, "wide")
    tree.insert(10, 15, first)
    tree.insert(12, 17, second)
    assert tree.find_smallest_interval(13) == min(first, second, key=id)
    order = {first: 0, second: 1}
    assert tree.find_smallest_interval(13, tie_break=lambda v: -order.get(v, -1)) == second
    assert tree.find_smallest_interval(13, tie_break=lambda v: order.get(v, 9)) == first


def test_reversed_range_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"start \(5\) is larger than end \(4\)"):
        IntervalTree().insert(5, 4, "x")


def test_sorted_insertions_stay_balanced() -> None:
    tree: IntervalTree[int] = IntervalTree()
    for i in range(512):  # Ascending keys: the worst case for an unbalanced tree.
        tree.insert(i, i + 3, i)
    assert _check_avl(tree.root) <= 10  # 1.44 * log2(512) for AVL trees
    assert set(tree.search(300)) == {297, 298, 299, 300}
    # (297, 300) .. (300, 303) are equally wide: the value with the lowest id() wins.
    assert tree.find_smallest_interval(300) == min(tree.search(300), key=id)


@pytest.mark.parametrize("seed", range(6))
def test_matches_a_brute_force_search(seed: int) -> None:
    rng = random.Random(seed)
    tree: IntervalTree[str] = IntervalTree()
    ranges: dict[tuple[int, int], str] = {}
    for i in range(rng.randint(1, 80)):
        start = rng.randint(0, 60)
        end = start + rng.choice([0, 0, 1, 5, rng.randint(0, 40)])  # Repeats and single points included.
        data = f"range-{i}"
        tree.insert(start, end, data)
        ranges[(start, end)] = data
        _check_avl(tree.root)
        assert len(tree) == len(ranges)
        for point in range(-1, 102, 3):
            assert tree.find_smallest_interval(point) == _brute_force(ranges, point), (point, ranges)
            expected = sorted(d for (s, e), d in ranges.items() if s <= point <= e)
            assert sorted(tree.search(point)) == expected
