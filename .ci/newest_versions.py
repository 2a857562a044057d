"""Helpers of `make test-latest`: a venv of the newest allowed versions that reuses the locked venv's torch.

    python .ci/newest_versions.py link BASE_VENV   # run with the new venv's python: BASE_VENV's packages go last
    python .ci/newest_versions.py diff LOCK        # which installed versions differ from LOCK (one line each)
    python .ci/newest_versions.py oldest ray       # pyproject.toml's requirement of ray at its lower bound's minor
                                                   # release (its newest patch): ray[tune,default]==2.55.*
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path


def link(base_venv: str) -> None:
    """A .pth file that appends BASE_VENV's site-packages to this interpreter's path, after its own, so that pip
    installs here only what is newer, and torch (5 GB, pinned) is not installed twice."""
    base = subprocess.run([str(Path(base_venv) / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    pth = Path(sysconfig.get_paths()["purelib"]) / "zz_hwk4tune_locked.pth"
    pth.write_text(f"import site; site.addsitedir({base!r})\n")
    print(f"{pth}: falls back to {base}")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def diff(lock: str) -> None:
    """Print the packages whose importable version differs from the lock: what this run tests beyond it."""
    locked = {}
    for line in Path(lock).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            locked.setdefault(_norm(m.group(1)), m.group(2))
    newer = []
    for name, version in sorted(locked.items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # another platform's or Python's line of the lock
        if have != version:
            newer.append(f"{name} {have} (lock {version})")
    print("newest allowed versions beyond the lock: " + (", ".join(newer) if newer else "none, the lock is current"))


def oldest(package: str) -> None:
    """Print ``package``'s requirement in pyproject.toml pinned to the minor release of its lower bound (newest
    patch): the oldest version `make test-oldest` installs. Exits 1 when it has no ``>=`` bound."""
    import tomllib

    deps = tomllib.loads(Path("pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        m = re.match(rf"^({re.escape(package)}(\[[^\]]*\])?)\s*>=\s*(\d+)\.(\d+)", dep)
        if m:
            print(f"{m.group(1)}=={m.group(3)}.{m.group(4)}.*")
            return
    sys.exit(f"pyproject.toml: no '{package}>=X.Y' requirement")


if __name__ == "__main__":
    {"link": link, "diff": diff, "oldest": oldest}[sys.argv[1]](sys.argv[2])
