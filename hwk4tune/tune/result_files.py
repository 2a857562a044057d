"""Ray Tune's ``result.json`` and ``progress.csv`` loggers, keeping the rows a restarted trial already wrote.

Tune writes a trial's reports on the driver, into a staging folder it copies to the storage folder every few
minutes. When a trial restarts (PBT's exploit, a retried failure) Tune's loggers first copy the storage's
``result.json`` back over the staging one: every report since the last copy was lost. In one PBT sweep of
4 trials x 8 epochs the two exploited trials' files began at iterations 3 and 7 (the earlier reports gone),
so the tables showed a trial of 2 epochs whose best epoch was 7, and 1 of PBT's 4 exploits.

Within one driver the staging file is the newer one: these loggers copy the storage's only when the staging
folder has none (a resumed sweep: a new driver, a new staging folder).
"""

from __future__ import annotations

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from hwk4tune.tune import _ray_private


class JsonLogger(_ray_private.logger_restoring_only_when_missing(JsonLoggerCallback)):
    """Ray's ``result.json`` logger (Ray adds its own only when none is given)."""


class CsvLogger(_ray_private.logger_restoring_only_when_missing(CSVLoggerCallback)):
    """Ray's ``progress.csv`` logger."""


def result_loggers() -> list:
    """The two loggers Tune's analysis reads, both keeping a restarted trial's staged rows."""
    return [JsonLogger(), CsvLogger()]
