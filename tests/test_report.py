"""`report`: one self-contained HTML page for a sweep or a comparison; the demo's compare file."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from results_fixtures import small_comparison, small_sweep
from sleeping import TRAIN

from hwk4tune.cli import main
from hwk4tune.report.page import build_report
from hwk4tune.results import load_experiment
from hwk4tune.store.records import REPORT_FILE


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
    assert "allocate" in page  # the errored trial's error


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
    assert spec.space.dataset.name == "digits" and spec.space.trainable == "cnn" and len(spec.seeds) == 1
    import subprocess
    import sys

    # the report's module loads without Ray (it reads files only)
    probe = "import sys, hwk4tune.report.page, hwk4tune.demo; print(sorted(m for m in ('ray', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ray" not in out.stdout, out.stdout + out.stderr


def _shown_config(page: str, heading: str) -> dict:
    section = page.split(heading, 1)[1]
    return yaml.safe_load(html.unescape(re.search(r'<pre class="config">(.*?)</pre>', section, re.S).group(1)))


def _pbt_sweep(root: Path) -> Path:
    """random + PBT (perturbing every epoch, in step, the bottom half cloning the top half), 4 trials x 6
    epochs all at once (half a CPU each) on the stand-in trainable of tests/sleeping.py: each config its own
    curve, so a clone's changed config changes what it reports. The report reads files: how the trials
    trained is not the point."""
    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    (root / "space.yaml").write_text(yaml.safe_dump({
        "trainable": TRAIN, "metric": "val_accuracy", "mode": "max", "max_epochs": 6,
        "space": {"optimizer": "adam", "hidden": 32, "batch_size": 32, "lr": {"loguniform": [1.0e-3, 1.0e-1]}}}))
    (root / "sweep.yaml").write_text(yaml.safe_dump({
        "space": "space.yaml", "searcher": {"name": "random", "seed": 0},
        "scheduler": {"name": "pbt", "perturbation_interval": 1, "quantile_fraction": 0.5, "synch": True,
                      "seed": 0},
        "num_samples": 4, "max_concurrent_trials": 4, "resources_per_trial": {"cpu": 0.5}}))
    return Path(run_sweep(load_sweep(root / "sweep.yaml"), storage=str(root / "runs"), name="pbt", verbose=False))


def test_pbt_report_shows_the_config_best_yaml_holds(ray_local, tmp_path, capsys):
    """PBT changes hyperparameters while trials train: the report's best config, best.yaml's and the
    table's are all the config in force at the best trial's best epoch."""
    exp_dir = _pbt_sweep(tmp_path)
    assert list(exp_dir.glob("pbt_policy_*.txt")), "no trial cloned another: PBT did not act"
    _, page = build_report(exp_dir)
    shown = _shown_config(page, "Best trial")
    assert main(["best", str(exp_dir), "-o", str(tmp_path / "best.yaml")]) == 0
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert shown == best["config"]
    exp = load_experiment(exp_dir)
    trial_dir = exp_dir / exp.best()["trial_dir"]
    rows = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines() if line.strip()]
    at_best = [r for r in rows if r["epoch"] == best["best"]["epoch"]][-1]
    assert best["config"] == at_best["config"]
    capsys.readouterr()
    assert main(["table", str(exp_dir), "--format", "json", "--top", "1"]) == 0
    top = json.loads(capsys.readouterr().out)[0]
    # the table prints 10 significant digits
    assert top["trial_id"] == best["best"]["trial_id"] and top["config/lr"] == pytest.approx(best["config"]["lr"], rel=1e-7)


_OVERFLOW_JS = """(() => {
  const page = document.documentElement.scrollWidth;
  const tables = [...document.querySelectorAll('table')].map(t => ({
    cls: t.className, width: t.scrollWidth, room: t.parentElement.clientWidth}));
  return {page, viewport: window.innerWidth, tables};
})()"""


def _measure_report(exp: Path, tmp_path: Path, screenshot: str, script: str) -> tuple[dict, Path]:
    """`hwk4tune report` of ``exp`` opened in Chromium at 1280 x 900: what ``script`` measures, and the
    screenshot's path (kept in $HWK4TUNE_SCREENSHOT_DIR when set)."""
    from browser import Chromium

    target = tmp_path / "r.html"
    assert main(["report", str(exp), "-o", str(target)]) == 0
    shots = Path(os.environ.get("HWK4TUNE_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    async def measure() -> dict:
        async with Chromium(width=1280, height=900) as page:
            await page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1,
                            mobile=False)
            await page.call("Page.navigate", url=target.as_uri())
            await page.wait_text("Best trial")
            await page.screenshot(shots / screenshot)
            return await page.eval(script)

    return asyncio.run(measure()), shots / screenshot


@pytest.mark.ci_required
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"),
                    reason="needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)")
def test_report_tables_fit_1280px_in_chromium(sweep_dir, tmp_path):
    """The wide trial table (every hyperparameter and metric a column) wraps to fit a 1280 px window: no
    table is wider than its container and the page never scrolls sideways (screenshot kept)."""
    seen, shot = _measure_report(sweep_dir, tmp_path, "report-1280.png", _OVERFLOW_JS)
    assert seen["viewport"] == 1280
    assert len(seen["tables"]) >= 3 and any("hwk4tune-table" in t["cls"] for t in seen["tables"])
    too_wide = [t for t in seen["tables"] if t["width"] > t["room"]]
    assert not too_wide, f"tables wider than their container at 1280 px: {too_wide}"
    assert seen["page"] <= 1280, f"the page scrolls sideways: {seen['page']} px wide"
    assert shot.stat().st_size > 10_000


LONG_SEARCHER = {"name": "optuna", "sampler": "tpe", "seed": 0, "n_startup_trials": 10,
                 "points_to_evaluate": [{"optimizer": "adam", "lr": 0.001 * (i + 1), "batch_size": 32,
                                         "hidden": 64, "dropout": 0.25} for i in range(12)]}


def test_header_shows_a_mapping_as_wrapping_key_value_lines():
    """Issue 31: the searcher's long JSON, unwrapped, squashed the header's labels to a letter per line. A
    mapping is one `key: value` line per key, values JSON with a space after each comma (where a line
    wraps), the cell wraps and the labels never do."""
    from hwk4tune.report.page import _CSS, _meta_table

    table = _meta_table([("strategy", "optuna+asha"), ("searcher", LONG_SEARCHER), ("empty", {})])
    row = re.search(r"<tr><th>searcher</th><td>(.*?)</td></tr>", table).group(1)
    lines = re.findall(r'<span class="kv">(.*?)</span>', row)
    assert lines[:4] == ["name: optuna", "sampler: tpe", "seed: 0", "n_startup_trials: 10"]
    assert html.unescape(lines[4]).startswith('points_to_evaluate: [{"optimizer": "adam", "lr": 0.001, ')
    assert "empty" not in table and "<th>strategy</th><td>optuna+asha</td>" in table
    css = _CSS.replace(" ", "")
    assert ".metath{white-space:nowrap;" in css and ".metatd{text-align:left;white-space:normal}" in css
    assert "overflow-wrap:anywhere" in css  # a value without spaces still breaks


def test_report_pictures_have_titles_and_labels(sweep_dir):
    """Every picture of a sweep's report: a title, and on each panel a title, an x label and a y label."""
    import matplotlib.pyplot as plt

    from hwk4tune.report.page import _learning_curves, _param_scatter

    exp = load_experiment(sweep_dir)
    for fig in (_learning_curves(exp), _param_scatter(exp)):
        assert fig is not None
        try:
            panels = [ax for ax in fig.axes if ax.axison]
            assert panels and (fig.get_suptitle().strip() or all(ax.get_title() for ax in panels))
            assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in panels), fig
        finally:
            plt.close(fig)


_HEADER_JS = """(() => {
  const rows = [...document.querySelector('table.meta').rows].map(r => {
    const th = r.cells[0], td = r.cells[1];
    const range = document.createRange();  // the label's text: one rectangle per line it takes
    range.selectNodeContents(th);
    const lines = new Set([...range.getClientRects()].map(x => Math.round(x.top))).size;
    return {label: th.textContent, thLines: lines, tdOverflow: td.scrollWidth - td.clientWidth};
  });
  return {rows, page: document.documentElement.scrollWidth};
})()"""


@pytest.mark.ci_required
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"),
                    reason="needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)")
def test_long_searcher_keeps_the_header_readable_in_chromium(sweep_dir, tmp_path):
    """A sweep whose searcher carries a long configuration: in a 1280 px window every label of the header
    table stays on one line, no value overflows its cell, and the page does not scroll sideways."""
    copy = tmp_path / "long"
    shutil.copytree(sweep_dir, copy)
    record = json.loads((copy / "hwk4tune.json").read_text())
    record["searcher"] = LONG_SEARCHER
    (copy / "hwk4tune.json").write_text(json.dumps(record))
    seen, _ = _measure_report(copy, tmp_path, "report-long-searcher.png", _HEADER_JS)
    rows = {r["label"]: r for r in seen["rows"]}
    assert "searcher" in rows and "epochs consumed" in rows
    squashed = [r for r in seen["rows"] if r["thLines"] > 1]
    assert not squashed, f"labels broken over lines: {squashed}"
    assert all(r["tdOverflow"] <= 1 for r in seen["rows"]), seen["rows"]
    assert seen["page"] <= 1280, f"the page scrolls sideways: {seen['page']} px wide"
