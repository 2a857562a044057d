"""What a model costs to deploy, as the built-in trainables report it: ``num_params`` (trainable parameters)
and ``latency_ms`` (mean wall time of one forward pass over a batch of 256 on the trial's device, in eval
mode without gradients, after warm-up passes; on a GPU each pass is synchronized).

Measured once per trial run (before its first epoch) and reported with every epoch: the architecture does
not change while a trial trains, so neither does its cost. On a CPU shared with other trials the latency is
noisy; compare latencies measured on the same kind of machine.
"""

from __future__ import annotations

import time

LATENCY_BATCH = 256
WARMUP = 2
REPEATS = 5
MAX_SECONDS = 2.0  # stop repeating once this much time went into timed passes (a big model on a CPU)


def num_params(model) -> int:
    """Parameters that the optimizer trains (a frozen ResNet backbone does not count)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def latency_ms(model, input_shape: tuple[int, ...], device, *, batch: int = LATENCY_BATCH, warmup: int = WARMUP,
               repeats: int = REPEATS) -> float:
    """Mean milliseconds of one forward pass over ``batch`` random inputs of ``input_shape`` (C, H, W)."""
    import torch

    x = torch.randn(batch, *input_shape, device=device)
    sync = torch.cuda.synchronize if getattr(device, "type", str(device)) == "cuda" else (lambda: None)
    was_training = model.training
    model.eval()
    times: list[float] = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            sync()
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x)
                sync()
                times.append(time.perf_counter() - t0)
                if sum(times) > MAX_SECONDS:
                    break
    finally:
        model.train(was_training)
    return 1000.0 * sum(times) / len(times)
