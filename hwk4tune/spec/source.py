"""Reading a YAML spec file safely: bounded, located, never a traceback.

A spec file comes from outside (downloaded, shared), so reading it is bounded before anything is built:
at most :data:`MAX_BYTES`, :data:`MAX_DEPTH` levels of nesting, :data:`MAX_ALIASES` aliases and
:data:`MAX_NODES` nodes once aliases are expanded (a "billion laughs" file would otherwise hang). It must
be a regular file of UTF-8 text. Only plain YAML is read (``!!python/...`` and unknown tags are refused),
duplicate keys are an error, and numbers are read as YAML 1.2 does: ``1e-4`` is a number, not the string
PyYAML's YAML 1.1 reading makes of it.

Every failure is a :class:`SpecError` with the file and line.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from hwk4tune.spec.errors import Problem, SpecError

MAX_BYTES = 1 << 20  # 1 MiB: the largest shipped spec is under 4 KiB
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_NODES = 50_000

# YAML 1.2's core schema float: PyYAML (YAML 1.1) needs a dot and a signed exponent, so it reads 1e-4 as text.
# A dot or an exponent is required and there are no underscores: digits alone are ints (or text), and a Ray
# trial id such as 05498_00001 stayed text (an earlier pattern read it as the float 549800001.0).
_FLOAT_12 = re.compile(r"^[-+]?(?:(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)$|^[-+]?\.(?:inf|Inf|INF)$"
                       r"|^\.(?:nan|NaN|NAN)$")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats, a depth bound and an alias bound, counted while composing."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                event = self.peek_event()
                raise _Limit(event.start_mark.line + 1, f"more than {MAX_ALIASES} aliases (*name)")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()
            raise _Limit(event.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# ints stay ints (the implicit int resolver is tried first for digits-only text); this adds 1e-4, 5E3, 1.5e+3
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes text the loader above would read as a number (``'1e-4'``)."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def dump_yaml(data: Any) -> str:
    """YAML that :func:`load_yaml` reads back as ``data`` (keys in the given order)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False)


_NAME_TAGS = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge")  # a key is a name, or `<<: *anchor`
_TAG_WORDS = {"int": "a number", "float": "a number", "bool": "a boolean", "null": "null", "timestamp": "a date"}


class _Limit(Exception):
    def __init__(self, line: int | None, message: str):
        self.line, self.message = line, message


class Source:
    """A YAML file's data and the line of every node, by key path."""

    def __init__(self, path: Path, text: str | None = None):
        self.path = path
        self.name = str(path)
        self.lines: dict[tuple, int] = {}
        if text is None:
            text = self._read(path)
        try:
            node = _compose(text)
            self._nodes = 0
            if node is not None:
                self._index(node, ())
            self.data = yaml.load(text, Loader=_Loader) if node is not None else None
        except _Limit as exc:
            raise SpecError([Problem(self.name, exc.line, "(yaml)", exc.message)]) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise SpecError([Problem(self.name, line, "(yaml)", _yaml_message(exc))]) from None
        except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow (binary content)
            line = text.count("\n", 0, getattr(exc, "position", 0)) + 1 if hasattr(exc, "position") else None
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise SpecError([Problem(self.name, line, "(yaml)", f"not YAML text: {first}")]) from None
        except RecursionError:
            raise SpecError([Problem(self.name, None, "(yaml)", f"nested deeper than {MAX_DEPTH} levels")]) from None
        if node is None or self.data is None:
            raise SpecError([Problem(self.name, 1, "(file)", "is empty; expected a mapping of keys")])
        if not isinstance(self.data, dict):
            raise SpecError([Problem(self.name, node.start_mark.line + 1, "(top)",
                                     f"expected a mapping of keys, got {_kind(self.data)}")])

    def _read(self, path: Path) -> str:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise SpecError([Problem(self.name, None, "(file)", "no such file")]) from None
        except OSError as exc:
            raise SpecError([Problem(self.name, None, "(file)", f"cannot be read: {exc.strerror}")]) from None
        if stat.S_ISDIR(st.st_mode):
            raise SpecError([Problem(self.name, None, "(file)", "is a folder, not a YAML file")])
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block or never end
            raise SpecError([Problem(self.name, None, "(file)", "is not a regular file (a pipe or a device?)")])
        if st.st_size > MAX_BYTES:
            raise SpecError([Problem(self.name, None, "(file)",
                                     f"is {st.st_size:,} bytes; spec files are limited to {MAX_BYTES:,}")])
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise SpecError([Problem(self.name, None, "(file)", f"cannot be read: {exc.strerror}")]) from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise SpecError([Problem(self.name, line, "(file)",
                                     f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})")]) from None

    def _index(self, node: yaml.Node, path: tuple) -> None:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Limit(node.start_mark.line + 1, f"more than {MAX_NODES:,} values once aliases are expanded")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _Limit(key_node.start_mark.line + 1, "keys must be plain names, not lists or mappings")
                key = key_node.value
                if key_node.tag not in _NAME_TAGS:  # `1:`, `null:`, `on:` are read as numbers, None, booleans
                    what = _TAG_WORDS.get(key_node.tag.rsplit(":", 1)[-1], key_node.tag)
                    raise _Limit(key_node.start_mark.line + 1, f"key {key!r} is not a name (YAML reads it as "
                                 f"{what}): write it in quotes, '{key}'")
                if key in seen:
                    raise _Limit(key_node.start_mark.line + 1, f"duplicate key {key!r}")
                seen.add(key)
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                self._index(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, path + (i,))

    def line(self, path: tuple) -> int | None:
        path = tuple(str(p) if not isinstance(p, int) else p for p in path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def problem(self, path: tuple, message: str) -> Problem:
        return Problem(self.name, self.line(path), ".".join(str(p) for p in path) or "(top)", message)

    def resolve(self, value: str | Path) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(os.path.normpath(self.path.parent / p))


def _kind(value: Any) -> str:
    words = {str: "text", int: "a number", float: "a number", bool: "a boolean", list: "a list"}
    return words.get(type(value), type(value).__name__)


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    # "expected a single document in the stream" (context) explains "but found another document" (problem)
    parts = [part for part in (exc.context, exc.problem) if part]
    text = "YAML: " + ", ".join(parts)
    if "python/" in str(exc):
        text += " (python tags are refused: only plain YAML is read)"
    elif "constructor for the tag" in str(exc):
        text += " (only plain YAML is read: no custom tags)"
    return text


def read_value(text: str, where: str) -> Any:
    """One YAML value from the command line (``--set KEY=VALUE``), read like a file's values."""
    if len(text) > 10_000:
        raise SpecError([Problem("--set", None, where, "value longer than 10,000 characters")])
    try:
        node = _compose(text)
        return yaml.load(text, Loader=_Loader) if node is not None else None
    except _Limit as exc:
        raise SpecError([Problem("--set", None, where, exc.message)]) from None
    except (yaml.YAMLError, RecursionError):
        raise SpecError([Problem("--set", None, where, f"value {text!r} is not valid YAML")]) from None


def load_yaml(text: str, where: str = "<text>") -> Any:
    """A YAML document read as spec files are (YAML 1.2 numbers: ``1e-4``, ``5E3``; depth and alias bounds):
    best.yaml, config.yaml and every other YAML file hwk4tune reads go through here. Raises ``yaml.YAMLError``
    (a bound that is exceeded too, naming ``where``)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except _Limit as exc:
        raise yaml.YAMLError(f"{where}: line {exc.line}: {exc.message}") from None
