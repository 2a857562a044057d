"""The one error family the command line turns into a single line and exit code 2, and the one "did you
mean" every message about an unknown name shares.

Every module raises its own subclass (a missing data set, a bad results folder, a bad config file, an
unreachable cluster), so callers from Python can tell them apart, and ``cli.main`` catches them all here.
No hwk4tune imports: every layer may use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


class InputError(Exception):
    """Bad input found outside a spec file's validation: a flag, a folder, a data set, a config file."""


def closest(word: str, options: Iterable, *, synonyms: Mapping[str, str] | None = None, cutoff: float = 0.6,
            partial: bool = True) -> str | None:
    """The option ``word`` most likely means, or None. Tried in order: a known synonym (``eta`` ->
    ``reduction_factor``), the same word in another case (``pso`` -> ``PSO``), then with ``partial`` a prefix
    (``grace`` -> ``grace_period``) and initials (``learning_rate`` -> ``lr``), then edit distance
    (``optimiser`` -> ``optimizer``), then with ``partial`` a substring. ``partial=False`` keeps to whole-word
    likeness, for callers that must not take an unrelated short word for a typo."""
    options = [o for o in options if isinstance(o, str)]
    initials = "".join(part[:1] for part in word.lower().split("_") if part)
    tries = (
        [o for o in options if o == (synonyms or {}).get(word.lower())],
        [o for o in options if o.lower() == word.lower()],
        [o for o in options if partial and len(word) >= 3 and o.startswith(word)],
        [o for o in options if partial and "_" in word and o == initials],
        difflib.get_close_matches(word, options, n=1, cutoff=cutoff),
        [o for o in options if partial and len(word) >= 3 and word in o],
    )
    return next((found[0] for found in tries if found), None)


def did_you_mean(word: str, options: Iterable, **how) -> str:
    """``; did you mean 'X'?`` for the option :func:`closest` finds (``how``: its keywords), else ``""``: the
    one hint every "unknown name" message ends with."""
    close = closest(str(word), options, **how)
    return f"; did you mean {close!r}?" if close else ""
