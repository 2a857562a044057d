"""Starting (or joining) Ray for a sweep, checking what it offers, and stopping what was started here."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from typing import Iterator

from hwk4tune.cluster.hosts import LOCAL_HOST
from hwk4tune.spec import Problem, SpecError, SweepSpec
from hwk4tune.tune.console import quiet_early_stops

# The environment Tune's loop runs with (see ``tuner.fit``): our CLIReporter table, not Tune's boxes per trial;
# forced snapshots of trials that checkpoint every short epoch are expected, not worth Tune's warning.
FIT_ENV = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}


@contextlib.contextmanager
def environ_defaults(**defaults: str) -> Iterator[None]:
    """Set these environment variables where the user has not, for the block only; what else changes in
    ``os.environ`` meanwhile (Ray's init sets PYTHONBREAKPOINT, Tune may set TUNE_RESULT_BUFFER_LENGTH) is
    undone too: a sweep run from a Python session (a notebook, the tests) leaves the environment as it was."""
    before = dict(os.environ)
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key in set(os.environ) - set(before):
            del os.environ[key]
        for key, value in before.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


@contextlib.contextmanager
def ray_session(address: str | None = None, dashboard: bool = False, dashboard_host: str = LOCAL_HOST,
                job_name: str | None = None, log_to_driver: bool = True) -> Iterator[bool]:
    """Ray for the block (:func:`ensure_ray`; yields whether it was started here), stopped at the end if it
    was. Ray's usage-stats prompt is off while it starts and runs (a Ray started here reads it at init)."""
    with environ_defaults(RAY_USAGE_STATS_ENABLED="0"):
        started = ensure_ray(address, dashboard, dashboard_host, job_name=job_name, log_to_driver=log_to_driver)
        try:
            yield started
        finally:
            shutdown(started)


def ensure_ray(address: str | None = None, dashboard: bool = False, dashboard_host: str = LOCAL_HOST,
               num_cpus: int | None = None, job_name: str | None = None, log_to_driver: bool = True) -> bool:
    """Reuse a running Ray (e.g. the tests' session-wide one), else start one: embedded and local when
    ``address`` is None, else connect (``auto``, ``ray://host:10001``). True when this call started it.
    ``log_to_driver=False`` keeps the trials' own output in Ray's log files only."""
    import ray

    from hwk4tune.cluster import announce_dashboard, job_config, warn_dashboard_host

    if ray.is_initialized():
        return False
    config = job_config(job_name)  # the dashboard's Jobs view shows its name
    if address is None:
        if dashboard:
            warn_dashboard_host(dashboard_host)  # before it binds
        # A bare ray.init() joins the cluster that /tmp/ray/ray_current_cluster names (another user's
        # `ray start`, or a dead one it then waits on): "local" always starts our own. Inside a Ray Job
        # (`hwk4tune submit`) RAY_ADDRESS names the job's cluster, and that one is used.
        local = None if os.environ.get("RAY_ADDRESS") else "local"
        ctx = ray.init(address=local, num_cpus=num_cpus, include_dashboard=dashboard,
                       dashboard_host=dashboard_host, configure_logging=False, job_config=config,
                       log_to_driver=log_to_driver)
    else:
        ctx = _connect(address, config, log_to_driver)
    if dashboard or address is not None:
        try:
            url = getattr(ctx, "dashboard_url", None) or ray.get_runtime_context().dashboard_url
        except Exception:  # noqa: BLE001 - Ray Client contexts may not know it
            url = None
        if url:
            announce_dashboard(url)
    return True


def is_ray_client(address: str | None) -> bool:
    """``ray://HOST:PORT``: Ray Client (the driver's Tune then runs on the head node, see docs/cluster.md)."""
    return address is not None and address.startswith("ray://")


def through_ray_client() -> bool:
    """This process is a Ray Client: ``Tuner.fit`` runs Tune's loop in an actor on the cluster (Ray's
    ``TunerInternal``), so Tune's own SIGINT handling and environment are the cluster's, not ours."""
    import ray.util.client

    return ray.util.client.ray.is_connected()


def _connect(address: str, config, log_to_driver: bool):
    """``ray.init`` against a running cluster; a refused or failed connection is one line (exit 2).
    Ray Client sends ``ray.init``'s arguments to its server as JSON, where a ``JobConfig`` object cannot go:
    there the driver's job keeps Ray's default name."""
    import ray

    from hwk4tune.cluster import ClusterError, connect_hint

    kwargs = {"configure_logging": False, "log_to_driver": log_to_driver}
    if is_ray_client(address):  # Tune's driver runs in an actor on the cluster: it gets fit()'s settings here
        _check_listening(address)
        kwargs["runtime_env"] = {"env_vars": {key: os.environ.get(key, value) for key, value in FIT_ENV.items()}}
    else:
        kwargs["job_config"] = config
    for attempt in (1, 2):
        try:
            with warnings.catch_warnings():  # Ray Client warns before it raises: the one line below says it all
                warnings.simplefilter("ignore", UserWarning)
                return ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError) as exc:  # Ray Client: RuntimeError on a version mismatch
            # Ray Client's proxy starts one server process per client; on a busy head that start can fail
            # once ("Initialization failure from server") and succeed a moment later
            if attempt == 1 and "Initialization failure from server" in str(exc):
                time.sleep(3)
                continue
            raise ClusterError(connect_hint(address, exc)) from None


def _check_listening(address: str) -> None:
    """Refuse at once a ``ray://`` address where nothing listens (Ray Client would retry for ~45 s first)."""
    from hwk4tune.cluster import ClusterError

    host, _, port = address[len("ray://"):].partition("/")[0].rpartition(":")
    host, port = (host, port) if host else (port, "10001")  # Ray Client's default port
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise ClusterError(f"cannot connect to Ray at {address}: nothing answers on {host}:{port} ({exc}); is the "
                           f"head started with `ray start --head --ray-client-server-port={port}`?") from None


def check_resources(spec: SweepSpec, address: str | None) -> None:
    """A trial that asks for more than the whole local machine has would wait forever: refuse it."""
    import ray

    if address is not None:  # a cluster may autoscale; Ray tells the user itself
        return
    total = ray.cluster_resources()
    res = spec.resources_per_trial
    for key, want in (("cpu", res.cpu), ("gpu", res.gpu)):
        have = total.get(key.upper(), 0)
        if want > have:
            raise SpecError([Problem(str(spec.source or "(sweep)"), None, f"resources_per_trial.{key}",
                                     f"each trial asks for {want:g} {key}, but this machine's Ray has {have:g}")])


def shutdown(started: bool) -> None:
    """Stop the Ray this sweep started; the worker log lines Ray flushes on the way out are filtered too."""
    if started:
        import ray

        with quiet_early_stops():
            ray.shutdown()
