"""GPU trials: four ResNet trials share one GPU (gpu: 0.25 each) and every one trains on CUDA.

Skipped only where CUDA is absent (this project's 2-core build machines): the one skip of the suite, and
only for that reason. On a GPU machine it runs as part of `make test`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: no CUDA device on this machine")
def test_four_trials_share_one_gpu_and_report_cuda(tmp_path, ray_local):
    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    spec = load_sweep(ROOT / "launch" / "gpu_resnet_fake.yaml", {
        "num_samples": 4, "max_concurrent_trials": 4, "max_epochs": 1,
        "resources_per_trial.cpu": 0.5, "resources_per_trial.gpu": 0.25, "scheduler": "fifo"})
    exp = run_sweep(spec, storage=str(tmp_path / "runs"), name="gpu", verbose=False)
    devices = {}
    for d in sorted(Path(exp).glob("trial_*")):
        rows = [json.loads(line) for line in (d / "result.json").read_text().splitlines() if line.strip()]
        devices[d.name] = {r["device"] for r in rows}
    assert len(devices) == 4, devices
    assert all(found == {"cuda"} for found in devices.values()), devices
