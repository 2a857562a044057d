"""A real multi-node Ray cluster on loopback for the cluster and dashboard tests.

Each node is a ``ray start --block`` process in its own session, so a test can stop one node (SIGKILL of
its whole process tree, as when a machine dies) and always cleans up only what it started: never
``ray stop``, which would also end the session-wide ``ray_local`` Ray and other users' clusters.
Every port is chosen free and the nodes use a temp dir of their own (``--temp-dir``), so these clusters
never collide with each other or with a default Ray: above all, ``ray start`` records its cluster in the
temp dir's ``ray_current_cluster``, and a plain ``ray.init()`` anywhere on the machine connects to the
cluster named there — in /tmp/ray that would capture every other Ray user of the machine.
Token authentication is on, with a token file of the test's own (``RAY_AUTH_TOKEN_PATH``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
RAY = str(VENV_BIN / "ray")


_TAKEN: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before in this process: the kernel can give the same ephemeral port
    to two binds in a row once the first socket is closed, and `ray start` refuses two components on one port."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _TAKEN:
            _TAKEN.add(port)
            return port


class LocalCluster:
    """Head + worker nodes on 127.0.0.1, each with its own ports; use as a context manager."""

    def __init__(self, tmp: Path, *, auth: bool = True, env: dict | None = None, ray: str = RAY):
        self.ray = ray  # the `ray` command the nodes start with: another venv's runs another Ray version
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.nodes: list[subprocess.Popen] = []
        self.token = secrets.token_hex(32)
        token_file = self.tmp / "auth_token"
        token_file.write_text(self.token)
        self.env = {
            **os.environ,
            "PATH": f"{Path(ray).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_DEDUP_LOGS": "0",
            # a lost node is noticed within ~2 s instead of ~30 s
            "RAY_health_check_period_ms": "500",
            "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "3",
            **(env or {}),
        }
        if auth:
            self.env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_file))
        else:
            self.env["RAY_AUTH_MODE"] = "disabled"
        self.env.pop("RAY_ADDRESS", None)
        self.gcs_port = free_port()
        self.dashboard_port = free_port()
        self.client_port = free_port()
        self.address = f"127.0.0.1:{self.gcs_port}"
        self.client_address = f"ray://127.0.0.1:{self.client_port}"  # Ray Client's server on the head
        self.dashboard_url = f"http://127.0.0.1:{self.dashboard_port}"
        # short: Ray's socket paths live below it and Unix sockets allow ~107 characters
        self.temp_dir = tempfile.mkdtemp(prefix="h4t-", dir="/tmp")

    # ------------------------------------------------------------------------------------ nodes

    def _start(self, args: list[str], log_name: str) -> subprocess.Popen:
        ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
                 "--dashboard-agent-grpc-port", "--metrics-export-port", "--runtime-env-agent-port"]
        cmd = [self.ray, "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
               f"--temp-dir={self.temp_dir}", *args]
        for flag in ports:
            cmd.append(f"{flag}={free_port()}")
        log = open(self.tmp / log_name, "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log_path = self.tmp / log_name  # type: ignore[attr-defined]
        self.nodes.append(proc)
        return proc

    def start_head(self, num_cpus: int = 1, dashboard: bool = True, dashboard_host: str = "127.0.0.1"):
        args = ["--head", f"--port={self.gcs_port}", f"--num-cpus={num_cpus}",
                f"--ray-client-server-port={self.client_port}"]
        if dashboard:
            args += ["--include-dashboard=true", f"--dashboard-host={dashboard_host}",
                     f"--dashboard-port={self.dashboard_port}"]
        else:
            args += ["--include-dashboard=false"]
        proc = self._start(args, "head.log")
        self.wait_nodes(1, what="head")
        return proc

    def add_node(self, num_cpus: int = 1, resources: dict | None = None) -> subprocess.Popen:
        args = [f"--address={self.address}", f"--num-cpus={num_cpus}"]
        if resources:
            args.append(f"--resources={json.dumps(resources)}")
        proc = self._start(args, f"node{len(self.nodes)}.log")
        self.wait_nodes(len(self.nodes), what="worker node")
        return proc

    def kill_node(self, proc: subprocess.Popen) -> None:
        """The node dies at once with all its processes (raylet, workers, agents): a lost machine."""
        _kill_tree(proc.pid)
        proc.wait(timeout=30)

    # ------------------------------------------------------------------------------------ state

    def client_server_logs(self, tail: int = 2000) -> str:
        """The end of each Ray Client server log on the head: why a ``ray://`` connection failed."""
        logs = sorted(Path(self.temp_dir).glob("session_*/logs/ray_client_server*"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in logs if p.is_file())

    def api(self, path: str, token: str | None = "default", timeout: float = 10) -> tuple[int, object]:
        """GET the dashboard's ``path``: (status, parsed JSON or text)."""
        req = urllib.request.Request(self.dashboard_url + path)
        token = self.token if token == "default" else token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def alive_nodes(self) -> list[dict]:
        status, body = self.api("/api/v0/nodes?limit=100")
        if status != 200 or not isinstance(body, dict):
            return []
        return [n for n in body["data"]["result"]["result"] if n["state"] == "ALIVE"]

    def actors(self) -> list[dict]:
        """Every actor the cluster knows, dead ones included (node_id, pid, class_name, state…)."""
        status, body = self.api("/api/v0/actors?limit=10000&detail=1", timeout=30)
        assert status == 200, body
        return body["data"]["result"]["result"]

    def wait_nodes(self, count: int, what: str = "node", timeout: float = 120) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.nodes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{what}: `ray start` exited {proc.returncode}:\n"
                                       + proc.log_path.read_text()[-3000:])  # type: ignore[attr-defined]
            try:
                nodes = self.alive_nodes()
            except (OSError, urllib.error.URLError):
                nodes = []
            if len(nodes) == count:
                return nodes
            time.sleep(0.5)
        raise TimeoutError(f"{what}: the cluster did not reach {count} alive nodes in {timeout:.0f} s")

    # ------------------------------------------------------------------------------------ cleanup

    def shutdown(self) -> None:
        tree = {proc.pid: _descendants(proc.pid) for proc in self.nodes}  # before parents exit
        for proc in reversed(self.nodes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
        deadline = time.monotonic() + 20
        for proc in reversed(self.nodes):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.nodes:
            _kill_tree(proc.pid, tree[proc.pid])
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        default = Path("/tmp/ray/ray_current_cluster")  # never ours with --temp-dir, but be sure
        try:
            if default.read_text().strip().endswith(f":{self.gcs_port}"):
                default.unlink()
        except OSError:
            pass

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc (Linux)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(pid: int, known: list[int] | None = None) -> None:
    """SIGKILL a process, its process group and every descendant (Ray's workers are its raylet's children)."""
    for p in [pid, *_descendants(pid), *(known or [])]:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(pid, signal.SIGKILL)  # start_new_session=True made the node its own group
    except (ProcessLookupError, PermissionError):
        pass


def write_sweep(folder: Path, *, max_epochs: int = 2, subset: int | None = 300, trials: int = 4,
                max_failures: int = 1) -> Path:
    """A grid sweep of ``trials`` CNN trials on digits (hidden 32), in a sweep file and a space file of its
    own (``sweeps/tiny.yaml`` -> ``../spaces/tiny.yaml``), as `submit` sends them. Returns the sweep file."""
    lrs = ", ".join(str(0.001 * (i + 1)) for i in range(trials))
    (folder / "spaces").mkdir(parents=True, exist_ok=True)
    (folder / "sweeps").mkdir(parents=True, exist_ok=True)
    subset_text = f", subset: {subset}" if subset else ""
    (folder / "spaces" / "tiny.yaml").write_text(
        f"trainable: cnn\ndataset: {{name: digits{subset_text}}}\nmax_epochs: {max_epochs}\n"
        f"space:\n  lr: {{grid: [{lrs}]}}\n  hidden: 32\n  batch_size: 64\n")
    sweep = folder / "sweeps" / "tiny.yaml"
    sweep.write_text("space: ../spaces/tiny.yaml\nsearcher: grid\nscheduler: fifo\nnum_samples: 1\n"
                     f"max_concurrent_trials: 2\nresources_per_trial: {{cpu: 1}}\nmax_failures: {max_failures}\n")
    return sweep


def results(experiment_dir: Path) -> dict[str, list[dict]]:
    """trial folder name -> its result.json rows (Ray records pid, hostname, node_ip in each)."""
    out = {}
    for trial in sorted(Path(experiment_dir).glob("trial_*")):
        rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines() if line.strip()] \
            if (trial / "result.json").exists() else []
        out[trial.name] = rows
    return out


def read_until(proc, log, pattern: str, timeout: float):
    """The first match of ``pattern`` in the log file of a running ``proc``; fails at once if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text() if log.exists() else "")
        if match:
            return match
        if proc.poll() is not None:
            raise RuntimeError(f"hwk4tune exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    raise TimeoutError(f"no {pattern!r} in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def venv_without_hwk4tune(folder: Path) -> Path:
    """A venv whose Python has every package of this one but hwk4tune; returns its ``ray`` command (for
    ``LocalCluster(ray=…)``: the nodes, their workers and a job's ``python`` are then that venv's).

    Its one ``.pth`` file lists this interpreter's site-packages folders as plain paths: Python does not read
    the ``.pth`` files inside them, so hwk4tune's editable install (a ``.pth`` and its import finder) is not
    there, while Ray, torch… are."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    ours = [p for p in sys.path if Path(p).name == "site-packages" and Path(p).is_dir()]
    (Path(purelib) / "zz_packages_but_hwk4tune.pth").write_text("\n".join(ours) + "\n")
    ray = folder / "bin" / "ray"
    ray.write_text(f"#!{python}\nimport sys\n\nfrom ray.scripts.scripts import main\n\nsys.exit(main())\n")
    ray.chmod(0o755)
    return ray
