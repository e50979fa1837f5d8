"""Safe, located YAML reading shared by attention specs and device files.

Plain values only: aliases (the "billion laughs" bombs), non-standard tags (``!!python/…``),
huge and deeply nested documents are refused from the event stream before any node is
built. Every key and list item's 1-based line is recorded by its path, so validation errors
can say ``file:line``. ``1e-3`` reads as a number (YAML 1.2; YAML 1.1 says text). Each kind
of file brings its own limits and wording (``YamlRules``); errors are one line of its
``error`` type.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class YamlRules:
    """Limits and wording for one kind of YAML file."""

    error: type[Exception]
    field_name: Callable[[Loc], str]  # ("compile", "encoding") -> "compile.encoding"
    max_bytes: int
    max_nodes: int
    max_depth: int
    noun: str  # "file", "device file": what the generic messages call it
    directory: str  # "{label}: is a directory, not a file; <this>"
    too_big: str  # "{label}: the file is N bytes; <this>" (may use {max_bytes})
    too_many: str  # "more than N values" fix
    empty: str  # "{label}:1: the file is empty; <this>"
    not_mapping: str  # "...not a mapping; <this>"
    key_example: str  # "a key is not a plain name; write keys such as <this>"
    more_tags: tuple[str, ...] = ()
    too_deep: str = "flatten the file"  # nesting fix

    @property
    def not_found(self) -> str:  # "{label}: <this>" (may use {cwd})
        return self.noun + " not found; check the path (relative to {cwd})"

    @property
    def unreadable(self) -> str:  # "{label}: <this>" (may use {reason})
        return f"cannot read the {self.noun} " + "({reason}); check the path and permissions"


class Refused(Exception):
    def __init__(self, mark: yaml.Mark, text: str, loc: Loc = ()):
        super().__init__(text)
        self.mark, self.text, self.loc = mark, text, loc


def make_loader(base: type) -> type:
    class SafeNumbersLoader(base):
        """A safe loader that also reads `1e-3` as a number."""

    SafeNumbersLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(
        r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))
    return SafeNumbersLoader


Loader = make_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml is ~30x faster

PLAIN_TAGS = ("null", "bool", "int", "float", "str", "seq", "map")


def one_line(text: str) -> str:
    return " ".join(text.splitlines())


def located(label: str, line: int | None, field: str | None, text: str) -> str:
    where = label if line is None else f"{label}:{line}"
    return one_line(f"{where}: {field}: {text}" if field else f"{where}: {text}")


_FLOW_EVENT = re.compile(r"[\[\]{}\n\"'#|>]")
_QUOTED = {"'": re.compile(r"'(?:[^']|'')*'"), '"': re.compile(r'"(?:[^"\\]|\\.)*"', re.S)}
_BLOCK_SCALAR = re.compile(r"[|>][0-9+-]*[ \t]*(?:#.*)?$", re.M)


def _starts_node(text: str, i: int, line_start: int, flow: bool) -> bool:
    """Whether the character at ``i`` begins a node (not the middle of a plain scalar)."""
    j = i - 1
    while j >= line_start and text[j] in " \t":
        j -= 1
    if j < line_start:
        return True
    if flow:
        return text[j] in "[{,:?"
    return text[j] in ":-?" and j < i - 1  # an indicator followed by a blank


def flow_may_nest_deeper(text: str, max_depth: int) -> bool:
    """Whether ``[``/``{`` may nest deeper than ``max_depth`` in the text.

    A fast lexer, not a parser: it skips quoted scalars, comments and block scalars and, in
    block context, counts ``[``/``{`` only where a node begins. Its misses are the parser's to
    report; what it flags ``too_deep_flow`` confirms exactly.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth, line_start, i = 0, 0, 0
    while (found := _FLOW_EVENT.search(text, i)) is not None:
        i, ch = found.start(), found.group()
        if ch == "\n":
            line_start, i = i + 1, i + 1
        elif ch == "#" and (i == line_start or text[i - 1] in " \t"):
            i = end if (end := text.find("\n", i)) >= 0 else len(text)
        elif ch in "'\"" and _starts_node(text, i, line_start, depth > 0):
            if (quoted := _QUOTED[ch].match(text, i)) is None:
                return False  # unterminated: the parser says so
            line_start = max(line_start, text.rfind("\n", i, quoted.end()) + 1)  # it may span lines
            i = quoted.end()
        elif ch in "|>" and depth == 0 and _starts_node(text, i, line_start, False) \
                and _BLOCK_SCALAR.match(text, i):
            indent = len(text[line_start:i]) - len(text[line_start:i].lstrip(" "))
            i = text.find("\n", i)  # skip the block scalar's lines: blank or indented deeper
            while i >= 0:
                end = text.find("\n", i + 1)
                body = text[i + 1: end if end >= 0 else len(text)]
                if body.strip() and len(body) - len(body.lstrip(" ")) <= indent:
                    break
                line_start, i = i + 1, end
            if i < 0:
                return False
        elif ch in "[{" and (depth > 0 or _starts_node(text, i, line_start, False)):
            depth += 1
            if depth > max_depth:
                return True
            i += 1
        elif ch in "]}" and depth > 0:
            depth, i = depth - 1, i + 1
        else:
            i += 1
    return False


def too_deep_flow(text: str, max_depth: int) -> yaml.Mark | None:
    """Where a flow collection first nests deeper than ``max_depth`` in the text, else None.

    Checked before libyaml parses: since PyYAML 6.0.4 libyaml stops a 1000-deep flow line
    itself ("exceeded maximum nesting depth"), looking a line ahead before the event stream
    reaches ``max_depth``. A quick lexer (``flow_may_nest_deeper``) clears ordinary documents; a
    suspect one is confirmed by PyYAML's pure-Python scanner, exact and without a limit of its
    own, which stops at the first collection too deep.
    """
    if not flow_may_nest_deeper(text, max_depth):
        return None
    flow_depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
                flow_depth += 1
                if flow_depth > max_depth:
                    return token.start_mark
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)):
                flow_depth -= 1
    except yaml.YAMLError:
        return None  # invalid YAML: the parser says where
    return None


def guard(text: str, rules: YamlRules) -> None:
    """Refuse aliases, huge and deep documents from the event stream, before any node is built."""
    if (mark := too_deep_flow(text, rules.max_depth)) is not None:
        raise Refused(mark, f"nesting deeper than {rules.max_depth} levels; {rules.too_deep}")
    nodes = depth = 0
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent):
            raise Refused(event.start_mark, "YAML aliases (*name) are not supported; write the value out in full")
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            nodes += 1
            if nodes > rules.max_nodes:
                raise Refused(event.start_mark, f"{rules.too_many.format(max_nodes=rules.max_nodes)}")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > rules.max_depth:
                raise Refused(event.start_mark, f"nesting deeper than {rules.max_depth} levels; {rules.too_deep}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def to_python(loader: Loader, node: yaml.Node, loc: Loc, positions: dict[Loc, int], rules: YamlRules) -> Any:
    """Build plain Python values, recording the 1-based line of every key and list item."""
    if node.tag not in {f"tag:yaml.org,2002:{t}" for t in (*PLAIN_TAGS, *rules.more_tags)}:
        raise Refused(node.start_mark, f"YAML tag {node.tag!r} is not supported; remove the tag", loc)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = to_python(loader, key_node, loc, {}, rules) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise Refused(key_node.start_mark, f"a key is not a plain name; write keys such as {rules.key_example}",
                              loc)
            if key in out:
                raise Refused(key_node.start_mark, f"duplicate key {key!r}; keep only one of them", loc + (key,))
            positions[loc + (key,)] = key_node.start_mark.line + 1
            out[key] = to_python(loader, value_node, loc + (key,), positions, rules)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            positions[loc + (i,)] = item.start_mark.line + 1
            items.append(to_python(loader, item, loc + (i,), positions, rules))
        return items
    try:
        return loader.construct_object(node)
    except yaml.YAMLError:
        raise
    except Exception as exc:  # e.g. a 5000-digit integer
        raise Refused(node.start_mark, f"cannot read {node.value[:40]!r} ({exc}); write a plain value", loc) from None


def read_located_yaml(path: Path, label: str, rules: YamlRules) -> tuple[dict, dict[Loc, int]]:
    """Read a YAML mapping and the line of every key; every problem is one ``rules.error`` line."""
    error = rules.error
    try:
        if path.is_dir():
            raise error(f"{label}: is a directory, not a file; {rules.directory}")
        if (size := path.stat().st_size) > rules.max_bytes:
            raise error(f"{label}: the file is {size} bytes; {rules.too_big.format(max_bytes=rules.max_bytes)}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{label}: {rules.not_found.format(cwd=os.getcwd())}") from None
    except OSError as exc:
        raise error(f"{label}: {rules.unreadable.format(reason=exc.strerror)}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{label}:{line}: the file is not UTF-8 text; save it as UTF-8") from None

    loader, positions = None, {}
    try:
        guard(text, rules)
        loader = Loader(text)
        root = loader.get_single_node()
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == "tag:yaml.org,2002:null"):
            raise error(f"{label}:1: the file is empty; {rules.empty}")
        positions[()] = line = root.start_mark.line + 1
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            raise error(f"{label}:{line}: the document is {kind}, not a mapping; {rules.not_mapping}")
        return to_python(loader, root, (), positions, rules), positions
    except Refused as refused:
        field = rules.field_name(refused.loc) if refused.loc else None
        raise error(located(label, refused.mark.line + 1, field, refused.text)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        tabbed = "\t" in "".join(text.splitlines()[line - 1: line])
        fix = "indent with spaces; YAML does not allow tabs" if tabbed else f"fix the YAML syntax on line {line}"
        raise error(located(label, line, None, f"invalid YAML: {problem}; {fix}")) from None
    except yaml.YAMLError as exc:  # ReaderError: control characters
        line = text[: getattr(exc, "position", 0) or 0].count("\n") + 1
        reason = getattr(exc, "reason", "unreadable characters")
        raise error(located(label, line, None, f"invalid YAML: {reason}; remove the character")) from None
    finally:
        if loader is not None:
            loader.dispose()
