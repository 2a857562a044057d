"""A model you can use: `hwk4tune train` writes it, `hwk4tune.load_model` loads it, `hwk4tune evaluate`
measures it (the same test accuracy train reported); train's output in a log has no carriage returns; best.yaml
numbers are read as YAML 1.2 numbers (1e-3, 1E-3)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import hwk4tune
from hwk4tune.cli import main

BEST_YAML = """\
trainable: cnn
dataset: {name: digits, subset: 300}
config: {optimizer: adam, lr: 3e-3, weight_decay: 1E-5, hidden: 32, batch_size: 64, seed: 0}
epochs: 2
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`hwk4tune train` in a subprocess whose stderr is a pipe (not a terminal), as in CI or `| tee`."""
    tmp = tmp_path_factory.mktemp("trained")
    (tmp / "best.yaml").write_text(BEST_YAML)
    # bytes: text=True would turn every \r into \n, hiding the progress bars the test looks for
    run = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "train", str(tmp / "best.yaml"), "--out",
                          str(tmp / "out")], capture_output=True, timeout=600)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    return tmp / "out", run


def test_train_in_a_log_prints_plain_lines(trained):
    _, run = trained
    assert b"\r" not in run.stderr and b"\r" not in run.stdout
    assert b"epoch 1/2: train_loss" in run.stderr and b"epoch 2/2: train_loss" in run.stderr


def test_best_yaml_numbers_in_exponent_form(trained):
    out, _ = trained
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["lr"] == 3e-3 and config["weight_decay"] == 1e-5


def test_load_model_round_trip(trained, capsys):
    import torch

    from hwk4tune.learn.data import load_dataset

    out, _ = trained
    reported = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    m = hwk4tune.load_model(out)
    assert not m.model.training and m.input_shape == (1, 28, 28) and m.config["hidden"] == 32
    data = load_dataset("digits", subset=300)
    raw = data.test_x * torch.tensor(data.std)[None, :, None, None] + torch.tensor(data.mean)[None, :, None, None]
    predicted = m.predict(raw)
    assert float((predicted == data.test_y).float().mean()) == pytest.approx(reported, abs=1e-6)
    with pytest.raises(ValueError, match="images must be N x 1 x 28 x 28"):
        m.predict(torch.zeros(2, 3, 28, 28))

    assert main(["evaluate", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"test accuracy {reported:.4f} on {len(data.test_y)} images of digits (train reported {reported:.4f})" in text
    matrix = [line.split()[1:] for line in text.splitlines()[3:]]
    assert len(matrix) == 10 and sum(int(v) for row in matrix for v in row) == len(data.test_y)
    correct = sum(int(matrix[i][i]) for i in range(10))
    assert correct / len(data.test_y) == pytest.approx(reported, abs=1e-6)


def test_evaluate_without_a_model_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (f"hwk4tune evaluate: {tmp_path}: no model.pt (give the --out folder "
                                               "of `hwk4tune train`, or its model.pt)")


def test_import_stays_torch_free():
    code = "import sys, hwk4tune; hwk4tune.load_model; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_evaluate_subset_overrides_the_subset_it_was_trained_on(trained, capsys):
    from hwk4tune.learn.data import load_dataset

    out, _ = trained
    full = load_dataset("digits").sizes()["test"]
    assert main(["evaluate", str(out), "--subset", "all"]) == 0
    assert f" on {full} images of digits" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--subset", "40"]) == 0
    assert " on 40 images of digits" in capsys.readouterr().out
