"""Property-based fuzzing of spec loading: whatever the bytes, a model or a SpecError, never anything else.

Three sources of input: mutations of every shipped spec file (deleted, duplicated and swapped lines, inserted
characters, deleted byte ranges), random YAML documents (nested dicts, lists and scalars, with the spec's own
key names mixed in) plus raw random text, and random ``--set KEY=VALUE`` overrides. Each problem must read as
one line ``FILE[:LINE]: key: message``. Runs in-process (``load_any``) for speed; ``derandomize=True`` makes
every CI run try the same cases.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwk4tune.spec import SpecError, load_any, load_sweep, parse_overrides

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "search_spaces").glob("*.yaml")) + sorted((ROOT / "launch").glob("*.yaml"))
PER_CASE_LIMIT_S = 10.0  # generous: a case takes milliseconds; only a runaway (alias bomb, deep recursion) nears it
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

# words the spec files use, so random documents reach past the first unknown key
WORDS = ["trainable", "dataset", "max_epochs", "metric", "mode", "space", "searcher", "scheduler", "name",
         "num_samples", "strategies", "budget", "seeds", "cnn", "resnet", "digits", "fake", "random", "optuna",
         "hyperopt", "grid", "asha", "pbt", "pb2", "median", "hyperband", "fifo", "lr", "hidden", "dropout",
         "optimizer", "uniform", "loguniform", "randint", "qrandint", "choice", "normal", "quniform",
         "grace_period", "time_attr", "hyperparam_mutations", "hyperparam_bounds", "points_to_evaluate",
         "resources_per_trial", "cpu", "subset", "val_accuracy", "max", "min", "sampler", "tpe", "storage",
         "label", "seed", "max_concurrent_trials", "epoch", "finetune", "batch_size"]


@pytest.fixture(scope="module")
def tree():
    """A copy of search_spaces/ and launch/, the rest of the checkout linked beside them (a sweep names its
    space as ../search_spaces/x.yaml, an own trainable a file relative to its space)."""
    with tempfile.TemporaryDirectory(prefix="hwk4tune-fuzz-") as d:
        root = Path(d)
        for entry in ROOT.iterdir():
            if entry.name in ("search_spaces", "launch"):
                (root / entry.name).mkdir()
                for path in entry.glob("*.yaml"):
                    shutil.copy(path, root / entry.name / path.name)
            elif not entry.name.startswith("."):
                (root / entry.name).symlink_to(entry)
        yield root


def check(path: Path) -> None:
    """load_any(path) returns a model or raises SpecError whose problems are each one located line."""
    # YAML breaks lines at \r and \x85 too: count as str.splitlines does (a superset), plus a last empty line
    text_lines = len(path.read_bytes().decode("utf-8", "replace").splitlines()) + 1
    t0 = time.perf_counter()
    try:
        load_any(path)
    except SpecError as exc:
        assert exc.problems, "a SpecError without problems"
        for problem in exc.problems:
            text = str(problem)
            # the file itself, or a space file a sweep names (the mutations may point it at any file)
            assert problem.file == str(path) or Path(problem.file).is_relative_to(path.parent.parent), text
            pattern = re.escape(problem.file) + r"(?::(?P<line>[1-9]\d*))?: (?P<key>[^\n]+?): (?P<msg>[^\n]+)"
            assert re.fullmatch(pattern, text) and len(text.splitlines()) == 1, f"not one located line: {text!r}"
            # the line is in this file, or (a sweep naming a space file) in that one
            if problem.file == str(path) and problem.line is not None:
                assert problem.line <= text_lines, (problem.line, text_lines, text)
        assert str(exc) == "\n".join(str(p) for p in exc.problems)
    elapsed = time.perf_counter() - t0
    assert elapsed < PER_CASE_LIMIT_S, f"{elapsed:.1f} s for one file"


# ------------------------------------------------------------------------------------------ mutations


def _swap_values(lines: list[str], i: int, j: int) -> list[str]:
    """Swap what follows `key:` on two lines (a value of one key given to another)."""
    a, b = lines[i].partition(": "), lines[j].partition(": ")
    if a[1] and b[1]:
        lines = list(lines)
        lines[i], lines[j] = a[0] + ": " + b[2], b[0] + ": " + a[2]
    return lines


@st.composite
def mutated(draw) -> tuple[Path, bytes]:
    source = draw(st.sampled_from(SHIPPED))
    data = source.read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        lines = data.decode("utf-8", "replace").splitlines(keepends=True) or [""]
        n = len(lines)
        op = draw(st.sampled_from(["delete_line", "duplicate_line", "swap_values", "insert_text", "delete_bytes",
                                   "replace_byte", "move_line", "indent_line", "truncate"]))
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if op == "delete_line":
            del lines[i]
        elif op == "duplicate_line":
            lines.insert(i, lines[i])
        elif op == "move_line":
            lines.insert(j, lines.pop(i))
        elif op == "indent_line":
            lines[i] = draw(st.sampled_from([" ", "  ", "    ", "\t"])) + lines[i]
        elif op == "swap_values":
            lines = _swap_values(lines, i, j)
        if op in ("delete_line", "duplicate_line", "move_line", "indent_line", "swap_values"):
            data = "".join(lines).encode()
            continue
        at = draw(st.integers(0, len(data)))
        if op == "insert_text":
            piece = draw(st.one_of(
                st.sampled_from(["{", "}", "[", "]", ":", ": ", "-", "- ", "&a ", "*a", "!!python/name:os.system ",
                                 "!x ", "\n", "\t", "'", '"', "#", "?", "|", ">", "%YAML 1.2\n", "---\n", "...\n",
                                 "1e400", "-0", ".nan", "~", "null", "true", "0x1F", "1_000", "\\u0000", "\x00",
                                 "\ufeff", "\u2028"]),
                st.text(max_size=12),
                st.sampled_from(WORDS).map(lambda w: w + ": ")))
            data = data[:at] + piece.encode("utf-8", "surrogatepass") + data[at:]
        elif op == "delete_bytes":
            data = data[:at] + data[at + draw(st.integers(1, 40)):]
        elif op == "replace_byte":
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        elif op == "truncate":
            data = data[:at]
    return source, data


@settings(FUZZ, max_examples=1500)
@given(case=mutated())
def test_mutated_shipped_files_load_or_raise_spec_error(tree, case):
    source, data = case
    path = tree / source.parent.name / f"fuzz_{source.name}"
    path.write_bytes(data)
    check(path)


def test_shipped_files_load_from_the_copy(tree):
    """The mutations start from files that load: every shipped space, sweep and compare file (none of them is
    expected to be refused) loads where it is and from the copy, as the same kind of spec."""
    assert len(SHIPPED) >= 28  # search_spaces/ and launch/ as shipped: the glob found them
    refused = {}
    for source in SHIPPED:
        try:
            original = load_any(source)
        except SpecError as e:
            refused[source.relative_to(ROOT).as_posix()] = str(e)
            continue
        assert type(load_any(tree / source.parent.name / source.name)) is type(original), source
    assert refused == {}


# ------------------------------------------------------------------------------------------ random documents

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.integers(), st.floats(allow_nan=True),
    st.sampled_from(WORDS), st.text(max_size=20))
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=12), st.integers(-3, 3), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=20)
# documents shaped like the three kinds, with random parts
documents = st.one_of(
    st.dictionaries(keys, values, max_size=8),
    st.fixed_dictionaries({"trainable": st.one_of(st.sampled_from(["cnn", "resnet"]), scalars),
                           "dataset": st.one_of(st.sampled_from(["digits", "fake"]), values),
                           "max_epochs": st.one_of(st.integers(-2, 5), scalars),
                           "space": st.dictionaries(st.sampled_from(WORDS), values, max_size=6)},
                          optional={"metric": scalars, "mode": scalars, "extra": values}),
    st.fixed_dictionaries({"space": st.sampled_from(["../search_spaces/cnn_digits.yaml", "nowhere.yaml"]),
                           "searcher": st.one_of(st.sampled_from(WORDS), values)},
                          optional={"scheduler": st.one_of(st.sampled_from(WORDS), values),
                                    "num_samples": scalars, "strategies": values, "budget": values,
                                    "seeds": values}),
    values,
)


@settings(FUZZ, max_examples=800)
@given(doc=documents, flow=st.booleans())
def test_random_documents_load_or_raise_spec_error(tree, doc, flow):
    path = tree / "launch" / "fuzz_doc.yaml"
    path.write_text(yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True))
    check(path)


@settings(FUZZ, max_examples=1000)
@given(text=st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(WORDS + [": ", "- ", "  ", "\n", "{", "}", "[", "]", ", ", "&x ", "*x", "!!str ",
                                      "1e-4", "? ", "'", "#"]), max_size=60).map("".join)))
def test_raw_text_loads_or_raises_spec_error(tree, text):
    path = tree / "launch" / "fuzz_text.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(path)


# ------------------------------------------------------------------------------------------ overrides

override_keys = st.one_of(
    st.lists(st.sampled_from(WORDS + ["space", "0", "x"]), min_size=1, max_size=4).map(".".join), st.text(max_size=15))
override_values = st.one_of(st.text(max_size=30), st.sampled_from(["1", "0", "-1", "1e-4", "[1, 2]", "{a: 1}",
                                                                   "random", "{name: asha}", "", "[", "*a", "!!x 1"]))


@settings(FUZZ, max_examples=600)
@given(items=st.lists(st.one_of(st.tuples(override_keys, override_values).map("=".join), st.text(max_size=30)),
                      max_size=4))
def test_random_overrides_parse_and_apply_or_raise_spec_error(items):
    t0 = time.perf_counter()
    try:
        overrides = parse_overrides(items)
    except SpecError as exc:
        assert all(len(str(p).splitlines()) == 1 and str(p).startswith("--set: ") for p in exc.problems), str(exc)
        return
    try:
        load_sweep(ROOT / "launch/random_fifo.yaml", overrides)
    except SpecError as exc:
        for p in exc.problems:
            assert re.fullmatch(r"(--set|/[^\n]+?\.yaml)(:[1-9]\d*)?: [^\n]+?: [^\n]+", str(p)), str(p)
            assert len(str(p).splitlines()) == 1, str(p)
    assert time.perf_counter() - t0 < PER_CASE_LIMIT_S
