"""A balanced (AVL) interval tree: which registered capability ranges contain a device's capability.

Kernel mappings restrict kernels to inclusive capability ranges
(``CUDAProperties(min_capability, max_capability)``); ``kernelize`` picks the
smallest range that contains the GPU's capability. The tree keeps at most one
value per ``(start, end)`` pair (inserting the same range again replaces its
value) and stays height-balanced, so lookups stay logarithmic plus the number
of matches however many ranges are registered.

Upstream ``kernels`` has a module of this name with the same interface
(``IntervalTree``, ``_Node``); code and tests that import it keep working.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class _Node(Generic[T]):
    """One range and its value; ``max_end`` is the largest ``end`` in this subtree (prunes searches)."""

    __slots__ = ("start", "end", "data", "left", "right", "height", "max_end")

    def __init__(self, start: int, end: int, data: T) -> None:
        self.start = start
        self.end = end
        self.data = data
        self.left: Optional[_Node[T]] = None
        self.right: Optional[_Node[T]] = None
        self.height = 1
        self.max_end = end

    def __repr__(self) -> str:
        return f"_Node({self.start}, {self.end})"


def _height(node: Optional[_Node[Any]]) -> int:
    return 0 if node is None else node.height


def _refresh(node: _Node[Any]) -> None:
    """Recompute ``height`` and ``max_end`` from the children."""
    node.height = 1 + max(_height(node.left), _height(node.right))
    node.max_end = max(
        node.end,
        node.left.max_end if node.left is not None else node.end,
        node.right.max_end if node.right is not None else node.end,
    )


def _rotate_right(top: _Node[T]) -> _Node[T]:
    pivot = top.left
    assert pivot is not None
    top.left, pivot.right = pivot.right, top
    _refresh(top)
    _refresh(pivot)
    return pivot


def _rotate_left(top: _Node[T]) -> _Node[T]:
    pivot = top.right
    assert pivot is not None
    top.right, pivot.left = pivot.left, top
    _refresh(top)
    _refresh(pivot)
    return pivot


def _rebalance(node: _Node[T]) -> _Node[T]:
    _refresh(node)
    balance = _height(node.left) - _height(node.right)
    if balance > 1:
        assert node.left is not None
        if _height(node.left.left) < _height(node.left.right):
            node.left = _rotate_left(node.left)
        return _rotate_right(node)
    if balance < -1:
        assert node.right is not None
        if _height(node.right.right) < _height(node.right.left):
            node.right = _rotate_right(node.right)
        return _rotate_left(node)
    return node


def _default_tie_break(data: Any) -> Any:
    # Upstream breaks ties between equally small ranges by the values' id();
    # deterministic within a process, and what its tests compare against.
    return id(data)


class IntervalTree(Generic[T]):
    """Inclusive integer ranges ``[start, end]`` with a value each, ordered by ``(start, end)``."""

    def __init__(self) -> None:
        self.root: Optional[_Node[T]] = None
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def insert(self, start: int, end: int, data: T) -> None:
        """Add ``[start, end]`` with ``data``; an existing identical range gets ``data`` instead."""
        if start > end:
            raise ValueError(f"IntervalTree.insert: start ({start}) is larger than end ({end})")
        self.root = self._insert(self.root, start, end, data)

    def _insert(self, node: Optional[_Node[T]], start: int, end: int, data: T) -> _Node[T]:
        if node is None:
            self._size += 1
            return _Node(start, end, data)
        if (start, end) == (node.start, node.end):
            node.data = data
            return node
        if (start, end) < (node.start, node.end):
            node.left = self._insert(node.left, start, end, data)
        else:
            node.right = self._insert(node.right, start, end, data)
        return _rebalance(node)

    def intervals_containing(self, point: int) -> list[tuple[int, int, T]]:
        """Every ``(start, end, data)`` with ``start <= point <= end``, in ``(start, end)`` order."""
        found: list[tuple[int, int, T]] = []
        stack: list[tuple[_Node[T], bool]] = [(self.root, False)] if self.root is not None else []
        # Iterative in-order walk, skipping subtrees that end before `point`
        # and right subtrees that start after it.
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if node.start <= point <= node.end:
                    found.append((node.start, node.end, node.data))
                continue
            if point > node.max_end:
                continue
            if node.right is not None and point >= node.start:
                stack.append((node.right, False))
            stack.append((node, True))
            if node.left is not None:
                stack.append((node.left, False))
        return found

    def search(self, point: int) -> list[T]:
        """The values of every range containing ``point``."""
        return [data for _, _, data in self.intervals_containing(point)]

    def find_smallest_interval(
        self, point: int, tie_break: Optional[Callable[[T], Any]] = None
    ) -> Optional[T]:
        """The value of the narrowest range containing ``point``; ``None`` if none does.

        Among equally narrow ranges the smallest ``tie_break(value)`` wins
        (default: the value's ``id()``, as upstream).
        """
        key = tie_break or _default_tie_break
        best: Optional[tuple[int, Any, T]] = None
        for start, end, data in self.intervals_containing(point):
            rank = (end - start, key(data))
            if best is None or rank < best[:2]:
                best = (rank[0], rank[1], data)
        return None if best is None else best[2]
