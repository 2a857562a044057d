"""optuna-dashboard over the Optuna journal of an experiment or a comparison.

``hwk4tune dashboard DIR`` (:func:`serve`) blocks; ``hwk4tune run --dashboard`` starts it in a thread of
the driver (:func:`start_in_background`), which ends with the driver: when the sweep ends,
:class:`hwk4tune.live.reopen.ReopenHint` prints how to serve the finished experiment again (:func:`reopen_line`). Both bind 127.0.0.1 by default. optuna-dashboard has no
authentication at all: on any other address, anyone who reaches the port reads every trial and can write
notes into the studies, so a loud warning is printed before it binds.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from hwk4tune.cluster.hosts import LOCAL_HOST
from hwk4tune.errors import InputError
from hwk4tune.store.records import JOURNAL_FILE

__all__ = ["find_journal", "serve", "start_in_background", "warning_for", "reopen_line", "DEFAULT_PORT", "DashboardError"]

DEFAULT_PORT = 8080


class DashboardError(InputError):
    """No journal to serve, or the port is taken."""


def find_journal(folder: str | Path) -> Path:
    """The journal of an experiment folder (``DIR/optuna.journal``), of a comparison folder (the same name,
    one study per run), or of a comparison's run (``COMPARISON/optuna.journal``, two levels up)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DashboardError(f"{folder}: no such folder")
    for candidate in (folder / JOURNAL_FILE, folder.parent.parent / JOURNAL_FILE):
        if candidate.is_file():
            return candidate.resolve()
    raise DashboardError(f"{folder}: no {JOURNAL_FILE} here: not an experiment or comparison folder, or its "
                         "sweep ran on remote storage or before hwk4tune wrote journals")


def _is_loopback(host: str) -> bool:
    from hwk4tune.cluster import is_loopback

    return is_loopback(host)


def warning_for(host: str) -> str | None:
    """The warning to print before optuna-dashboard binds ``host``; None for a loopback address."""
    if _is_loopback(host):
        return None
    bar = "!" * 100
    return "\n".join([
        bar,
        f"WARNING: optuna-dashboard will listen on {host}, reachable from the network, and it has NO",
        "authentication: anyone who reaches the port sees every trial and can change the studies' notes.",
        "Keep the default --host 127.0.0.1 and use an SSH tunnel (`ssh -L 8080:127.0.0.1:8080 HOST`).",
        bar,
    ])


class _Quiet:
    """wsgiref's request handler without one log line per request."""

    @staticmethod
    def handler():
        from wsgiref.simple_server import WSGIRequestHandler

        class Handler(WSGIRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                pass

        return Handler


def _server(journal: Path, host: str, port: int):
    from wsgiref.simple_server import WSGIServer, make_server

    import optuna_dashboard

    from hwk4tune.live.mirror import open_storage

    class ThreadedServer(WSGIServer):
        daemon_threads = True

    app = optuna_dashboard.wsgi(open_storage(journal))
    try:
        return make_server(host, port, app, server_class=ThreadedServer, handler_class=_Quiet.handler())
    except OSError as exc:
        raise DashboardError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                             "give another --port (0 picks a free one)") from None


def _url(server, host: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{server.server_port}/"


def _announce(url: str, journal: Path, file=None) -> None:
    print(f"hwk4tune: Optuna dashboard: {url}  (trials live from {journal})", file=file or sys.stderr, flush=True)


def serve(folder: str | Path, host: str = LOCAL_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve optuna-dashboard over the journal of ``folder`` until Ctrl-C."""
    journal = find_journal(folder)
    text = warning_for(host)
    if text:
        print(text, file=sys.stderr, flush=True)
    server = _server(journal, host, port)
    _announce(_url(server, host), journal)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def start_in_background(journal: Path, host: str = LOCAL_HOST, port: int = DEFAULT_PORT) -> str:
    """Serve ``journal`` from a daemon thread of this process (it ends with the process); return the URL.
    A taken ``port`` falls back to a free one."""
    text = warning_for(host)
    if text:
        print(text, file=sys.stderr, flush=True)
    Path(journal).parent.mkdir(parents=True, exist_ok=True)
    try:
        server = _server(journal, host, port)
    except DashboardError:
        server = _server(journal, host, 0)
    url = _url(server, host)
    threading.Thread(target=server.serve_forever, name="optuna-dashboard", daemon=True).start()
    _announce(url, journal)
    return url


def reopen_line(journal: str | Path) -> str:
    """What ``run --dashboard`` prints when its sweep ends: the dashboards close with the process (Ray's with
    its Ray); ``hwk4tune dashboard DIR`` serves the finished experiment's (or comparison's) trials again."""
    folder = Path(journal).parent
    return (f"hwk4tune: the sweep is over: both dashboards close as hwk4tune exits (Ray's goes with its Ray); "
            f"see the trials again with:  hwk4tune dashboard {_shell_word(str(folder))}")


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)

