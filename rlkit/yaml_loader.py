"""The one YAML loader for everything rlkit reads: safe, and bounded.

``yaml.safe_load`` refuses python tags but not a small file that expands without bound
(aliases of aliases, the "billion laughs"), a document nested thousands deep (a
``RecursionError`` traceback), or a key given twice (silently, the last one wins). rlkit
reads config files, ``--space`` files, run dirs' ``config.yaml`` and every ``key=value``
override through ``load_yaml``, which first composes the document into nodes (an alias is
one shared node, so composing is linear in the file's size), then checks the nodes, and
only then builds Python objects from them:

* size: a file at most ``MAX_BYTES`` (1 MiB; rlkit's configs are a few hundred bytes), an
  override at most ``MAX_OVERRIDE_CHARS`` (4,096 characters);
* nodes: at most ``MAX_NODES`` (10,000) once every alias is expanded;
* depth: at most ``MAX_DEPTH`` (32) levels of nested mappings and lists;
* aliases: allowed within those bounds; one that refers to itself is refused;
* keys: a key given twice in one mapping is refused, naming it and both lines (the YAML
  merge key ``<<`` may be overridden, as YAML intends).

Anything refused is a ``BadInput`` of one line, before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rlkit.errors import BadInput

MAX_BYTES = 1 << 20
"""Largest YAML file read (bytes)."""
MAX_OVERRIDE_CHARS = 4096
"""Longest ``key=value`` override."""
MAX_NODES = 10_000
"""Most nodes a document may hold with every alias expanded."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists."""

_MERGE = "tag:yaml.org,2002:merge"


class YamlSyntaxError(BadInput):
    """Text that is not YAML at all (as opposed to YAML that breaks a bound)."""


def _check(root: yaml.Node, source: str) -> None:
    """Count the nodes (aliases expanded), measure the depth, find duplicate keys; without
    recursion, and in time linear in the number of distinct nodes."""
    sizes: dict[int, int] = {}  # id(node) -> nodes below it, itself included, expanded
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            depths[key] = 1 + max((depths[id(c)] for c in children), default=0)
            if sizes[key] > MAX_NODES:
                raise BadInput(
                    f"{source} expands to more than {MAX_NODES:,} YAML nodes (through its "
                    "aliases); rlkit refuses it (a config is a few dozen)"
                )
            if depths[key] > MAX_DEPTH:
                raise BadInput(f"{source} nests deeper than {MAX_DEPTH} levels; rlkit refuses it")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise BadInput(f"{source} has an alias that refers to itself; rlkit refuses it")
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node, source)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
        if len(open_nodes) > MAX_DEPTH:
            raise BadInput(f"{source} nests deeper than {MAX_DEPTH} levels; rlkit refuses it")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _no_duplicate_keys(node: yaml.MappingNode, source: str) -> None:
    seen: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
            continue
        line = key_node.start_mark.line + 1
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise BadInput(
                f"{source} gives the key {key_node.value!r} twice (lines {seen[key]} and "
                f"{line}); keep one"
            )
        seen[key] = line


def load_yaml(text: str, source: str) -> Any:
    """The Python data of one YAML document ``text`` (``source`` names it in errors), through
    the checks of the module doc; ``BadInput`` of one line for anything refused."""
    loader = None
    try:
        loader = yaml.SafeLoader(
            text
        )  # (it reads the text at once: unprintable characters fail here)
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise BadInput(
                f"{source} nests deeper than {MAX_DEPTH} levels; rlkit refuses it"
            ) from None
        if node is None:
            return None
        _check(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise YamlSyntaxError(f"cannot read {source}: {first}") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml_file(path: str | Path, what: str = "config") -> Any:
    """The data of the YAML file ``path`` (at most ``MAX_BYTES``, UTF-8), through ``load_yaml``."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{what} file not found: {path}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise BadInput(
            f"{what} {path} is {size:,} bytes; rlkit reads YAML files of at most {MAX_BYTES:,}"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"cannot read {what} {path}: not UTF-8 text") from None
    return load_yaml(text, f"{what} {path}")


def load_override_value(raw: str, key: str) -> Any:
    """The YAML scalar, list or mapping of one ``key=value`` override's value, bounded as a
    file is (and at most ``MAX_OVERRIDE_CHARS`` long)."""
    if len(raw) > MAX_OVERRIDE_CHARS:
        raise BadInput(
            f"the override {key}=... is {len(raw):,} characters; at most {MAX_OVERRIDE_CHARS:,}"
        )
    return load_yaml(raw, f"the override {key}=...")
