"""Every private Ray / Optuna / nevergrad name hwk4tune uses lives in ``hwk4tune/tune/_ray_private.py``, and
each one it relies on exists in the installed versions.

The second test reads every other module with ``ast`` and flags: an import from a private module of those
libraries (``ray._private``, ``ray.train._internal``...) or of a private name (``from ray.x import _Y``);
an underscore attribute (or a ``getattr``/``setattr``/``hasattr`` of one) that hwk4tune never defines and
those libraries do; in a class built on one of their classes, an underscore method or attribute that such a
base already has (overriding or reading a private hook); and swapping an object's ``__class__``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hwk4tune"
THE_MODULE = PACKAGE / "tune" / "_ray_private.py"
LIBRARIES = ("ray", "optuna", "nevergrad")
ATTRIBUTE_CALLS = ("getattr", "setattr", "hasattr", "delattr")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != THE_MODULE)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), str(p)) for p in _modules()}


def _attribute_uses(tree: ast.AST):
    """(node, attribute name, stored) for each ``x._name`` and ``getattr(x, "_name")`` in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node, node.attr, isinstance(node.ctx, ast.Store)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_CALLS \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            yield node, node.args[1].value, node.func.id == "setattr"


def _is_name(node: ast.AST, names: tuple[str, ...]) -> bool:
    return isinstance(node, ast.Name) and node.id in names


def _is_super(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _is_name(node.func, ("super",))


def _dotted(node: ast.Attribute) -> list[str]:
    """``ray._private.worker`` -> ["ray", "_private", "worker"] ([] unless it starts at a plain name)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else []


@functools.cache
def _our_names() -> frozenset[str]:
    """Underscore names hwk4tune defines itself: functions, classes, module names, attributes it assigns on
    ``self``, parameters (``_ray_private`` left out: what it assigns is theirs; what a class built on a
    library class assigns is checked against its bases by :func:`_class_findings`)."""
    names: set[str] = set()
    for tree in _trees().values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
        names.update(name for node, name, stored in _attribute_uses(tree)
                     if stored and isinstance(node, ast.Attribute) and _is_name(node.value, ("self", "cls")))
    names.update(p.stem for p in PACKAGE.rglob("*.py"))
    return frozenset(n for n in names if _private(n))


@functools.cache
def _library_sources() -> str:
    """The libraries' source text, for telling their private names from the standard library's."""
    chunks = []
    for name in LIBRARIES:
        root = Path(importlib.util.find_spec(name).origin).parent
        chunks.extend(p.read_text(errors="ignore") for p in root.rglob("*.py"))
    return "\n".join(chunks)


def _library_defines(name: str) -> bool:
    pattern = rf"(def|class)\s+{re.escape(name)}\b|\.{re.escape(name)}\s*(=|:)|^\s*{re.escape(name)}\s*="
    return re.search(pattern, _library_sources(), re.MULTILINE) is not None


def _library_base_has(cls: type, name: str) -> str | None:
    """The library class in ``cls``'s bases that defines ``name`` (class attribute or ``self.<name> =``)."""
    for base in inspect.getmro(cls)[1:]:
        if base.__module__.split(".")[0] not in LIBRARIES:
            continue
        if name in vars(base):
            return f"{base.__module__}.{base.__qualname__}"
        try:
            source = inspect.getsource(base)
        except (OSError, TypeError):
            continue
        if re.search(rf"self\.{re.escape(name)}\s*(=|:)", source):
            return f"{base.__module__}.{base.__qualname__}"
    return None


def _import_findings(node: ast.AST) -> list[str]:
    """A private module or name of the libraries imported by ``node``."""
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        modules, names = [node.module], [a.name for a in node.names]
    elif isinstance(node, ast.Import):
        modules, names = [a.name for a in node.names], []
    else:
        return []
    found = []
    for module in modules:
        if module.split(".")[0] in LIBRARIES:
            found += [f"imports {module}" for part in module.split(".") if _private(part)][:1]
            found += [f"imports {module}.{n}" for n in names if _private(n)]
    return found


def _class_findings(module_name: str, tree: ast.Module) -> list[tuple[int, str]]:
    """In each top-level class built on a library class: underscore methods and ``self._x`` a base has."""
    found = []
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.bases]
    if not classes:
        return found
    module = importlib.import_module(module_name)
    for node in classes:
        cls = getattr(module, node.name, None)
        if not inspect.isclass(cls):
            continue
        members = [(f.lineno, f.name) for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
        members += [(a.lineno, name) for a, name, _ in _attribute_uses(node)
                    if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "self"]
        for line, name in members:
            base = _private(name) and _library_base_has(cls, name)
            if base:
                found.append((line, f"{node.name} uses {base}'s private {name}"))
    return found


def _findings(module_name: str, tree: ast.Module) -> list[tuple[int, str]]:
    """Every use of a library's private name in one module, as (line, what)."""
    found = [(n.lineno, what) for n in ast.walk(tree) for what in _import_findings(n)]
    for node, name, _ in _attribute_uses(tree):
        if name == "__class__" and isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.append((node.lineno, "swaps an object's __class__"))
        elif not _private(name):
            continue
        elif isinstance(node, ast.Attribute) and (_dotted(node)[:1] in ([lib] for lib in LIBRARIES)):
            found.append((node.lineno, f"reads {'.'.join(_dotted(node))}, inside {_dotted(node)[0]}"))
        elif (name not in _our_names() or isinstance(node, ast.Attribute) and _is_super(node.value)) \
                and _library_defines(name):
            found.append((node.lineno, f"reads or sets {name}, a private name of {'/'.join(LIBRARIES)}"))
    return sorted(set(found + _class_findings(module_name, tree)))


def private_uses() -> dict[str, list[tuple[int, str]]]:
    """module path -> its uses of a private Ray / Optuna / nevergrad name (only modules with some)."""
    out = {}
    for path, tree in _trees().items():
        found = _findings(_module_name(path), tree)
        if found:
            out[str(path.relative_to(PACKAGE.parent))] = found
    return out


@pytest.mark.oldest_ray
def test_every_private_symbol_relied_on_is_installed():
    from hwk4tune.tune import _ray_private

    assert _ray_private.missing() == []


@pytest.mark.oldest_ray
def test_tune_json_with_pickled_objects_decodes_on_every_supported_ray():
    """Ray 2.56+ unpickles Tune's JSON only with ``allow_cloudpickle=True``; 2.55 has no such argument."""
    import json

    from ray.tune.utils.serialization import TuneFunctionEncoder

    from hwk4tune.tune import _ray_private

    text = json.dumps({"manager": functools.partial(max, 0)}, cls=TuneFunctionEncoder)
    assert _ray_private.load_tune_json(text)["manager"](-3) == 0


def test_missing_names_the_symbol_and_the_installed_version(monkeypatch):
    from importlib.metadata import version

    from hwk4tune.tune import _ray_private

    monkeypatch.setattr(_ray_private, "SYMBOLS", [("ray.tune.schedulers.hyperband", "_NoSuchBracket", None),
                                                  ("ray.tune.schedulers", "HyperBandScheduler", "_no_such_hook")])
    lines = _ray_private.missing()
    assert len(lines) == 2
    assert "ray.tune.schedulers.hyperband._NoSuchBracket" in lines[0] and f"ray {version('ray')}" in lines[0]
    assert "HyperBandScheduler._no_such_hook" in lines[1] and f"ray {version('ray')}" in lines[1]


def test_no_module_but_ray_private_uses_a_private_library_name():
    uses = private_uses()
    assert uses == {}, "\n".join(f"{path}:{line}: {what}" for path, found in uses.items() for line, what in found)


def test_the_check_flags_private_uses_and_not_our_own_underscore_names(tmp_path, monkeypatch):
    code = '''
from ray.tune.schedulers.hyperband import _Bracket
import ray._private.worker
from ray.tune.schedulers import PopulationBasedTraining


class Mine(PopulationBasedTraining):
    def _exploit(self, tune_controller, trial, trial_to_clone):
        self._own_thing = 1
        return self._hyperparam_mutations


class KeepRows:
    def _restore_from_remote(self, file_name, trial):
        super()._restore_from_remote(file_name, trial)


def f(alg, bracket, manager):
    import ray

    manager._checkpoint_results = []
    ray._private.worker.global_worker
    bracket.__class__ = object
    return alg._live_trials, getattr(alg, "_tune_controller", None), alg._own_thing
'''
    (tmp_path / "private_use_probe.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    whats = [what for _, what in _findings("private_use_probe", ast.parse(code))]
    assert any("_Bracket" in w for w in whats) and any("ray._private.worker" in w for w in whats)
    assert any("_exploit" in w for w in whats) and any("_hyperparam_mutations" in w for w in whats)
    assert any("__class__" in w for w in whats) and any("_live_trials" in w for w in whats)
    assert any("_tune_controller" in w for w in whats) and any("_restore_from_remote" in w for w in whats)
    assert any("_checkpoint_results" in w for w in whats) and any("ray._private" in w for w in whats)
    assert not any("_own_thing" in w for w in whats)


if __name__ == "__main__":  # an inventory: python tests/test_ray_private.py
    for module, found in private_uses().items():
        print(module, len(found), sorted({w for _, w in found}))
    pytest.main([__file__, "-q"])
