"""``--storage`` URIs end to end: ``file:///…`` and ``s3://bucket/prefix`` against a local S3 endpoint (moto's
server, started here; Ray's pyarrow file system finds it through ``AWS_ENDPOINT_URL``). ``run``, Ctrl-C,
``resume``, ``table``, ``best`` and ``report`` take the same URI; so do ``compare --out``, ``compare --resume``
and ``report`` of the comparison; ``train`` reads its file from and writes its model to a URI, ``evaluate`` (and
``load_model``) read the model from it, ``record --out`` puts its sweep and table there; spec files and
``--data-dir`` are refused as URIs in one line.

Storage is the point here, not training: trials run the stand-in trainable of tests/sleeping.py (a checkpoint
each epoch, restored on resume, no torch in the workers). The Ctrl-C lands while the first trial waits before
its second epoch (the stand-in's ``hold`` file), so it never races the sweep's end."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sleeping import TRAIN

import hwk4tune
from hwk4tune.cli import main

HWK4TUNE = [sys.executable, "-m", "hwk4tune.cli"]
BUCKET = "hwk4tune-test"
SPACE = f"""\
trainable: {TRAIN}
max_epochs: EPOCHS
space:
  lr: {{loguniform: [1.0e-3, 0.1]}}
  hidden: 16
  batch_size: 32
"""
SWEEP = """\
space: space.yaml
searcher: {name: random, seed: 0}
scheduler: fifo
num_samples: 2
max_concurrent_trials: 1
"""

COMPARE = """\
space: space.yaml
budget: {num_samples: 2, max_epochs: 1}
seeds: [0]
max_concurrent_trials: 1
strategies:
  random+fifo: {searcher: random, scheduler: fifo}
  random+asha: {searcher: random, scheduler: {name: asha, grace_period: 1}}
"""


def _files(tmp_path, epochs: int, extra: str = ""):
    (tmp_path / "space.yaml").write_text(SPACE.replace("EPOCHS", str(epochs)) + extra)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    return tmp_path / "sweep.yaml"


@pytest.fixture
def s3(tmp_path):
    """A moto S3 server on a free port, a bucket in it, and the environment that points pyarrow and boto3 at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONUNBUFFERED": "1", "HWK4TUNE_CACHE": str(tmp_path / "cache")}
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield env, client
    finally:
        server.stop()


@pytest.fixture
def s3_here(s3, monkeypatch):
    """The s3 fixture's environment in this process too: ``train`` and ``evaluate`` start no Ray, pyarrow reads
    the endpoint and credentials here."""
    env, client = s3
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                "HWK4TUNE_CACHE"):
        monkeypatch.setenv(key, env[key])
    return client


def _keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _cli(args, env, timeout=900):
    return subprocess.run(HWK4TUNE + args, env=env, capture_output=True, text=True, timeout=timeout)


def _finished_table(uri: str, env) -> pd.DataFrame:
    out = _cli(["table", uri, "--format", "csv"], env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return pd.read_csv(io.StringIO(out.stdout))


@pytest.mark.slow
def test_s3_run_ctrl_c_resume_table_best_report(tmp_path, s3):
    env, client = s3
    hold = tmp_path / "hold"  # the first trial reports epoch 1 (with its checkpoint), then waits while it exists
    hold.touch()
    sweep = _files(tmp_path, epochs=3, extra=f"  hold: {hold}\n  hold_from: 2\n")
    uri = f"s3://{BUCKET}/runs/s3exp"
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        driver = subprocess.Popen(HWK4TUNE + ["run", str(sweep), "--storage", f"s3://{BUCKET}/runs", "--name", "s3exp"],
                                  stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not any(k.endswith("/checkpoint.pt") or "/checkpoint_" in k for k in _keys(client, "runs/s3exp/")):
            assert driver.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        driver.send_signal(signal.SIGINT)
        assert driver.wait(timeout=300) == 130, log.read_text()[-3000:]
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait(timeout=30)
    assert f"hwk4tune resume {uri}" in log.read_text()
    keys = _keys(client, "runs/s3exp/")
    assert "runs/s3exp/hwk4tune.json" in keys and "runs/s3exp/sweep.yaml" in keys
    assert any(k.split("/")[-1].startswith("experiment_state-") for k in keys)  # Tune's state, in the bucket
    assert not (tmp_path / "runs").exists()

    hold.unlink()
    done = _cli(["resume", uri, "-q"], env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    trials = _finished_table(uri, env)
    assert len(trials) == 2 and set(trials["status"]) == {"TERMINATED"}
    assert set(trials["epochs"]) == {3}

    best = _cli(["best", uri, "-o", str(tmp_path / "best.yaml")], env, timeout=300)
    assert best.returncode == 0, best.stderr[-2000:]
    chosen = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert chosen["best"]["trial_id"] in set(trials["trial_id"])
    report = _cli(["report", uri, "-o", str(tmp_path / "report.html")], env, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "<html" in (tmp_path / "report.html").read_text()[:500].lower()
    missing = _cli(["table", f"s3://{BUCKET}/runs/nothing-here"], env, timeout=120)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such folder" in missing.stderr


def test_file_uri_storage(tmp_path, ray_local, capsys):
    """In-process on the session's Ray (nothing remote: no environment for Ray's workers to inherit)."""
    sweep = _files(tmp_path, epochs=1)
    storage = f"file://{tmp_path}/runs"

    def table() -> pd.DataFrame:
        capsys.readouterr()
        assert main(["table", f"{storage}/f", "--format", "csv"]) == 0, capsys.readouterr().err[-2000:]
        return pd.read_csv(io.StringIO(capsys.readouterr().out))

    assert main(["run", str(sweep), "--storage", storage, "--name", "f", "-q"]) == 0, capsys.readouterr().err[-3000:]
    assert (tmp_path / "runs" / "f" / "hwk4tune.json").is_file()  # file:///PATH is the folder PATH
    trials = table()
    assert len(trials) == 2 and set(trials["status"]) == {"TERMINATED"}
    assert main(["resume", f"{storage}/f", "-q"]) == 0, capsys.readouterr().err[-3000:]  # nothing left to run
    assert len(table()) == 2  # the same two trials


@pytest.mark.slow
def test_s3_compare_resume_report(tmp_path, s3):
    env, client = s3
    _files(tmp_path, epochs=1)
    (tmp_path / "compare.yaml").write_text(COMPARE)
    uri = f"s3://{BUCKET}/cmp"
    first = _cli(["compare", str(tmp_path / "compare.yaml"), "--out", uri], env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert f"wrote {uri}/comparison.md" in first.stdout
    keys = set(_keys(client, "cmp/"))
    for name in ("random+fifo-seed0", "random+asha-seed0"):
        assert {f"cmp/runs/{name}/hwk4tune.json", f"cmp/runs/{name}/run.json"} <= keys, sorted(keys)
        assert any(k.startswith(f"cmp/runs/{name}/trial_") and k.endswith("/result.json") for k in keys)
    assert {"cmp/comparison.json", "cmp/comparison.md", "cmp/comparison.csv", "cmp/runs.csv",
            "cmp/anytime_epochs.png", "cmp/optuna.journal"} <= keys, sorted(keys)
    table = client.get_object(Bucket=BUCKET, Key="cmp/comparison.md")["Body"].read().decode()
    assert "random+fifo" in table and "random+asha" in table
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cmp").exists()

    # a run left unfinished (as a killed compare leaves it: run.json says running) is run again from scratch
    # on --resume, its old trials deleted from the bucket; the finished one is kept
    asha = "cmp/runs/random+asha-seed0/"
    old_trials = {k for k in keys if k.startswith(asha + "trial_")}
    run = json.loads(client.get_object(Bucket=BUCKET, Key=asha + "run.json")["Body"].read())
    client.put_object(Bucket=BUCKET, Key=asha + "run.json", Body=json.dumps({**run, "status": "running"}).encode())
    again = _cli(["compare", str(tmp_path / "compare.yaml"), "--out", uri, "--resume"], env)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "random+fifo-seed0: done before, skipped" in again.stdout, again.stdout[-2000:]
    assert "random+asha-seed0: interrupted before, running it again from scratch" in again.stdout
    keys = set(_keys(client, "cmp/"))
    new_trials = {k for k in keys if k.startswith(asha + "trial_")}
    assert new_trials and not new_trials & old_trials
    assert sum(k.endswith("/result.json") for k in new_trials) == 2
    assert json.loads(client.get_object(Bucket=BUCKET, Key=asha + "run.json")["Body"].read())["status"] == "done"
    done = _cli(["compare", str(tmp_path / "compare.yaml"), "--out", uri, "--resume"], env)
    assert done.returncode == 0 and done.stdout.count("done before, skipped") == 2 and "[1/" not in done.stdout
    refused = _cli(["compare", str(tmp_path / "compare.yaml"), "--out", uri], env, timeout=300)
    assert refused.returncode == 2 and "already holds a comparison" in refused.stderr

    report = _cli(["report", uri, "-o", str(tmp_path / "cmp.html")], env, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    page = (tmp_path / "cmp.html").read_text()
    assert "<html" in page[:500].lower() and "random+asha" in page


def test_compare_out_places(tmp_path, monkeypatch):
    """``compare --out``: ``file:///PATH`` is the folder PATH (nothing remote); a URI is assembled in its mirror;
    the comparison's journal is a local file even when its runs' storage is a URI."""
    from pathlib import Path

    from hwk4tune.live import LiveOptions
    from hwk4tune.store.remote import Workspace

    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    local = Workspace.of(f"file://{tmp_path}/cmp")
    assert (local.target, local.local, local.remote) == (str(tmp_path / "cmp"), tmp_path / "cmp", False)
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "comparison.md").write_text("x")
    assert local.push("comparison.md", "absent.csv") == [str(tmp_path / "cmp" / "comparison.md")]
    remote = Workspace.of(f"s3://{BUCKET}/a/cmp/")
    assert remote.remote and remote.local == tmp_path / "cache" / "remote" / "s3" / BUCKET / "a" / "cmp"
    assert remote.location("runs/x") == f"s3://{BUCKET}/a/cmp/runs/x"
    assert LiveOptions(journal="j").journal_path(f"s3://{BUCKET}/a/cmp/runs/x") == Path("j")
    assert LiveOptions().journal_path(f"s3://{BUCKET}/a/cmp/runs/x") is None


BEST_DIGITS = """\
trainable: cnn
dataset: {name: digits, subset: 200}
config: {optimizer: adam, lr: 3.0e-3, hidden: 16, batch_size: 64, seed: 0}
epochs: 1
"""


def test_s3_train_evaluate_load_model(tmp_path, s3_here, capsys, monkeypatch):
    """train reads best.yaml from the bucket and writes its three files there (printing their URIs, nothing
    written here); evaluate and load_model read the model back from the folder URI or its model.pt URI."""
    client = s3_here
    monkeypatch.chdir(tmp_path)  # a URI taken for a path would leave ./s3:/… here
    client.put_object(Bucket=BUCKET, Key="in/best.yaml", Body=BEST_DIGITS.encode())
    model = f"s3://{BUCKET}/model"
    assert main(["train", f"s3://{BUCKET}/in/best.yaml", "--out", model, "-q"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    for name in ("model.pt", "config.yaml", "metrics.json"):
        assert f"wrote {model}/{name}" in printed
        assert f"model/{name}" in _keys(client, "model/")
    metrics = json.loads(client.get_object(Bucket=BUCKET, Key="model/metrics.json")["Body"].read())
    assert metrics["source_file"] == f"s3://{BUCKET}/in/best.yaml" and metrics["epochs"] == 1
    accuracy = f"{metrics['test_accuracy']:.4f}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # only the mirror, nothing at ./s3:

    assert main(["evaluate", model]) == 0, capsys.readouterr().err
    assert f"test accuracy {accuracy} on 200 images of digits (train reported {accuracy})" in capsys.readouterr().out
    # model.pt alone, with an empty mirror: its config.yaml (subset 200) comes with it, else the whole test split
    import shutil

    shutil.rmtree(tmp_path / "cache")
    assert main(["evaluate", f"{model}/model.pt"]) == 0, capsys.readouterr().err
    assert f"test accuracy {accuracy} on 200 images" in capsys.readouterr().out
    loaded = hwk4tune.load_model(model)
    assert f"{loaded.test_accuracy:.4f}" == accuracy and loaded.config["hidden"] == 16


def test_s3_bad_places_are_one_line(tmp_path, s3_here, capsys):
    """Storage that cannot be written is refused before training; absent URIs and URIs where only a local path
    means something are one line, exit 2, naming the URI or the argument."""
    from hwk4tune.errors import InputError
    from hwk4tune.store.remote import Workspace

    (tmp_path / "best.yaml").write_text(BEST_DIGITS)
    cases = [
        (["train", str(tmp_path / "best.yaml"), "--out", "s3://no-such-bucket/m", "-q"],
         "s3://no-such-bucket/m: cannot be written"),
        (["train", f"s3://{BUCKET}/absent.yaml", "--out", str(tmp_path / "m"), "-q"],
         f"s3://{BUCKET}/absent.yaml: no such file"),
        (["evaluate", f"s3://{BUCKET}/absent"], f"s3://{BUCKET}/absent: no such file or folder"),
        (["evaluate", str(tmp_path), "--data-dir", f"s3://{BUCKET}/data"], f"--data-dir s3://{BUCKET}/data: a storage URI"),
        (["train", str(tmp_path / "best.yaml"), "--out", str(tmp_path / "m"), "--data-dir", f"s3://{BUCKET}/d"],
         "--data-dir s3://"),
        (["submit", f"s3://{BUCKET}/sweep.yaml"], f"SWEEP.yaml s3://{BUCKET}/sweep.yaml: a storage URI cannot be used"),
        (["record", f"s3://{BUCKET}/space.yaml", "--configs", "1", "--out", "t.parquet"], "SPACE.yaml s3://"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (args, err)
        assert "training" not in err  # refused before any data is loaded or trained
    assert not (tmp_path / "m").exists()
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InputError, match=r"s3://no-such-bucket/w/f.txt: cannot be written .*; the file is in "):
        Workspace("s3://no-such-bucket/w", tmp_path).push("f.txt")


RECORD_SPACE = f"""\
trainable: {Path(__file__).resolve().parent / "data" / "levels" / "levels.py"}:train
metric: val_accuracy
mode: max
max_epochs: 2
space:
  level: {{uniform: [0.1, 0.5]}}
  optimizer: {{choice: [sgd, adam]}}
"""


@pytest.mark.slow
def test_s3_record_and_resume(tmp_path, s3):
    """record --out s3://…/t.parquet: Tune writes the sweep to s3://…/t.sweep/, the table goes to the bucket; a
    second recording there is refused, --resume finishes the same one (nothing left to run) and writes it again.
    Then ``-o s3://…`` of table, best and report: each file lands in the bucket and its URI is printed."""
    env, client = s3
    (tmp_path / "space.yaml").write_text(RECORD_SPACE)
    table = f"s3://{BUCKET}/rec/t.parquet"
    args = ["record", str(tmp_path / "space.yaml"), "--configs", "2", "--out", table, "-q", "--max-concurrent", "1"]
    first = _cli(args, env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"wrote {table}" in first.stdout
    keys = _keys(client, "rec/")
    assert "rec/t.sweep/hwk4tune.json" in keys and sum(k.endswith("/result.json") for k in keys) == 2

    def rows() -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(client.get_object(Bucket=BUCKET, Key="rec/t.parquet")["Body"].read()))

    recorded = rows()
    assert recorded.groupby("config_id")["epoch"].apply(list).tolist() == [[1, 2], [1, 2]]
    assert not (tmp_path / "rec").exists() and not list(tmp_path.glob("*.parquet"))
    again = _cli(args, env, timeout=300)
    assert again.returncode == 2 and f"s3://{BUCKET}/rec/t.sweep holds an earlier recording" in again.stderr
    client.delete_object(Bucket=BUCKET, Key="rec/t.parquet")
    resumed = _cli([*args, "--resume"], env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"wrote {table}" in resumed.stdout
    pd.testing.assert_frame_equal(rows(), recorded)  # the same two finished configurations

    # the recording's sweep is an experiment: table, best and report read it and write their -o to the bucket
    sweep = f"s3://{BUCKET}/rec/t.sweep"
    for verb, flags, key in (("table", ["--format", "csv"], "out/trials.csv"), ("best", [], "out/best.yaml"),
                             ("report", [], "out/report.html")):
        done = _cli([verb, sweep, *flags, "-o", f"s3://{BUCKET}/{key}"], env, timeout=300)
        assert done.returncode == 0 and f"wrote s3://{BUCKET}/{key}\n" in done.stdout, done.stdout + done.stderr

    def text(key: str) -> str:
        return client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()

    assert sorted(pd.read_csv(io.StringIO(text("out/trials.csv")))["trial_id"]) == sorted(set(recorded["trial_id"]))
    assert yaml.safe_load(text("out/best.yaml"))["best"]["trial_id"] in set(recorded["trial_id"])
    assert "<html" in text("out/report.html")[:500].lower()
    assert not (tmp_path / "s3:").exists() and not (Path.cwd() / "s3:").exists()
