"""progress= of the long verbs: one signature progress(done, total), counts that only grow and end
at done == total, cancellation by raising in the callback, and unchanged results."""
import pytest

import exitplan
from conftest import ROOT, without, csv_rows


class Stop(Exception):
    pass


def _record():
    seen = []
    return seen, lambda done, total: seen.append((done, total))


def _check_counts(seen):
    assert seen, "the callback was never called"
    dones = [d for d, _ in seen]
    totals = {t for _, t in seen}
    assert dones == sorted(dones) and len(set(dones)) == len(dones), seen  # strictly increasing
    assert dones[0] == 0 and seen[-1][0] == seen[-1][1], seen               # (0, total) .. (total, total)
    assert len(totals) == 1, seen                                            # one total per call


PLACE = dict(method="flop-score,greedy-backward", budget=["30%", "50%", "70%"], solver="single",
             compare=True, jobs=2)


def test_place_reports_progress_and_keeps_its_rows(dump, cpu):
    seen, f = _record()
    with_cb = exitplan.place(dump, cpu, progress=f, **PLACE)
    plain = exitplan.place(dump, cpu, **PLACE)
    _check_counts(seen)
    # flop-score: 32 subsets + its series at 3 budgets; greedy-backward 3 budgets; two comparison
    # series of 3 budgets each.
    assert seen[-1] == (32 + 3 + 3 + 6, 32 + 3 + 3 + 6)
    strip = lambda rows: without(csv_rows(exitplan.results_to_csv(rows)), "seconds")
    assert strip(with_cb) == strip(plain)


def test_place_exhaustive_counts_subsets(dump, cpu):
    seen, f = _record()
    exitplan.place(dump, cpu, method="exhaustive", budget="40%", solver="single", jobs=2,
                   progress=f)
    _check_counts(seen)
    assert seen[-1] == (32, 32)  # 2^5 subsets of the 5 candidate exits


def test_raising_in_the_callback_cancels_place(dump, cpu):
    calls = []

    def stop(done, total):
        calls.append(done)
        if done >= 3:
            raise Stop()

    with pytest.raises(Stop):
        exitplan.place(dump, cpu, method="greedy-backward", budget="20%:80%:7", solver="single",
                       progress=stop)
    assert calls == [0, 1, 2, 3]  # never called again after it raised


def test_fit_scorer_reports_epochs_and_keeps_its_numbers(dump, cpu):
    seen, f = _record()
    fit = exitplan.fit_scorer(dump, cpu, budget="50%", max_epochs=12, progress=f)
    plain = exitplan.fit_scorer(dump, cpu, budget="50%", max_epochs=12)
    _check_counts(seen)
    assert seen == [(e, 12) for e in range(13)]
    assert fit.thresholds == plain.thresholds and fit.figures == plain.figures
    assert "summary: 12 epochs" in fit.text and fit.note in fit.text

    def stop(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        exitplan.fit_scorer(dump, cpu, budget="50%", max_epochs=500, progress=stop)


def test_sweep_reports_cells(tmp_path):
    seen, f = _record()
    s = exitplan.sweep(str(ROOT / "data/examples/sweep.yaml"), out=str(tmp_path / "a"), jobs=2,
                       progress=f)
    _check_counts(seen)
    assert seen[-1] == (280, 280) and s.cells_run == 280
    # A rerun has no cell to compute: (0, 0).
    seen2, f2 = _record()
    exitplan.sweep(str(ROOT / "data/examples/sweep.yaml"), out=str(tmp_path / "a"), jobs=2,
                   progress=f2)
    assert seen2 == [(0, 0)]

    def stop(done, total):
        if done >= 5:
            raise Stop()

    with pytest.raises(Stop):
        exitplan.sweep(str(ROOT / "data/examples/sweep.yaml"), out=str(tmp_path / "b"), jobs=2,
                       progress=stop)
    cells = list((tmp_path / "b" / "cells").glob("*.csv"))
    assert 5 <= len(cells) < 280  # stopped: the finished cells are kept for a resume
    assert not (tmp_path / "b" / "reports").exists()


def test_every_long_verb_refuses_a_non_callable(dump, cpu):
    for call in (lambda: exitplan.place(dump, cpu, progress=1),
                 lambda: exitplan.fit_scorer(dump, cpu, budget="50%", progress="x"),
                 lambda: exitplan.sweep(str(ROOT / "data/examples/sweep.yaml"), progress=[]),
                 lambda: exitplan.thresholds(dump, cpu, method="single", budget="20%",
                                             progress=3)):
        with pytest.raises(exitplan.InputError, match="progress: expected a callable"):
            call()
