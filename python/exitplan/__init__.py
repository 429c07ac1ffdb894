"""exitplan from Python: plan early-exit deployments on in-memory arrays.

The same library as the ``exitplan`` command line, with the same verbs, option names
(``--foo-bar`` is the keyword ``foo_bar``), budget grammar, checks and messages, and the same
numbers::

    import numpy as np, exitplan
    d = exitplan.Dump.from_arrays(val_logits, val_labels, test_logits, test_labels)
    p = exitplan.load_profile("profile.yaml", target="cpu-1thread")
    r = exitplan.thresholds(d, p, method="exact", budget="40%")[0]
    exits, preds = r.policy.apply(test_logits)
    r.policy.save("cpu.json")

Bad input raises :class:`exitplan.InputError` (a ``ValueError``) with the one-line message the
command line prints. See docs/python.md.
"""

import logging as _logging

from . import _core
from ._core import (  # noqa: F401
    Calibration,
    Dump,
    InputError,
    Policy,
    Profile,
    Result,
    ScorerFit,
    Split,
    SweepSummary,
    RESULT_COLUMNS,
    __version__,
    calibrate,
    export,
    fit_scorer,
    load_config,
    load_dump,
    load_profile,
    load_profiles,
    read_report,
    results_to_csv,
)

__all__ = [
    "Calibration", "Dump", "Evaluation", "InputError", "Policy", "Profile", "Result", "ScorerFit",
    "Split", "SweepSummary", "RESULT_COLUMNS", "calibrate", "evaluate", "export", "fit_scorer",
    "inspect", "load_config", "load_dump", "load_profile", "load_profiles", "place", "read_report",
    "results_to_csv", "results_to_dataframe", "sweep", "thresholds",
]

log = _logging.getLogger("exitplan")


def _table(columns):
    """A pandas DataFrame when pandas is importable, else the dict of columns itself."""
    try:
        import pandas
    except ImportError:
        return columns
    return pandas.DataFrame(columns)


class Evaluation:
    """The exact evaluator's figures of one policy on one split (a row of ``evaluate``)."""

    __slots__ = ("split", "accuracy", "mean_cost", "exit_fractions", "exit_accuracy",
                 "exit_counts", "n")

    def __init__(self, d):
        for k in self.__slots__:
            setattr(self, k, d[k])

    def __repr__(self):
        return (f"<exitplan.Evaluation {self.split}: accuracy {self.accuracy:.4f}, "
                f"mean_cost {self.mean_cost:.6g}>")


def inspect(dump, calibrate=False):
    """``exitplan inspect``: per split, a per-exit table (exit, accuracy, ece, agree_final and
    q10/q50/q90 of every measure), keyed by split name; with ``calibrate=True`` also a
    ``"calibration"`` table (temperature, nll_before, nll_after, ece_<split>, calib_<split>)."""
    out = {name: _table(t) for name, t in _core.inspect_splits(dump)}
    if calibrate:
        c = _core.calibrate(dump)
        cols = {"exit": list(range(1, dump.k + 1)), "temperature": c.temperatures,
                "nll_before": c.nll_before, "nll_after": c.nll_after}
        for s in c.splits:
            cols["ece_" + s] = c.ece_before[s]
            cols["calib_" + s] = c.ece_after[s]
        out["calibration"] = _table(cols)
    return out


def evaluate(dump, profile, **options):
    """``exitplan evaluate``: one :class:`Evaluation` per split (fit, then eval)."""
    return [Evaluation(d) for d in _core.evaluate(dump, profile, **options)]


def thresholds(dump, profile, **options):
    """``exitplan thresholds``: budget-constrained thresholds, one :class:`Result` per budget.

    ``progress=f`` calls ``f(done, total)`` as budgets are solved (docs/python.md); an exception
    it raises stops the call."""
    rows = _core.thresholds(dump, profile, **options)
    log.info("thresholds: %d result(s), %s", len(rows), options)
    return rows


def place(dump, profile, **options):
    """``exitplan place``: exit placement; the rows of the CSV ``--out`` writes.

    ``progress=f`` calls ``f(done, total)`` as subsets and budgets are done (docs/python.md); an
    exception it raises stops the call."""
    rows = _core.place(dump, profile, **options)
    log.info("place: %d row(s), %s", len(rows), options)
    return rows


def sweep(file, **options):
    """``exitplan sweep FILE.yaml``: runs the experiment file; returns its SweepSummary.

    ``progress=f`` calls ``f(done, total)`` as cells finish (docs/python.md); an exception it
    raises stops the run (finished cells are kept for a resume)."""
    s = _core.sweep(file, **options)
    log.info("sweep %s: %d cells, %d run, %d failed, %.2f s", file, s.cells_total, s.cells_run,
             s.cells_failed, s.seconds)
    return s


def results_to_dataframe(results):
    """The rows as a table with the report's columns (pandas DataFrame when importable)."""
    cols = {c: [] for c in RESULT_COLUMNS}
    for r in results:
        for c in RESULT_COLUMNS:
            cols[c].append(getattr(r, c))
    return _table(cols)
