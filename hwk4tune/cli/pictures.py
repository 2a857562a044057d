"""``hwk4tune filters``: the picture verb (a thin shell over :func:`hwk4tune.model.pictures.write_filters`)."""

from __future__ import annotations

import argparse


def filters_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="one or two models: a folder written by `hwk4tune train`, its model.pt, or a state-dict "
                        ".pth (e.g. ResNet18's pretrained weights); with two, the first is 'before'")
    p.add_argument("-o", "--out", required=True, metavar="PNG", help="the picture to write")
    p.add_argument("--zoom", type=int, metavar="N", help="pixels per weight (default: a cell about 48 px wide)")


def cmd_filters(args: argparse.Namespace) -> int:
    """Draw the first convolutional layer's filters as a PNG grid, one cell per filter.

RGB for a 3-channel input, grayscale for 1. Given two models (before and after fine-tuning), draws them
side by side and a third panel with each filter's change: the L2 norm of the difference, as brightness and
as a number."""
    from hwk4tune.model.pictures import write_filters

    pic = write_filters(args.models, args.out, zoom=args.zoom)
    print(f"wrote {pic.path}: {pic.filters} filters in a {pic.grid[0]}x{pic.grid[1]} grid, "
          f"{pic.panels} panel(s), {pic.size[0]}x{pic.size[1]} px")
    if pic.change is not None:
        order = sorted(range(len(pic.change)), key=lambda i: -pic.change[i])[:5]
        print("largest changes (filter: L2 of the difference): "
              + ", ".join(f"{i}: {pic.change[i]:.3g}" for i in order))
    return 0
