"""``hwk4tune filters``: one cell per filter of the first convolutional layer, one or two models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hwk4tune.cli import main
from hwk4tune.model.pictures import (
    GAP,
    PAD,
    PictureError,
    filters_figure,
    first_conv_weight,
    grid_layout,
    write_filters,
)


def _panel_size(rows: int, cols: int, cell: int) -> tuple[int, int]:
    return cols * (cell + PAD) + PAD, rows * (cell + PAD) + PAD


def test_grid_layout():
    assert [grid_layout(n) for n in (1, 6, 16, 32, 64)] == [(1, 1), (2, 3), (4, 4), (6, 6), (8, 8)]


def test_resnet18_state_dicts_side_by_side(tmp_path):
    from torchvision.models import resnet18

    before = resnet18(weights=None).state_dict()
    after = {k: v.clone() for k, v in before.items()}
    after["conv1.weight"][3] += 0.5  # only filter 3 changes
    torch.save(before, tmp_path / "before.pth")
    torch.save(after, tmp_path / "after.pth")
    pic = write_filters([tmp_path / "before.pth", tmp_path / "after.pth"], tmp_path / "f.png", zoom=4)
    assert (pic.filters, pic.grid, pic.panels) == (64, (8, 8), 3)  # conv1: 64 filters of 3x7x7
    w, h = _panel_size(8, 8, 7 * 4)
    assert pic.size[0] > 3 * w + 2 * GAP and pic.size[1] > h  # the panels, one weight 4 px, and their labels
    with Image.open(tmp_path / "f.png") as img:
        assert img.size == pic.size and img.mode in ("RGB", "RGBA")
        assert img.text["Title"].startswith("first convolutional layer: 64 filters of 3×7×7 (RGB)")
    assert max(range(64), key=lambda i: pic.change[i]) == 3
    assert pic.change[3] == pytest.approx(0.5 * (3 * 7 * 7) ** 0.5, rel=1e-4)
    assert sum(pic.change) == pytest.approx(pic.change[3])


def test_one_trained_model_through_the_command(tmp_path, capsys):
    from hwk4tune.model.train import train_config
    from hwk4tune.model.trained import load_model

    space = {"trainable": "cnn", "dataset": {"name": "digits", "subset": 200}, "max_epochs": 1,
             "space": {"optimizer": "adam", "lr": 1e-3, "seed": 0}}
    train_config(space, 1, tmp_path / "m", progress=False)
    conv = next(m for m in load_model(tmp_path / "m" / "model.pt").model.modules() if isinstance(m, torch.nn.Conv2d))
    assert main(["filters", str(tmp_path / "m"), "-o", str(tmp_path / "cnn.png"), "--zoom", "5"]) == 0
    rows, cols = grid_layout(conv.out_channels)
    panel = _panel_size(rows, cols, conv.kernel_size[0] * 5)
    with Image.open(tmp_path / "cnn.png") as img:
        assert img.size[0] > panel[0] and img.size[1] > panel[1]
        size = img.size
    assert f"{conv.out_channels} filters in a {rows}x{cols} grid, 1 panel(s), {size[0]}x{size[1]} px" \
        in capsys.readouterr().out
    assert first_conv_weight(tmp_path / "m").shape == tuple(conv.weight.shape)


def test_not_a_model_is_one_line(tmp_path, capsys):
    (tmp_path / "x.pth").write_text("not torch")
    with pytest.raises(PictureError):
        first_conv_weight(tmp_path / "missing")
    assert main(["filters", str(tmp_path / "x.pth"), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a torch file" in err[0]


def assert_titled(fig) -> None:
    """A picture a reader can read alone: a title, and on every panel a title, an x label and a y label."""
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert axes and fig.get_suptitle().strip()
    for ax in axes:
        assert ax.get_title().strip() and ax.get_xlabel().strip() and ax.get_ylabel().strip(), ax


@pytest.mark.parametrize("channels, kind", [(1, "grayscale"), (3, "RGB"), (4, "mean of 4 channels")])
def test_filters_picture_has_a_title_and_labels(channels, kind):
    """Issue 31: the filters picture had no title or labels. The figure names the layer, each panel its model
    (before / after) or the change, and its axes the grid: the row's first filter, the column."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    before = rng.normal(size=(6, channels, 3, 3)).astype(np.float32)
    after = before.copy()
    after[4] += 1.0
    fig, change = filters_figure([before, after], ["init.pth", "ft"], zoom=8)
    try:
        assert_titled(fig)
        assert fig.get_suptitle().startswith(f"first convolutional layer: 6 filters of {channels}×3×3 ({kind})")
        assert [ax.get_title() for ax in fig.axes] == ["before: init.pth", "after: ft",
                                                         "change: L2 norm of the difference"]
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "3"]  # 2 rows of 3: their first filters
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
        assert ax.get_ylabel() == "row's first filter" and ax.get_xlabel().startswith("column")
        numbers = [t.get_text() for t in fig.axes[2].texts]
        assert numbers == [f"{v:.2g}" for v in change] and max(range(6), key=change.__getitem__) == 4
    finally:
        plt.close(fig)
    fig, change = filters_figure([before], ["model.pt"], zoom=8)
    try:
        assert_titled(fig)
        assert change is None and [ax.get_title() for ax in fig.axes] == ["model.pt"]
    finally:
        plt.close(fig)

