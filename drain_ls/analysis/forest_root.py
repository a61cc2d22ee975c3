"""The module node of a document cut into chunks (``drain_ls.analysis.forest``): a
``ForestRoot`` stands for the module node of a parse of the whole document, answering the
part of tree-sitter's ``Node`` the analysis uses from the chunks' trees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from tree_sitter import Node, Point

if TYPE_CHECKING:
    from drain_ls.analysis.forest import Forest


class ForestRoot:
    """The module node of a chunked document: what the analysis asks of a root ``Node``."""

    __slots__ = ("_children", "_forest", "_has_error", "_named")

    type = "module"
    parent = None
    is_missing = False
    is_named = True
    is_error = False

    def __init__(self, forest: Forest) -> None:
        """The root over the chunks of ``forest`` (valid until its next edit)."""
        self._forest = forest
        self._children: list[Node] | None = None
        self._named: list[Node] | None = None
        self._has_error: bool | None = None

    @property
    def id(self) -> int:
        """An identity no node of the chunk trees has."""
        return id(self)

    @property
    def roots(self) -> Iterator[Node]:
        """The chunks' module nodes."""
        return (tree.root_node for tree in self._forest.trees)

    @property
    def children(self) -> list[Node]:
        """The module-level nodes of every chunk, in order."""
        if self._children is None:
            self._children = [child for root in self.roots for child in root.children]
        return self._children

    @property
    def named_children(self) -> list[Node]:
        """The named module-level nodes of every chunk, in order."""
        if self._named is None:
            self._named = [child for root in self.roots for child in root.named_children]
        return self._named

    @property
    def child_count(self) -> int:
        """How many module-level nodes."""
        return len(self.children)

    @property
    def named_child_count(self) -> int:
        """How many named module-level nodes."""
        return len(self.named_children)

    def child(self, index: int) -> Node | None:
        """The module-level node at ``index``."""
        children = self.children
        return children[index] if -len(children) <= index < len(children) else None

    def named_child(self, index: int) -> Node | None:
        """The named module-level node at ``index``."""
        named = self.named_children
        return named[index] if -len(named) <= index < len(named) else None

    def child_by_field_name(self, name: str) -> Node | None:
        """Modules have no fields."""
        return None

    @property
    def has_error(self) -> bool:
        """Whether a chunk has a syntax error (the chunks do not change while this root is
        the forest's: asked once)."""
        if self._has_error is None:
            self._has_error = self._forest.has_error
        return self._has_error

    @property
    def start_byte(self) -> int:
        """Where the first chunk's module node starts."""
        return self._forest.trees[0].root_node.start_byte

    @property
    def end_byte(self) -> int:
        """Where the last chunk's module node ends."""
        return self._forest.trees[-1].root_node.end_byte

    @property
    def start_point(self) -> Point:
        """The point of ``start_byte``."""
        return self._forest.trees[0].root_node.start_point

    @property
    def end_point(self) -> Point:
        """The point of ``end_byte``."""
        return self._forest.trees[-1].root_node.end_point

    @property
    def text(self) -> bytes:
        """The module's text."""
        return self._forest.source[self.start_byte : self.end_byte]

    def descendant_for_byte_range(self, start: int, end: int) -> Node | None:
        """The smallest node spanning ``[start, end]``: inside a chunk, the chunk tree's
        answer; across chunks, the module itself."""
        forest = self._forest
        index = forest.chunk_at(start)
        if end > forest.end_of(index):
            return cast(Node, self)
        return forest.tree_at(index).root_node.descendant_for_byte_range(start, end)

    def __repr__(self) -> str:
        """How many chunks, and where the module ends."""
        return f"<ForestRoot chunks={len(self._forest.trees)} end={self.end_byte}>"
