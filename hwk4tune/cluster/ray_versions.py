"""Which Ray this is, and what hwk4tune does differently by version (docs/cluster.md has the tested table).

Read without importing Ray (``importlib.metadata``): the CLI and the dashboard checks ask before Ray starts.
The supported range is ``pyproject.toml``'s (``ray[tune,default]>=2.55,<2.61``); `make test-oldest` runs the
Ray-facing tests under the oldest, `make test` under the locked newest.
"""

from __future__ import annotations

import functools
import re

OLDEST_SUPPORTED = (2, 55)
NEWEST_SUPPORTED = (2, 60)
SUPPORTED_TEXT = "Ray 2.55 to 2.60"
# Ray 2.59 turns token authentication on by default: a local ``ray.init()`` always, ``ray start`` when a token
# exists (``~/.ray/auth_token``). Before, from 2.55 on, only with RAY_AUTH_MODE=token.
TOKEN_AUTH_BY_DEFAULT = (2, 59)


@functools.cache
def ray_version() -> tuple[int, int]:
    """(major, minor) of the installed Ray; (0, 0) when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("ray")
    except PackageNotFoundError:
        return (0, 0)
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def supported_ray(version: str) -> bool:
    """Whether Ray ``version`` ("2.58.1") is in hwk4tune's supported range."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return bool(match) and OLDEST_SUPPORTED <= (int(match.group(1)), int(match.group(2))) <= NEWEST_SUPPORTED


def ray_version_text() -> str:
    return "{}.{}".format(*ray_version())


def token_auth_by_default() -> bool:
    """Whether the installed Ray turns token authentication on when RAY_AUTH_MODE is unset."""
    return ray_version() >= TOKEN_AUTH_BY_DEFAULT


def no_default_token_auth_note() -> str:
    """The one line said where the installed Ray lacks token authentication by default."""
    return (f"Ray {ray_version_text()} starts without token authentication unless RAY_AUTH_MODE=token is set "
            "(Ray 2.59+ turns it on by default): the dashboard stays on 127.0.0.1")
