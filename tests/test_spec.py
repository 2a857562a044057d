"""Spec files: every shipped file validates; every bad file gives exit 2 and one clear, located line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hwk4tune import cli
from hwk4tune.spec import SpecError, SweepSpec, kind_of, load_any, load_compare, load_space, load_sweep, parse_overrides

ROOT = Path(__file__).resolve().parent.parent
BAD = sorted((ROOT / "tests/data/bad").glob("*.yaml"))
SHIPPED = sorted((ROOT / "search_spaces").glob("*.yaml")) + sorted((ROOT / "launch").glob("*.yaml"))


def _expectation(path: Path) -> tuple[int, str, str]:
    """First line of each bad file: `# expect: LINE KEY message-fragment`."""
    header = path.read_text().splitlines()[0].removeprefix("# expect: ")
    line, key, fragment = header.split(" ", 2)
    return int(line), key, fragment


def test_corpus_is_large_enough():
    assert len(BAD) >= 30


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_file_exits_2_naming_key_and_line(path, capsys):
    line, key, fragment = _expectation(path)
    code = cli.main(["validate", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    matching = [text for text in err if text.startswith(f"{path}:{line}: {key}: ") and fragment in text]
    assert matching, f"expected '{line} {key} ...{fragment}...' in:\n" + "\n".join(err)
    assert "Traceback" not in "\n".join(err)


def test_bad_files_through_the_real_command_one_located_line_each():
    proc = subprocess.run(
        [sys.executable, "-m", "hwk4tune.cli", "validate", *map(str, BAD)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    # every line is FILE:LINE: key: message, FILE one of the bad files, LINE inside it
    pattern = re.compile(r"(?P<file>/\S+?\.yaml):(?P<line>[1-9]\d*): (?P<key>\S+): (?P<message>\S.*)")
    by_file: dict[str, list[re.Match]] = {}
    for text in lines:
        match = pattern.fullmatch(text)
        assert match, f"not FILE:LINE: key: message: {text!r}"
        by_file.setdefault(match["file"], []).append(match)
    assert set(by_file) == {str(p) for p in BAD}  # every bad file was refused, none silently passed
    for path in BAD:
        line, key, fragment = _expectation(path)
        found = [(int(m["line"]), m["key"]) for m in by_file[str(path)]]
        assert (line, key) in found, (path.name, found)
        assert all(n <= len(path.read_text().splitlines()) for n, _ in found), (path.name, found)


def test_missing_file_and_folder(tmp_path, capsys):
    assert cli.main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert cli.main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml: (file): no such file" in err and "is a folder" in err


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_validates(path):
    spec = load_any(path)
    space = spec if hasattr(spec, "trainable") else spec.space
    assert space.trainable in ("cnn", "resnet") and space.params


@pytest.fixture
def every_data_set(tmp_path, monkeypatch):
    """A data root where `data list` finds every data set (validate checks presence by the file names)."""
    from hwk4tune.learn.datasets import catalog, cifar

    root = tmp_path / "data"
    for folder, names in ((cifar.FOLDER, (*cifar.TRAIN_BATCHES, cifar.TEST_BATCH)), ("MNIST/raw", catalog.IDX_FILES),
                          ("FashionMNIST/raw", catalog.IDX_FILES)):
        (root / folder).mkdir(parents=True)
        for name in names:
            (root / folder / name).write_bytes(b"")
    monkeypatch.setenv("HWK4TUNE_DATA", str(root))
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    return root


def test_validate_prints_a_summary_and_exits_0(capsys, every_data_set):
    assert cli.main(["validate", *map(str, SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "launch/optuna_asha.yaml: ok (sweep)" in out
    assert "optuna(sampler=tpe, seed=0) + asha(" in out
    assert "lr" in out and "loguniform(0.0001, 0.3)" in out


def test_space_path_resolves_relative_to_the_sweep_file(tmp_path):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces/s.yaml").write_text("trainable: cnn\ndataset: digits\nmax_epochs: 2\nspace: {lr: 0.1}\n")
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps/w.yaml").write_text("space: ../spaces/s.yaml\nsearcher: random\nstorage: out\n")
    spec = load_sweep(tmp_path / "sweeps/w.yaml")
    assert spec.space.source == tmp_path / "spaces/s.yaml"
    assert Path(spec.storage) == tmp_path / "sweeps/out"
    assert spec.scheduler.name == "fifo" and spec.searcher.name == "random"


def test_overrides_go_to_the_sweep_or_else_to_its_space():
    overrides = parse_overrides(["num_samples=3", "max_epochs=1", "space.lr=0.01", "scheduler.grace_period=1"])
    spec = load_sweep(ROOT / "launch/optuna_asha.yaml", overrides)
    assert spec.num_samples == 3
    assert spec.space.max_epochs == 1
    assert spec.space.space.constants["lr"] == 0.01 and "lr" not in spec.space.params  # a constant now
    assert spec.scheduler.grace_period == 1
    with pytest.raises(SpecError, match="^--set: num_samples=0: Input should be greater than 0$"):  # the --set
        load_sweep(ROOT / "launch/optuna_asha.yaml", parse_overrides(["num_samples=0"]))
    with pytest.raises(SpecError, match="expected KEY=VALUE"):
        parse_overrides(["num_samples"])


def test_set_flag_on_the_command_line(capsys):
    code = cli.main(["validate", str(ROOT / "launch/random_fifo.yaml"), "--set", "num_samples=5", "--set", "space.lr=0.5"])
    out = capsys.readouterr().out
    assert code == 0 and "5 trials" in out and "lr            = 0.5" in out


def test_kinds_and_compare_budget():
    compare = load_compare(ROOT / "launch/compare_cnn.yaml")
    assert compare.max_epochs == 6 and len(compare.strategies) == 5 and compare.seeds == [0, 1, 2]
    assert compare.strategies["random+pbt"].scheduler.perturbation_interval == 2
    assert kind_of({"trainable": "cnn"}) == "space"
    assert kind_of({"space": "x.yaml", "serarcher": "random"}) == "sweep"
    assert kind_of({"space": "x.yaml", "strategies": {}}) == "compare"
    assert isinstance(load_any(ROOT / "launch/grid_fifo.yaml"), SweepSpec)


def test_space_file_shorthand_and_defaults():
    spec = load_space(ROOT / "search_spaces/cnn_digits.yaml")
    assert spec.dataset.name == "digits" and spec.metric == "val_accuracy" and spec.mode == "max"
    assert "lr" in spec.params and spec.params["lr"].kind == "loguniform"


def test_schema_command_prints_json_schema(capsys):
    assert cli.main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    text = json.dumps(schema)
    for word in ("searcher", "scheduler", "strategies", "trainable", "grace_period"):
        assert word in text
    # what an editor's YAML language server does with it: shipped files pass, a typo does not
    import jsonschema
    import yaml

    for path in SHIPPED:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load((ROOT / "tests/data/bad/sweep_unknown_option.yaml").read_text()), schema)
