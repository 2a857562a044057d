"""Trial banks in a sweep: Tune runs N trials, one process trains them together.

With ``bank: {size: N}`` in a sweep file, each trial (of the CNN, or of a head-only ResNet:
:func:`hwk4tune.learn.bank.bankable`) is a light *member* (0.01 CPU): it validates its config, joins the *bank
server* of its structure (:func:`hwk4tune.learn.bank.bank_key`) and asks it for one epoch at a time. A bank
server is a Ray actor holding the sweep's ``resources_per_trial`` (the GPU, where there is one) and the data;
it gathers the members that asked for an epoch and trains them as one stacked model
(:class:`hwk4tune.learn.bank.Bank`). A head-only ResNet server trains its members' heads on the frozen
backbone's features, which it loads from the disk cache or computes there, on its own device, when its first
member joins (:func:`hwk4tune.learn.feature_cache.build_features`: the structure fixes the backbone). To Tune, a
member is an ordinary trial: it reports its own metrics every epoch, keeps its own checkpoints (the same file an
unbanked trial writes), and ASHA, HyperBand, median stopping and PBT stop, pause and clone it as any other. A
trial joins at its first epoch or when it is restarted from a checkpoint (resume, PBT exploit: it brings the
checkpoint), and leaves by not asking again: a round waits up to ``GATHER_S`` for the members of the last round,
then trains those that asked. A server holds at most ``size`` members; the next trial of that structure opens
another server.

A registry actor (``hwk4tune-bank:<sweep>``, 0 CPU) opens the servers
(``hwk4tune-bank:<sweep>:<structure>:<k>``, so the dashboard shows them) and owns them: killing it when the fit
returns (:func:`close_banks`) ends them all, and so does the driver's death.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MEMBER_CPU = 0.01  # what a member trial holds: it only waits for its server
GATHER_S = 1.0  # how long a round waits for last round's members to ask again
JOIN_WAIT_S = 60.0  # how long a trial waits for room in a full bank before it opens another
EVICT_AFTER_S = 120.0  # a member that has not asked for this long left (stopped, paused): its state is dropped
PREFIX = "hwk4tune-bank:"


def server_name(sweep: str, key: tuple, index: int) -> str:
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:10]
    return f"{PREFIX}{sweep}:{digest}:{index}"


class BankServer:
    """The actor that trains one bank (see the module's docstring). Its methods run on several threads: one
    per waiting member, and the round thread."""

    def __init__(self, data_box: list, trainable: str, max_epochs: int, size: int):
        import ray
        import torch

        self.data = ray.get(data_box[0])  # the ObjectRef arrives in a list so Ray hands it over unresolved
        self.trainable, self.max_epochs, self.size = trainable, max_epochs, size
        assigned = ray.get_runtime_context().get_assigned_resources()
        self.threads = max(1, int(assigned.get("CPU", 1) + 1e-9))
        torch.set_num_threads(self.threads)
        self.device = torch.device("cuda" if assigned.get("GPU", 0) > 0 and torch.cuda.is_available() else "cpu")
        self.splits: tuple | None = None  # (train_x, train_y, val_x, val_y) on the device, at the first join
        self.features_key = ""  # the feature set a head-only ResNet bank trains on
        self.members: dict[str, Any] = {}  # trial id -> Learner: the trials this bank trains (at most size)
        self.parked: dict[str, Any] = {}  # members that missed a round (stopped, paused, slow): not counted
        self.last_seen: dict[str, float] = {}
        self.pending: dict[str, tuple[int, bool]] = {}  # trial id -> (epoch, wants a checkpoint)
        self.results: dict[str, dict] = {}
        self.last_round: set[str] = set()
        self.rounds = 0  # rounds trained so far
        self.costs: dict[str, Any] | None = None
        self.lock = threading.Condition()
        threading.Thread(target=self._rounds, daemon=True, name="bank-rounds").start()

    # ------------------------------------------------------------------------------ members' calls

    def join(self, trial_id: str, config: dict, seed: int, checkpoint: bytes | None) -> int | None:
        """Take ``trial_id`` in (again), from its checkpoint if it brings one; the epoch it resumes after,
        or None when this bank is full."""
        from hwk4tune.registry import TRAINABLES
        from hwk4tune.tune.trainables import make_learner

        with self.lock:
            self._evict()
            self.parked.pop(trial_id, None)
            # full: a trial Tune just stopped still counts until the round it misses; wait for that round
            rounds, deadline = self.rounds, time.monotonic() + JOIN_WAIT_S
            while (trial_id not in self.members and len(self.members) >= self.size and self.rounds == rounds
                   and time.monotonic() < deadline):
                self.lock.wait(timeout=max(0.0, deadline - time.monotonic()))
            if trial_id not in self.members and len(self.members) >= self.size:
                return None
            cfg = TRAINABLES[self.trainable].hyperparameters.from_config(config)
            if self.splits is None:
                self._load_splits(cfg)
            learner = make_learner(self.trainable, cfg, self.data, seed, self.device, self.max_epochs,
                               use_features=bool(self.features_key))
            start = 0
            if checkpoint is not None:
                with tempfile.TemporaryDirectory(prefix="hwk4tune-bank-") as d:
                    path = Path(d) / "checkpoint.pt"
                    path.write_bytes(checkpoint)
                    start = learner.load(path)
            if self.costs is None:
                self.costs = _costs(learner, self.data, self.device)
            self.members[trial_id] = learner
            self.last_seen[trial_id] = time.monotonic()
            return start

    def step(self, trial_id: str, epoch: int, checkpoint: bool) -> dict:
        """Train ``trial_id``'s ``epoch`` in the next round; its metrics (and checkpoint bytes when asked)."""
        with self.lock:
            if trial_id in self.parked:  # it missed a round (Tune was slow to let it go on): it is back
                self.members[trial_id] = self.parked.pop(trial_id)
            if trial_id not in self.members:
                raise RuntimeError(f"trial {trial_id} is not a member of this bank (it was idle over "
                                   f"{EVICT_AFTER_S:g} s)")
            self.pending[trial_id] = (epoch, checkpoint)
            self.lock.notify_all()
            while trial_id not in self.results:
                self.lock.wait()
            return self.results.pop(trial_id)

    def _load_splits(self, cfg) -> None:
        """The data on the device once, for every member: the images, or for a head-only ResNet the frozen
        backbone's features (every member of this bank has the same backbone: it is in the bank's key)."""
        source = self.data
        if self.trainable == "resnet":
            from hwk4tune.learn.feature_cache import build_features

            source = build_features(self.data, {"weights_path": cfg.weights_path, "pretrained": cfg.pretrained},
                                    device=self.device, say=lambda text: print(text, flush=True))
            self.features_key = source.key
        self.splits = tuple(t.to(self.device) for t in (source.train_x, source.train_y, source.val_x, source.val_y))

    # ------------------------------------------------------------------------------ rounds

    def _rounds(self) -> None:
        while True:
            with self.lock:
                while not self.pending:
                    self.lock.wait(timeout=10)
                    self._evict()
                deadline = time.monotonic() + GATHER_S
                waiting_for = (self.last_round & set(self.members)) - set(self.pending)
                while waiting_for and time.monotonic() < deadline:
                    self.lock.wait(timeout=max(0.0, deadline - time.monotonic()))
                    waiting_for = (self.last_round & set(self.members)) - set(self.pending)
                batch, self.pending = dict(self.pending), {}
                learners = {t: self.members[t] for t in batch}
            try:
                results = self._train(learners, batch)
            except Exception as exc:  # noqa: BLE001 - every member of the round gets the error, the server lives
                results = {t: {"error": f"{type(exc).__name__}: {exc}"} for t in batch}
            with self.lock:
                now = time.monotonic()
                for t in batch:
                    self.last_seen[t] = now
                    if results[t].get("train_status") == "diverged" or batch[t][0] >= self.max_epochs:
                        self.members.pop(t, None)  # it ends here: its place is free at once
                for t in self.last_round - set(batch) - set(self.pending):  # left: its place is free
                    if t in self.members:
                        self.parked[t] = self.members.pop(t)
                self.results.update(results)
                self.last_round = set(batch)
                self.rounds += 1
                self.lock.notify_all()

    def _evict(self) -> None:
        now = time.monotonic()
        for t in [t for t, seen in self.last_seen.items() if now - seen > EVICT_AFTER_S and t not in self.pending]:
            self.members.pop(t, None)
            self.parked.pop(t, None)
            self.last_seen.pop(t, None)

    def _train(self, learners: dict[str, Any], batch: dict[str, tuple[int, bool]]) -> dict[str, dict]:
        from hwk4tune.learn.bank import Bank

        ids = list(learners)
        bank = Bank([learners[t] for t in ids])
        train_x, train_y, val_x, val_y = self.splits
        t0 = time.perf_counter()
        stats = bank.train_epoch(train_x, train_y, [batch[t][0] for t in ids])
        scores = bank.evaluate(val_x, val_y)
        seconds = time.perf_counter() - t0
        out = {}
        for t, s, (val_loss, val_accuracy) in zip(ids, stats, scores):
            epoch, want_checkpoint = batch[t]
            metrics = {"train_loss": s.train_loss, "epoch": epoch, "images_per_second": s.images_per_second,
                       "epoch_seconds": seconds, "bank_size": len(ids), "threads": self.threads,
                       "device": self.device.type, "precision": learners[t].precision,
                       "weights": learners[t].weights, "backbone_features": self.features_key,
                       **(self.costs or {})}
            if s.diverged:
                metrics.update(val_loss=float("inf"), val_accuracy=0.0, train_status="diverged")
            else:
                metrics.update(val_loss=val_loss, val_accuracy=val_accuracy, train_status="ok")
                if want_checkpoint:
                    metrics["checkpoint_bytes"] = _checkpoint_bytes(learners[t], epoch)
            out[t] = metrics
        return out


def _checkpoint_bytes(learner, epoch: int) -> bytes:
    with tempfile.TemporaryDirectory(prefix="hwk4tune-bank-") as d:
        path = Path(d) / "checkpoint.pt"
        learner.save(path, epoch)
        return path.read_bytes()


def _costs(learner, data, device) -> dict[str, Any]:
    from hwk4tune.learn.costs import latency_ms, num_params

    return {"num_params": num_params(learner.model),
            "latency_ms": latency_ms(learner.model, tuple(data.input_shape), device)}


# ------------------------------------------------------------------------------------------ registry

class BankRegistry:
    """The sweep's bank servers, one actor the driver owns (0 CPU): it opens each server, so the servers are
    its own and Ray ends them with it. Killing the registry when the fit returns (:func:`close_banks`), or the
    driver's death, ends every bank; a trial Tune is still stopping cannot open a new one afterwards."""

    def __init__(self, sweep: str, data_box: list, trainable: str, max_epochs: int, size: int,
                 resources: dict[str, float], cache: str | None = None):
        self.args = (data_box, trainable, max_epochs, size)
        self.sweep, self.size, self.resources = sweep, size, resources
        # the driver's HWK4TUNE_CACHE: where a head-only ResNet bank finds or saves its backbone's features
        self.runtime_env = {"env_vars": {"HWK4TUNE_CACHE": cache}} if cache else None
        self.servers: dict[tuple, list] = {}
        self.lock = threading.Lock()

    def server(self, key: tuple, index: int):
        """The ``index``-th server of structure ``key``, opened on first use."""
        import ray

        with self.lock:
            servers = self.servers.setdefault(key, [])
            while len(servers) <= index:
                # "DEFAULT": not in the placement group of the trial that asked (0.01 CPU)
                servers.append(ray.remote(BankServer).options(
                    name=server_name(self.sweep, key, len(servers)), scheduling_strategy="DEFAULT",
                    num_cpus=self.resources.get("cpu", 1), num_gpus=self.resources.get("gpu", 0),
                    max_concurrency=self.size + 8, runtime_env=self.runtime_env).remote(*self.args))
            return servers[index]


_OPEN: dict[str, Any] = {}  # sweep name -> its registry's handle, held until close_banks


def open_registry(sweep: str, data, trainable: str, max_epochs: int, size: int, resources: dict[str, float]):
    """The registry of ``sweep``'s banks; this process holds its handle until :func:`close_banks`."""
    import ray

    close_banks(sweep)  # a resumed sweep in the same process starts with fresh banks
    _OPEN[sweep] = ray.remote(BankRegistry).options(name=f"{PREFIX}{sweep}", num_cpus=0,
                                                    max_concurrency=1000).remote(
        sweep, [ray.put(data)], trainable, max_epochs, size, resources, os.environ.get("HWK4TUNE_CACHE"))
    return _OPEN[sweep]


# ------------------------------------------------------------------------------------------ members

def bank_member(config: dict[str, Any], *, registry, model: str, max_epochs: int) -> None:
    """The function trainable of a banked sweep: one trial, trained by its bank's server. ``model``: the
    built-in trainable whose model the bank trains (``tune.with_parameters`` takes ``trainable`` itself)."""
    import ray
    from ray import tune

    from hwk4tune.learn.bank import bank_key
    from hwk4tune.learn.training import CHECKPOINT_FILE, derive_seed
    from hwk4tune.registry import TRAINABLES
    from hwk4tune.registry.hyperparams import ConfigError

    cfg = TRAINABLES[model].hyperparameters.from_config(config)  # a bad config fails this trial only
    trial_id = tune.get_context().get_trial_id() or "no-trial"
    seed = cfg.seed if cfg.seed is not None else derive_seed(trial_id)
    checkpoint = tune.get_checkpoint()
    state = None
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            state = (Path(d) / CHECKPOINT_FILE).read_bytes()
    key = bank_key(model, cfg)
    if key is None:  # validation refuses such a space (spec.models); a config from elsewhere fails here
        raise ConfigError(f"trial {trial_id}: this {model} config trains in no bank (banks train the cnn, and the "
                          "resnet with finetune: head and augment: false)")
    for index in range(10_000):  # the first server of this structure with room
        server = ray.get(registry.server.remote(key, index))
        start = ray.get(server.join.remote(trial_id, dict(config), seed, state))
        if start is not None:
            break
    for epoch in range(start + 1, max_epochs + 1):
        due = epoch % cfg.checkpoint_interval == 0 or epoch == max_epochs
        metrics = ray.get(server.step.remote(trial_id, epoch, due))
        if "error" in metrics:
            raise RuntimeError(f"the bank's round failed: {metrics['error']}")
        blob = metrics.pop("checkpoint_bytes", None)
        if blob is None:
            tune.report(metrics)
        else:
            with tempfile.TemporaryDirectory(prefix="hwk4tune-ckpt-") as d:
                (Path(d) / CHECKPOINT_FILE).write_bytes(blob)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
        if metrics["train_status"] == "diverged":
            return


def close_banks(sweep: str) -> None:
    """End ``sweep``'s banks: its registry and, with it, the servers it opened (they hold CPUs and the GPU)."""
    import ray

    registry = _OPEN.pop(sweep, None)
    if registry is not None:
        ray.kill(registry)
