"""Policy.apply (the C++ runtime's decisions) against the exact evaluator, sample by sample, for
every measure; the GIL released during solves."""
import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import exitplan
from conftest import EXAMPLE, PROFILE, csv_rows, without


@pytest.mark.parametrize("measure", ["max_prob", "entropy", "margin", "patience", "vote"])
@pytest.mark.parametrize("exits", [None, "2,4"])
def test_apply_equals_the_evaluator_sample_by_sample(dump, cpu, arrays, measure, exits):
    r = exitplan.thresholds(dump, cpu, method="exact", measure=measure, exits=exits, budget="45%")[0]
    assert r.has_solution
    for split, logits in (("eval", arrays["test_logits"]), ("fit", arrays["val_logits"])):
        exits_rt, preds = r.policy.apply(logits)
        exits_ev = np.array(r.policy.exits_on(dump, split))
        assert np.array_equal(exits_rt, exits_ev)
        s = dump.eval if split == "eval" else dump.fit
        assert np.array_equal(preds, s.predicted[exits_ev - 1, np.arange(s.n)])
        # The exit fractions and accuracy are the row's.
        labels = arrays["test_labels" if split == "eval" else "val_labels"]
        acc = float(np.mean(preds == labels))
        assert acc == (r.eval_acc if split == "eval" else r.fit_acc)
    fractions = np.bincount(r.policy.exits_on(dump, "fit"), minlength=7)[1:] / 5000
    assert list(fractions) == r.exit_fractions


def test_apply_takes_every_layout_and_dtype(dump, cpu, arrays):
    r = exitplan.thresholds(dump, cpu, method="single", budget="40%")[0]
    want = r.policy.apply(arrays["test_logits"])
    kn = np.ascontiguousarray(arrays["test_logits"].transpose(1, 0, 2))
    for got in (r.policy.apply(kn, layout="kn"),
                r.policy.apply(arrays["test_logits"].astype(np.float64)),
                r.policy.apply(np.asfortranarray(arrays["test_logits"]))):
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    with pytest.raises(exitplan.InputError, match=r"^logits: expected \[N, K, C\] with K = 6 exits"):
        r.policy.apply(arrays["test_logits"][:, :5])
    with pytest.raises(exitplan.InputError, match=r"^logits: expected a 3-d array"):
        r.policy.apply(arrays["test_logits"][0])
    bad = arrays["test_logits"].copy()
    bad[3, 0, 2] = np.nan
    with pytest.raises(exitplan.InputError, match=r"^logits: non-finite logit at exit 1, sample 3"):
        r.policy.apply(bad)


def test_saved_config_reads_back_in_the_runtime_format(dump, cpu, tmp_path):
    r = exitplan.thresholds(dump, cpu, method="exact", budget="40%", exits=[2, 3, 5])[0]
    r.policy.save(str(tmp_path / "cpu.json"))
    c = json.loads((tmp_path / "cpu.json").read_text())
    assert c["kept_exits"] == [2, 3, 5, 6] == r.policy.kept_exits == r.kept_exits
    assert c["thresholds"] == r.thresholds == r.policy.thresholds
    assert [e["name"] for e in c["exits"]] == ["b2", "b3", "b5", "final"]
    assert c["expected"]["fit_accuracy"] == r.fit_acc and c["expected"]["eval_cost"] == r.eval_cost
    assert c["exits"][-1]["final"] is True
    with pytest.raises(exitplan.InputError, match="unknown format 'xml'"):
        r.policy.save(str(tmp_path / "x"), format="xml")
    assert not (tmp_path / "x").exists()


def test_five_lines_from_np_load_to_a_config(tmp_path):
    val_logits, val_labels, test_logits, test_labels = (
        np.load(EXAMPLE / f"{n}.npy") for n in ("val_logits", "val_labels", "test_logits", "test_labels"))
    d = exitplan.Dump.from_arrays(val_logits, val_labels, test_logits, test_labels)
    p = exitplan.load_profile(str(PROFILE), target="cpu-1thread")
    rows = exitplan.thresholds(d, p, method="exact", budget="40%")
    r = rows[0]
    exits, preds = r.policy.apply(test_logits)
    r.policy.save(str(tmp_path / "cpu.json"))
    assert r.outcome == "converged" and r.fit_cost <= r.budget
    assert float(np.mean(preds == test_labels)) == r.eval_acc
    assert (tmp_path / "cpu.json").exists()


def test_threads_give_the_serial_numbers(dump, cpu):
    jobs = [("exact", "30%"), ("ippp", "40%"), ("exact", "50%"), ("ippp-nlopt", "35%"),
            ("single", "45%"), ("exact", "25%")]
    run = lambda job: exitplan.results_to_csv(
        exitplan.thresholds(dump, cpu, method=job[0], budget=job[1]))
    strip = lambda csv: without(csv_rows(csv), "seconds")
    serial = [run(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = list(pool.map(run, jobs))
    assert [strip(s) for s in serial] == [strip(p) for p in parallel]


def test_solves_release_the_gil(dump, cpu):
    # While a solve runs in one thread, the interpreter keeps running Python in another.
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    exitplan.thresholds(dump, cpu, method="exact", budget="20%:60%:6")
    done.set()
    t.join()
    assert len(ticks) > 5


def test_load_config_round_trips_and_applies(dump, cpu, arrays, tmp_path):
    for measure in ("max_prob", "entropy", "margin", "patience", "vote"):
        r = exitplan.thresholds(dump, cpu, method="single", measure=measure, exits="2,3,5",
                                budget="50%")[0]
        path = tmp_path / f"{measure}.json"
        r.policy.save(str(path))
        back = exitplan.load_config(str(path))
        assert back.to_json() == path.read_text()
        assert back.kept_exits == r.kept_exits and back.thresholds == r.thresholds
        for a, b in zip(back.apply(arrays["test_logits"]), r.policy.apply(arrays["test_logits"])):
            assert np.array_equal(a, b)
    (tmp_path / "bad.json").write_text('{"schema_version": 2}')
    with pytest.raises(exitplan.InputError, match="schema_version 2 is not supported"):
        exitplan.load_config(str(tmp_path / "bad.json"))


def test_sweep_configs_replay_their_expected_figures(tmp_path, arrays):
    # Every config a sweep writes (every method, measure and calibrated series on the front), read
    # back and applied to the fit split's logits, gives the config's expected figures exactly.
    s = exitplan.sweep(str(EXAMPLE.parent / "examples" / "sweep.yaml"), out=str(tmp_path), jobs=2)
    configs = sorted((tmp_path / "configs").rglob("*.json"))
    assert len(configs) > 20
    measures = set()
    for path in configs:
        c = exitplan.load_config(str(path))
        measures.add((c.measure, tuple(c.temperatures) != (1.0,) * len(c.temperatures)))
        exits, preds = c.apply(arrays["val_logits"])
        assert float(np.mean(preds == arrays["val_labels"])) == c.fit_accuracy
        assert list(np.bincount(exits, minlength=7)[1:] / 5000) == c.exit_fractions
    assert {("max_prob", False), ("max_prob", True)} <= measures  # calibrated and not


def test_thresholds_reports_progress(dump, cpu):
    seen = []
    rows = exitplan.thresholds(dump, cpu, method="single", budget="20%:60%:5",
                               progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)] and len(rows) == 5

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        exitplan.thresholds(dump, cpu, method="single", budget="20%:60%:5", progress=stop)
    with pytest.raises(exitplan.InputError, match="progress: expected a callable"):
        exitplan.thresholds(dump, cpu, method="single", budget="20%", progress=3)


def test_guarantee_fields_on_results_and_configs(dump, cpu, tmp_path):
    r = exitplan.thresholds(dump, cpu, method="single", budget="50%", guarantee=0.95)[0]
    # The bound is the option's value; the test wsr chose (here the capped mean threshold) is named
    # in the message.
    assert r.guarantee == 0.95 and r.guarantee_bound == "wsr" and r.horizon == 5000
    assert "calibrated on 4500 with the capped mean-threshold test" in r.message
    assert r.cost_bound == r.budget and 0.5 < r.accuracy_bound < r.fit_acc
    assert math.isnan(r.drop_bound)
    assert 0.05 < r.shift_p <= 1 and r.shift_fired is False
    plain = exitplan.thresholds(dump, cpu, method="single", budget="50%")[0]
    assert plain.guarantee is None and math.isnan(plain.cost_bound) and plain.shift_p == plain.shift_p
    # The config carries them; the runtime's reader gives them back.
    r.policy.save(str(tmp_path / "g.json"))
    g = exitplan.load_config(str(tmp_path / "g.json"))
    assert g.guarantee == {"level": 0.95, "delta": pytest.approx(0.05), "bound": "wsr",
                           "horizon": 5000.0, "cost_bound": r.cost_bound,
                           "accuracy_bound": r.accuracy_bound, "drop_bound": pytest.approx(float("nan"), nan_ok=True)}
    assert g.shift_check == {"p_value": r.shift_p, "fired": False}
    plain.policy.save(str(tmp_path / "p.json"))
    assert exitplan.load_config(str(tmp_path / "p.json")).guarantee is None
    # place: the kept set searched on the search part, certified.
    rows = exitplan.place(dump, cpu, method="greedy-backward", solver="single", budget="50%",
                          guarantee=0.95)
    assert len(rows) == 1 and rows[0].guarantee == 0.95 and rows[0].cost_bound == rows[0].budget
    assert "chosen on the search part (2500 of 5000 fit samples)" in rows[0].message
