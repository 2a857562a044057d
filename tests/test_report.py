"""`report`: one self-contained HTML page for a sweep or a comparison; the demo's compare file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from results_fixtures import small_comparison, small_sweep

from hwk4tune.cli import main
from hwk4tune.report import REPORT_FILE, build_report


@pytest.fixture(scope="module")
def sweep_dir(ray_local, tmp_path_factory) -> Path:
    return small_sweep(tmp_path_factory)


def _self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)  # nothing loaded from elsewhere
    assert "<script" not in page
    for src in re.findall(r'<img[^>]*src="([^"]+)"', page):
        assert src.startswith("data:image/png;base64,")


def test_sweep_report(sweep_dir, tmp_path, capsys):
    target = tmp_path / "r.html"
    assert main(["report", str(sweep_dir), "-o", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    page = target.read_text()
    _self_contained(page)
    assert page.count("<img") >= 2 and "<table" in page
    assert "grid+fifo" in page and "Best trial" in page
    assert "greater than 0" in page  # the errored trial's error


def test_comparison_report(ray_local, tmp_path_factory, capsys):
    out = small_comparison(tmp_path_factory)
    assert main(["report", str(out)]) == 0
    assert f"wrote {out / REPORT_FILE}" in capsys.readouterr().out
    page = (out / REPORT_FILE).read_text()
    _self_contained(page)
    assert page.count("<img") == 2
    assert "random+fifo" in page and "random+asha" in page and "Overall best trial" in page


def test_report_refuses_other_folders(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a comparison folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2


def test_demo_file_is_valid_and_embedded(root, capsys):
    from hwk4tune.demo import DEMO_YAML
    from hwk4tune.spec import load_compare

    text = (root / "launch" / "demo.yaml").read_text()
    assert DEMO_YAML == text  # the copy an installed package without the checkout uses
    spec = load_compare(root / "launch" / "demo.yaml")
    assert list(spec.strategies) == ["random+fifo", "random+asha", "optuna+asha", "hyperopt+hyperband", "random+pbt"]
    assert spec.space.dataset.name == "digits" and spec.space.trainable == "cnn" and len(spec.seeds) == 2
    assert build_report  # imported without Ray
