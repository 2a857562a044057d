"""Hostile spec files: each class is refused by the real command with exit 2 and ONE located line, at once.

A spec file may come from anywhere (downloaded, shared): reading it is bounded in size, depth, aliases and
nodes, must be UTF-8 text of a regular file, and reads plain YAML only. The command runs in a subprocess with
a timeout, so a hang (a FIFO that blocks, an alias bomb that expands forever) fails the test instead of
stalling it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hwk4tune.spec import SpecError, load_compare, load_space, parse_overrides
from hwk4tune.spec.source import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_NODES

ROOT = Path(__file__).resolve().parent.parent
HWK4TUNE = Path(sys.executable).parent / "hwk4tune"  # the installed console script of this venv
HANG_GUARD_S = 60  # far above the ~1 s the command takes; only a hang reaches it


def _billion_laughs(levels: int, fanout: int) -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def _nested_block(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "leaf: 1\n"


ANY = "any"  # a line is named, whichever it is

# name -> (how to make it at PATH, line named in the message (None: the file alone), key, fragment)
HOSTILE = {
    "non-utf8": (lambda p: p.write_bytes(b"trainable: cnn\nmax_epochs: \xff\xfe\n"), 2, "(file)",
                 "is not UTF-8 text (byte 0xff at offset 27)"),
    "nul-bytes": (lambda p: p.write_bytes(b"trainable: cnn\nx: \x00\x01\x02\n"), 2, "(yaml)", "not YAML text"),
    "binary-noise": (lambda p: p.write_bytes(bytes(range(256)) * 4), 2, "(file)",
                     "is not UTF-8 text (byte 0x80 at offset 128)"),
    "directory": (lambda p: p.mkdir(), None, "(file)", "is a folder, not a YAML file"),
    "fifo": (lambda p: os.mkfifo(p), None, "(file)", "is not a regular file"),
    "empty": (lambda p: p.write_text(""), 1, "(file)", "is empty"),
    "only-comments": (lambda p: p.write_text("# nothing\n# here\n"), 1, "(file)", "is empty"),
    "over-1-MiB": (lambda p: p.write_text("trainable: cnn\n" + "# padding\n" * (MAX_BYTES // 10 + 1)), None,
                   "(file)", f"spec files are limited to {MAX_BYTES:,}"),
    "deep-flow": (lambda p: p.write_text("a: " + "[" * (MAX_DEPTH + 8) + "]" * (MAX_DEPTH + 8) + "\n"), 1,
                  "(yaml)", f"nested deeper than {MAX_DEPTH} levels"),
    "deep-block": (lambda p: p.write_text(_nested_block(MAX_DEPTH + 8)), ANY, "(yaml)",
                   f"nested deeper than {MAX_DEPTH} levels"),
    "deep-10000": (lambda p: p.write_text("[" * 10_000 + "]" * 10_000), 1, "(yaml)", "nested deeper than"),
    "billion-laughs": (lambda p: p.write_text(_billion_laughs(9, 9)), 9, "(yaml)",
                       f"more than {MAX_ALIASES} aliases"),
    "few-aliases-many-nodes": (lambda p: p.write_text(_billion_laughs(6, 10)), ANY, "(yaml)",
                               f"more than {MAX_NODES:,} values once aliases are expanded"),
    "python-object": (lambda p: p.write_text("trainable: !!python/object:os.system {}\n"), 1, "(yaml)",
                      "python tags are refused"),
    "python-apply": (lambda p: p.write_text('max_epochs: !!python/object/apply:os.system ["echo owned"]\n'), 1,
                     "(yaml)", "python tags are refused"),
    "custom-tag": (lambda p: p.write_text("trainable: cnn\nmax_epochs: !foo 3\n"), 2, "(yaml)", "no custom tags"),
    "duplicate-key": (lambda p: p.write_text("trainable: cnn\nmax_epochs: 2\nmax_epochs: 3\n"), 3, "(yaml)",
                      "duplicate key 'max_epochs'"),
    "duplicate-nested-key": (lambda p: p.write_text("trainable: cnn\nspace:\n  lr: 0.1\n  lr: 0.2\n"), 4,
                             "(yaml)", "duplicate key 'lr'"),
    "list-key": (lambda p: p.write_text("trainable: cnn\n? [a, b]\n: 1\n"), 2, "(yaml)",
                 "keys must be plain names, not lists or mappings"),
    "flow-mapping-key": (lambda p: p.write_text("trainable: cnn\n{a: 1}: 2\n"), 2, "(yaml)",
                         "keys must be plain names"),
    "top-is-a-scalar": (lambda p: p.write_text("just text\n"), 1, "(top)", "expected a mapping of keys, got text"),
    "number-key": (lambda p: p.write_text("trainable: cnn\n1: x\n"), 2, "(yaml)",
                   "key '1' is not a name (YAML reads it as a number): write it in quotes, '1'"),
    "boolean-key": (lambda p: p.write_text("trainable: cnn\nspace:\n  on: 1\n"), 3, "(yaml)",
                    "key 'on' is not a name (YAML reads it as a boolean)"),
    "newline-in-key": (lambda p: p.write_text('trainable: cnn\ndataset: digits\nmax_epochs: 1\nspace: {}\n'
                                              '"a\\nb": 1\n'), 5, "a\\nb", "unknown key"),
    "two-documents": (lambda p: p.write_text("trainable: cnn\n---\ntrainable: resnet\n"), 2, "(yaml)",
                      "expected a single document"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_file_refused_by_the_command_in_one_located_line(tmp_path, case):
    make, line, key, fragment = HOSTILE[case]
    path = tmp_path / "spec.yaml"
    make(path)
    proc = subprocess.run([str(HWK4TUNE), "validate", str(path)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=HANG_GUARD_S, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(err) == 1, proc.stderr
    where = re.escape(str(path)) + {None: "", ANY: r":[1-9]\d*"}.get(line, f":{line}")
    assert re.match(f"{where}: {re.escape(key)}: ", err[0]), err[0]
    assert fragment in err[0], err[0]
    assert proc.stdout == ""


def test_limits_are_the_documented_ones():
    assert (MAX_BYTES, MAX_DEPTH, MAX_ALIASES, MAX_NODES) == (1 << 20, 32, 64, 50_000)


def test_a_few_aliases_within_the_limits_are_fine(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("trainable: cnn\ndataset: digits\nmax_epochs: 2\n"
                    "space:\n  lr: &lr {loguniform: [1.0e-4, 0.1]}\n  weight_decay: *lr\n")
    assert load_space(path).params["weight_decay"] == load_space(path).params["lr"]


def test_merge_keys_share_settings(tmp_path):
    (tmp_path / "space.yaml").write_text("trainable: cnn\ndataset: digits\nmax_epochs: 4\nspace:\n"
                                         "  lr: {loguniform: [1.0e-4, 0.1]}\n")
    path = tmp_path / "compare.yaml"
    path.write_text("space: space.yaml\nbudget: {num_samples: 4}\nstrategies:\n"
                    "  a: &a {searcher: random, scheduler: {name: asha, grace_period: 2}}\n"
                    "  b: {<<: *a, searcher: hyperopt}\n")
    spec = load_compare(path)
    assert spec.strategies["b"].searcher.name == "hyperopt" and spec.strategies["b"].scheduler.grace_period == 2


def test_depth_just_under_the_limit_is_read(tmp_path):
    """The bound refuses only what is deeper than MAX_DEPTH: `space:` with nesting one less still parses
    (and is then refused for what it says, not for its shape)."""
    path = tmp_path / "space.yaml"
    path.write_text("trainable: cnn\ndataset: digits\nmax_epochs: 2\nspace:\n  lr: "
                    + "[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3) + "\n")
    with pytest.raises(SpecError) as info:
        load_space(path)
    assert "nested deeper" not in str(info.value)


def test_yaml_1_2_numbers(tmp_path):
    """PyYAML reads 1e-4 as the text '1e-4' (YAML 1.1); spec files read it as the number."""
    path = tmp_path / "space.yaml"
    path.write_text("trainable: cnn\ndataset: digits\nmax_epochs: 2\nspace:\n  lr: {loguniform: [1e-4, 5E-1]}\n"
                    "  weight_decay: 1.5e+3\n  hidden: 64\n  seed: 0x10\n")
    spec = load_space(path)
    assert spec.params["lr"].args == (1e-4, 0.5)
    assert spec.space.constants == {"weight_decay": 1500.0, "hidden": 64, "seed": 16}
    assert type(spec.space.constants["hidden"]) is int


@pytest.mark.parametrize("text, value", [
    ("1e-4", 1e-4), ("5E3", 5000.0), ("1.5e+3", 1500.0), (".5", 0.5), ("2.", 2.0), ("0.003", 0.003),
    ("1_000", 1000), ("07", 7),
    # text: a Ray trial id whose hex prefix has only digits (a CI run's best.yaml: 05498_00001 was read as
    # the float 549800001.0 and train refused its own file), digits with a leading 0 that are no octal
    ("05498_00001", "05498_00001"), ("0999", "0999"), ("1e5_00001", "1e5_00001"), ("abc", "abc"),
])
def test_numbers_and_text_both_ways(text, value):
    from hwk4tune.spec.source import dump_yaml, load_yaml

    read = load_yaml(f"x: {text}")["x"]
    assert read == value and type(read) is type(value)
    assert load_yaml(dump_yaml({"x": text}))["x"] == text  # written text reads back as that text


def test_best_yaml_keeps_any_trial_id_as_text(tmp_path):
    from hwk4tune.store.records import BestConfig, BestTrial, read_record

    for trial_id in ("05498_00001", "12345_00001", "1e234_00001", "abcde_00001"):
        best = BestConfig(trainable="cnn", dataset={"name": "digits"}, config={"lr": 0.003}, metric="val_accuracy",
                          mode="max", epochs=2, best=BestTrial(value=0.9, epoch=2, trial_id=trial_id, checkpoint=None))
        (tmp_path / "best.yaml").write_text(best.to_yaml())
        assert read_record(BestConfig, tmp_path / "best.yaml").best.trial_id == trial_id


@pytest.mark.parametrize("item, fragment", [
    ("num_samples", "expected KEY=VALUE"),
    ("=3", "expected KEY=VALUE"),
    ("x=[1, 2", "is not valid YAML"),
    ("x=!!python/object:os.system {}", "is not valid YAML"),
    ("x=" + "[" * 100 + "]" * 100, f"nested deeper than {MAX_DEPTH} levels"),
    ("x=" + "1" * 10_001, "longer than 10,000 characters"),
])
def test_bad_overrides_are_one_line_spec_errors(item, fragment):
    with pytest.raises(SpecError) as info:
        parse_overrides([item])
    text = str(info.value)
    assert "\n" not in text and text.startswith("--set: ") and fragment in text, text


def test_overrides_read_values_as_yaml_1_2():
    assert parse_overrides(["a=1e-4", "b=[1, 2]", "c=", "d=adam", "e.f=true"]) == {
        "a": 1e-4, "b": [1, 2], "c": None, "d": "adam", "e.f": True}


def test_hostile_file_through_python_api_is_a_spec_error(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match=re.escape(f"{fifo}: (file): is not a regular file")):
        load_space(fifo)
