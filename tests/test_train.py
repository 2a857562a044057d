"""``train_config``: best.yaml or a fixed space -> model.pt, config.yaml, metrics.json."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from hwk4tune.model.train import TrainFileError, train_config
from hwk4tune.model.trained import load_model

BEST = {
    "trainable": "cnn",
    "dataset": {"name": "digits", "subset": None, "data_dir": None, "val_fraction": 0.1, "seed": 0},
    "config": {"optimizer": "adam", "lr": 1e-3, "l1": 1e-6, "seed": 0},
    "metric": "val_accuracy",
    "mode": "max",
    "best": {"value": 0.97, "epoch": 3, "trial_id": "abc_00001", "checkpoint": "/elsewhere/checkpoint_000002"},
}


def test_round_trip_from_best_yaml(tmp_path, capsys):
    path = tmp_path / "best.yaml"
    path.write_text(yaml.safe_dump(BEST))
    out = tmp_path / "out"
    metrics = train_config(path, 2, out, progress=False)
    printed = capsys.readouterr().out
    for name in ("model.pt", "config.yaml", "metrics.json"):
        assert (out / name).is_file() and str(out / name) in printed
    assert 0.6 < metrics["test_accuracy"] <= 1.0  # chance is 0.1
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["test_accuracy"] == metrics["test_accuracy"]
    assert [h["epoch"] for h in on_disk["history"]] == [1, 2]
    assert on_disk["weights"] == "random init" and on_disk["best"]["trial_id"] == "abc_00001"
    assert on_disk["dataset"]["trained_on"] == "train+val"

    # model.pt rebuilds the model that scored that accuracy.
    from hwk4tune.learn.data import load_dataset

    data = load_dataset("digits")
    model = load_model(out / "model.pt").model
    with torch.no_grad():
        acc = (model(data.test_x).argmax(1) == data.test_y).float().mean().item()
    assert acc == pytest.approx(metrics["test_accuracy"], abs=1e-6)

    # config.yaml is itself a file train takes; epochs default to the ones written there.
    again = train_config(out / "config.yaml", None, tmp_path / "again", progress=False)
    assert again["epochs"] == 2 and again["config"] == metrics["config"]


def test_fixed_space_dict_and_progress(tmp_path, capsys):
    space = {"trainable": "cnn", "dataset": {"name": "digits", "subset": 200}, "max_epochs": 1,
             "space": {"optimizer": "sgd", "lr": 0.05, "hidden": 32, "batch_norm": True}}
    metrics = train_config(space, None, tmp_path, progress=True)
    assert metrics["epochs"] == 1 and metrics["config"]["hidden"] == 32
    assert "epoch 1/1" in capsys.readouterr().err


def test_space_with_distributions_is_refused(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("trainable: cnn\ndataset: {name: digits}\nmax_epochs: 2\n"
                    "space:\n  lr: {loguniform: [1.0e-4, 1.0e-1]}\n  dropout: {uniform: [0, 0.5]}\n  hidden: 64\n")
    with pytest.raises(TrainFileError, match="distributions for dropout, lr"):
        train_config(path, 1, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("config, match", [
    ({"trainable": "cnn", "dataset": "digits", "config": {"lr": -1}}, "lr = -1"),
    ({"trainable": "mlp", "dataset": "digits", "config": {}}, "not one of cnn, resnet"),
    ({"trainable": "cnn", "dataset": "digits"}, "expected a best.yaml"),
])
def test_bad_configs(config, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        train_config(config, 1, tmp_path)


def test_resnet_records_weights(tmp_path):
    best = {"trainable": "resnet", "dataset": {"name": "fake", "subset": 40},
            "config": {"finetune": "head", "pretrained": "none", "batch_size": 16}}
    metrics = train_config(best, 1, tmp_path / "a", progress=False)
    assert metrics["weights"] == "random init"
    # a ResNet18 state dict given as weights_path: recorded as the user's own weights
    import torch
    from torchvision.models import resnet18

    own = tmp_path / "own.pt"
    torch.save(resnet18(weights=None).state_dict(), own)
    best["config"] = {**best["config"], "weights_path": str(own)}
    assert train_config(best, 1, tmp_path / "b", progress=False)["weights"] == f"user weights {own}"


def test_train_command_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    """A space that still has distributions, and a data set that is not on this machine: exit 2, one line."""
    from hwk4tune.cli import main

    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")
    monkeypatch.setenv("HWK4TUNE_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "no-cache"))  # `hwk4tune data fetch mnist` may have filled the real one
    tunable = tmp_path / "tunable.yaml"
    tunable.write_text("trainable: cnn\ndataset: digits\nmax_epochs: 1\nspace: {lr: {loguniform: [1.0e-3, 0.1]}}\n")
    missing = tmp_path / "mnist.yaml"
    missing.write_text("trainable: cnn\ndataset: mnist\nmax_epochs: 1\nspace: {lr: 0.01}\n")
    for path, fragment in ((tunable, "lr"), (missing, "mnist")):
        assert main(["train", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0], err
    assert not (tmp_path / "out" / "model.pt").exists()


def test_early_stop_keeps_the_best_epoch(tmp_path, capsys):
    """A gain of 0.5 is never reached after epoch 1: training stops at epoch 2 and keeps epoch 1's weights."""
    import torch.nn.functional as F

    from hwk4tune.learn.data import load_dataset

    space = {"trainable": "cnn", "dataset": {"name": "digits", "subset": 300}, "max_epochs": 4,
             "space": {"optimizer": "adam", "lr": 3e-3, "seed": 0}}
    metrics = train_config(space, 4, tmp_path / "m", progress=False, early_stop=True, min_delta=0.5, patience=1)
    assert metrics["early_stop"]["best_epoch"] == 1 and metrics["early_stop"]["stopped_at"] == 2
    assert metrics["epochs"] == 2 and metrics["dataset"]["trained_on"] == "train"
    assert "kept the weights of epoch 1" in capsys.readouterr().err
    h1, h2 = metrics["history"]
    assert abs(h1["val_loss"] - h2["val_loss"]) > 1e-6  # epoch 2 moved the weights
    data = load_dataset("digits", subset=300)
    with torch.no_grad():
        val_loss = F.cross_entropy(load_model(tmp_path / "m" / "model.pt").model(data.val_x), data.val_y).item()
    assert val_loss == pytest.approx(h1["val_loss"], abs=1e-5)


def test_subset_and_data_dir_flags_override_the_data_a_best_config_carries(tmp_path, capsys):
    """A config tuned on 100 images trains on all of them (--subset all) or on N (--subset N), from --data-dir;
    config.yaml says what it was trained on."""
    from hwk4tune.cli import main
    from hwk4tune.learn.data import load_dataset

    best = tmp_path / "best.yaml"
    best.write_text(yaml.safe_dump({**BEST, "dataset": {"name": "digits", "subset": 100, "data_dir": "/nowhere"}}))
    full = load_dataset("digits").sizes()
    assert main(["train", str(best), "--epochs", "1", "--out", str(tmp_path / "all"), "-q", "--subset", "all",
                 "--data-dir", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert metrics["dataset"]["sizes"] == full
    written = yaml.safe_load((tmp_path / "all" / "config.yaml").read_text())["dataset"]
    assert written.get("subset") is None and written["data_dir"] == str(tmp_path)  # None: not written
    assert main(["train", str(best), "--epochs", "1", "--out", str(tmp_path / "n"), "-q", "--subset", "60"]) == 0
    sizes = json.loads((tmp_path / "n" / "metrics.json").read_text())["dataset"]["sizes"]
    assert sizes["train"] + sizes["val"] == 60 and sizes["test"] == 60
    assert yaml.safe_load((tmp_path / "n" / "config.yaml").read_text())["dataset"]["subset"] == 60
    capsys.readouterr()
    for bad in ("1", "many"):
        with pytest.raises(SystemExit) as info:
            main(["train", str(best), "--out", str(tmp_path / "x"), "--subset", bad])
        assert info.value.code == 2 and "--subset" in capsys.readouterr().err
