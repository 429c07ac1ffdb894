"""Every verb against the CLI on data/example: identical numbers (the CSV fields as text)."""
import json
import math
import re

import numpy as np
import pytest

import exitplan
from conftest import EXAMPLE, PROFILE, ROOT, cli, csv_rows, without

METHODS = ["geometric", "geometric-quantile", "single", "ippp", "ippp-nlopt", "exact"]
DUMP_ARGS = ["--dump", EXAMPLE, "--profile", PROFILE, "--target", "cpu-1thread"]


@pytest.mark.parametrize("method", METHODS)
def test_thresholds_every_method_equals_cli(dump, cpu, method):
    rows = exitplan.thresholds(dump, cpu, method=method, budget="30%:90%:4")
    # Status 3 when every answer is over its budget (ippp here): the rows are written all the same.
    out = cli("thresholds", *DUMP_ARGS, "--method", method, "--budget", "30%:90%:4",
              "--format", "csv", check=False).stdout
    want = csv_rows(out)
    got = csv_rows(exitplan.results_to_csv(rows))
    assert len(got) == 4
    assert without(got, "seconds") == without(want, "seconds")
    # The fields are the CSV's, as numbers.
    r, w = rows[1], want[1]
    assert r.kept_exits == [int(e) for e in w["kept_exits"].split(";")]
    assert r.thresholds == [float(t) for t in w["thresholds"].split(";")]
    assert (r.fit_acc, r.fit_cost, r.eval_acc, r.eval_cost) == tuple(
        float(w[c]) for c in ("fit_acc", "fit_cost", "eval_acc", "eval_cost"))
    assert r.outcome == w["outcome"]


def test_thresholds_options_and_measures_equal_cli(file_dump, cpu):
    rows = exitplan.thresholds(file_dump, cpu, method="exact", measure="entropy", exits=[1, 3, 5],
                               budget=0.15, start_ippp=False, correct="agreement")
    out = cli("thresholds", *DUMP_ARGS, "--method", "exact", "--measure", "entropy", "--exits",
              "1,3,5", "--budget", "0.15", "--no-start-ippp", "--correct", "agreement",
              "--format", "csv").stdout
    assert without(csv_rows(exitplan.results_to_csv(rows)), "seconds") == without(csv_rows(out), "seconds")
    assert rows[0].kept_exits == [1, 3, 5, 6]


def test_budget_grammar(dump, cpu):
    full = cpu.full_cost
    by_pct = exitplan.thresholds(dump, cpu, method="single", budget="40%")
    by_x = exitplan.thresholds(dump, cpu, method="single", budget="0.4x")
    by_abs = exitplan.thresholds(dump, cpu, method="single", budget=f"{0.4 * full!r}ms")
    by_num = exitplan.thresholds(dump, cpu, method="single", budget=0.4 * full)  # bare: absolute
    assert by_pct[0].budget == by_x[0].budget == by_abs[0].budget == by_num[0].budget == 0.4 * full
    assert by_pct[0].thresholds == by_num[0].thresholds
    many = exitplan.thresholds(dump, cpu, method="single", budget="30%,0.5x,20%:40%:3")
    assert [r.budget for r in many] == pytest.approx([0.3 * full, 0.5 * full, 0.2 * full,
                                                      0.3 * full, 0.4 * full], rel=1e-15)
    with pytest.raises(exitplan.InputError, match=r"^--budget: budget '3us': the profile's unit is ms, not us"):
        exitplan.thresholds(dump, cpu, method="single", budget="3us")
    with pytest.raises(exitplan.InputError, match=r"^--budget: budget '-1': must be > 0$"):
        exitplan.thresholds(dump, cpu, method="single", budget=-1)


def test_evaluate_equals_cli(dump, cpu):
    for measure, exits, th in [("max_prob", None, "0.9,0.9,0.9,0.9,0.9"),
                               ("vote", "2,4", "0.7,0.8"), ("margin", "1,3,5", [0.5, 0.6, 0.7])]:
        ev = exitplan.evaluate(dump, cpu, measure=measure, exits=exits, thresholds=th)
        args = ["--exits", exits] if exits else []
        th_text = th if isinstance(th, str) else ",".join(map(str, th))
        out = cli("evaluate", *DUMP_ARGS, "--measure", measure, "--thresholds", th_text,
                  "--format", "csv", *args).stdout
        want = csv_rows(out)
        assert [e.split for e in ev] == ["val", "test"]
        for e, w in zip(ev, want):
            assert e.accuracy == float(w["accuracy"])
            assert e.mean_cost == float(w["mean_cost"])
            assert e.exit_fractions == [float(x) for x in w["exit_fractions"].split(";")]


def _cli_table(text, split):
    """The per-exit rows `exitplan inspect` prints for one split: {exit: [numbers...]}."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(f"split {split} "))
    rows = {}
    for l in lines[start + 2:]:
        parts = l.split()
        if not parts or not parts[0].isdigit():
            break
        rows[int(parts[0])] = [float(x) for x in parts[1:]]
    quant = {}
    for l in lines[start + 2 + len(rows) + 2:start + 2 + 2 * len(rows) + 2]:
        parts = re.sub(r"/\s+", "/", l).split()
        quant[int(parts[0])] = [[float(v) for v in q.split("/")] for q in parts[1:]]
    return rows, quant


def test_inspect_equals_cli(dump):
    tables = exitplan.inspect(dump)
    out = cli("inspect", "--dump", EXAMPLE).stdout
    for split in ("val", "test"):
        t = tables[split]
        rows, quant = _cli_table(out, split)
        cols = {c: list(t[c]) for c in t}  # dict or DataFrame
        for j in range(6):
            assert [round(cols[c][j], 4) for c in ("accuracy", "ece", "agree_final")] == \
                rows[j + 1]
            for m, name in enumerate(["max_prob", "entropy", "margin", "patience", "vote"]):
                assert [round(cols[f"{name}_q{q}"][j], 3) for q in (10, 50, 90)] == \
                    quant[j + 1][m]


def test_inspect_is_a_dataframe_when_pandas_is_there(dump):
    pandas = pytest.importorskip("pandas")
    t = exitplan.inspect(dump)["val"]
    assert isinstance(t, pandas.DataFrame)
    assert list(t["exit"]) == [1, 2, 3, 4, 5, 6]


def test_calibrate_equals_inspect_calibrate(dump):
    cal = exitplan.calibrate(dump)
    out = cli("inspect", "--dump", EXAMPLE, "--calibrate").stdout
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("calibration:"))
    for j in range(6):
        parts = [float(x) for x in lines[start + 2 + j].split()[1:]]
        mine = [cal.temperatures[j], cal.nll_before[j], cal.nll_after[j],
                cal.ece_before["val"][j], cal.ece_after["val"][j],
                cal.ece_before["test"][j], cal.ece_after["test"][j]]
        assert [round(v, 4) for v in mine] == parts
    # The calibrated copy's measures use the temperatures; the original is untouched.
    assert cal.dump.fit.temperatures == cal.temperatures
    assert dump.fit.temperatures == [1.0] * 6
    t = exitplan.inspect(dump, calibrate=True)["calibration"]
    assert [round(v, 4) for v in list(t["temperature"])] == [
        round(v, 4) for v in cal.temperatures]


def test_calibrated_policy_carries_temperatures(dump, cpu):
    cal = exitplan.calibrate(dump)
    r = exitplan.thresholds(cal.dump, cpu, method="single", budget="50%")[0]
    assert r.policy.temperatures == cal.temperatures
    conf = json.loads(r.policy.to_json())
    assert [e["temperature"] for e in conf["exits"]] == cal.temperatures
    exits, _ = r.policy.apply(dump.eval.logits)
    assert list(exits) == r.policy.exits_on(cal.dump, "eval")


def test_place_equals_cli(dump, cpu, tmp_path):
    out = tmp_path / "place.csv"
    cli("place", *DUMP_ARGS, "--method", "flop-score,greedy-th,greedy-backward", "--budget",
        "30%,50%", "--solver", "single", "--compare", "-j", "2", "--out", out)
    rows = exitplan.place(dump, cpu, method="flop-score,greedy-th,greedy-backward",
                          budget=["30%", "50%"], solver="single", compare=True, jobs=2)
    want = csv_rows(out.read_text())
    assert without(csv_rows(exitplan.results_to_csv(rows)), "seconds") == without(want, "seconds")
    assert {r.method for r in rows} >= {"flop-score", "greedy-th", "greedy-backward", "all-exits"}


def test_fit_scorer_equals_cli(dump, cpu, tmp_path):
    out = cli("fit-scorer", *DUMP_ARGS, "--budget", "50%", "--max-epochs", "30",
              "--out", tmp_path / "cli.yaml").stdout
    fit = exitplan.fit_scorer(dump, cpu, budget="50%", max_epochs=30)
    assert fit.ok
    fit.save(str(tmp_path / "py.yaml"))
    m = re.search(r"thresholds \((\S+)\): (\S+)", out)
    assert fit.threshold_method == m.group(1)
    assert fit.thresholds == [float(t) for t in m.group(2).split(",")]
    for line in out.splitlines():
        mm = re.match(r"(eenet|max_prob \+ geometric|max_prob \+ exact)\s+(\w+)\s+accuracy (\S+)"
                      r"\s+mean_cost (\S+)", line)
        if mm:
            f = fit.figures[f"{mm.group(1)} {mm.group(2)}"]
            assert round(f["accuracy"], 4) == float(mm.group(3))
            assert float(f"{f['mean_cost']:.6g}") == float(mm.group(4))
    assert fit.note in out
    # The scorer files differ only in their provenance line and the name of their weights file;
    # the weights (.npz beside each) are the same bytes.
    strip = lambda t: [l.replace('"py.npz"', '"cli.npz"') for l in t.splitlines() if "provenance" not in l]
    assert strip((tmp_path / "py.yaml").read_text()) == strip((tmp_path / "cli.yaml").read_text())
    assert (tmp_path / "py.npz").read_bytes() == (tmp_path / "cli.npz").read_bytes()
    w = np.load(tmp_path / "py.npz")
    assert w["exit1_w_shared"].shape[1] == 10 + 3 and w["exit6_w_shared"].shape[1] == 10 + 3 + 5


def test_sweep_equals_cli(tmp_path):
    cli("sweep", ROOT / "data/examples/sweep.yaml", "-o", tmp_path / "cli", "-q", "-j", "2")
    s = exitplan.sweep(str(ROOT / "data/examples/sweep.yaml"), out=str(tmp_path / "py"), jobs=2)
    assert s.complete and s.cells_total == 280 and s.cells_failed == 0
    for name in ("fmnist-cnn__cpu-1thread.csv", "fmnist-cnn__flops.csv"):
        py_rows = csv_rows((tmp_path / "py" / "reports" / name).read_text())
        cli_rows = csv_rows((tmp_path / "cli" / "reports" / name).read_text())
        assert without(py_rows, "seconds") == without(cli_rows, "seconds")
    rows = exitplan.read_report(str(tmp_path / "py" / "reports" / "fmnist-cnn__cpu-1thread.csv"))
    assert len(rows) == 140 and all(r.policy is not None for r in rows if r.has_solution)


def _config_fields(text):
    c = json.loads(text)
    c.pop("provenance")
    return c


def test_export_equals_cli(tmp_path):
    rep = tmp_path / "t.csv"
    cli("thresholds", *DUMP_ARGS, "--method", "exact", "--budget", "0.1:0.25:4", "--out", rep)
    want = cli("export", "--from", rep, "--budget", "0.2", "--method", "exact", "--format", "json",
               "--profile", PROFILE, "--target", "cpu-1thread").stdout
    p = exitplan.export(str(rep), budget=0.2, method="exact", profile=str(PROFILE),
                        target="cpu-1thread", format="json", out=str(tmp_path / "py.json"))
    assert _config_fields(p.to_json()) == _config_fields(want)
    assert _config_fields((tmp_path / "py.json").read_text()) == _config_fields(want)
    w = json.loads(want)["provenance"]
    got = json.loads(p.to_json())["provenance"]
    assert got["inputs"] == w["inputs"] and got["report_row"] == w["report_row"]
    with pytest.raises(exitplan.InputError, match="^exitplan export: give either --row N or"):
        exitplan.export(str(rep))


def test_export_at_budget_solves_as_cli(dump, cpu, tmp_path):
    # A sweep's report: no row at 30%, so the group (exact on exits 1,3,5) is solved at 30% on the
    # sweep's inputs, by the CLI and by Python alike, and equals thresholds at 30%.
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"output: out\nmodels:\n  - {{name: ex, dump: {EXAMPLE}, profile: {PROFILE}, "
                     "target: cpu-1thread}\nmethods:\n  - {method: exact, exits: \"1,3,5\"}\n"
                     "budgets: [20%, 40%]\n")
    cli("sweep", sweep, "-q", "-j", "2")
    rep = tmp_path / "out" / "reports" / "ex__cpu-1thread.csv"
    want = cli("export", "--from", rep, "--budget", "30%", "--method", "exact", "-o",
               tmp_path / "cli.json").stdout
    assert "solved at budget" in want
    p = exitplan.export(str(rep), budget="30%", method="exact", out=str(tmp_path / "py.json"))
    assert _config_fields((tmp_path / "py.json").read_text()) == _config_fields((tmp_path / "cli.json").read_text())
    assert _config_fields(p.to_json()) == _config_fields((tmp_path / "cli.json").read_text())
    assert json.loads(p.to_json())["provenance"]["report_row"] == -1
    r = exitplan.thresholds(dump, cpu, method="exact", exits=[1, 3, 5], budget="30%")[0]
    c = json.loads(p.to_json())
    assert c["thresholds"] == r.thresholds and c["kept_exits"] == r.kept_exits == [1, 3, 5, 6]
    assert c["expected"]["fit_cost"] == r.fit_cost <= 0.3 * cpu.full_cost
    assert c["expected"]["fit_accuracy"] == r.fit_acc and c["expected"]["eval_accuracy"] == r.eval_acc
    # The same refusal as the CLI's when the inputs cannot be found.
    lone = tmp_path / "lone.csv"
    lone.write_text(rep.read_text())
    err = cli("export", "--from", lone, "--budget", "0.1", "--method", "exact", check=False).stderr
    with pytest.raises(exitplan.InputError) as e:
        exitplan.export(str(lone), budget=0.1, method="exact")
    assert "exitplan: error: " + str(e.value) + "\n" == err
    assert "nearest: row 0 (exact max_prob" in err
    # ... and the same answer from --dump / --profile.
    q = exitplan.export(str(lone), budget="30%", method="exact", dump=str(EXAMPLE),
                        profile=str(PROFILE), target="cpu-1thread")
    assert json.loads(q.to_json())["thresholds"] == r.thresholds


def test_policy_save_writes_what_export_writes(file_dump, cpu, tmp_path):
    rep = tmp_path / "t.csv"
    cli("thresholds", *DUMP_ARGS, "--method", "single", "--budget", "0.15", "--out", rep)
    want_yaml = cli("export", "--from", rep, "--row", "0", "--profile", PROFILE,
                    "--target", "cpu-1thread").stdout
    want_json = cli("export", "--from", rep, "--row", "0", "--profile", PROFILE, "--target",
                    "cpu-1thread", "--format", "json").stdout
    r = exitplan.thresholds(file_dump, cpu, method="single", budget=0.15)[0]
    r.policy.save(str(tmp_path / "cpu.json"))
    r.policy.save(str(tmp_path / "cpu.yaml"))
    r.policy.save(str(tmp_path / "both"), format="both")
    assert _config_fields((tmp_path / "cpu.json").read_text()) == _config_fields(want_json)
    assert (tmp_path / "both.json").read_text() == (tmp_path / "cpu.json").read_text()
    cut = lambda t: t[:t.index("provenance:")]
    assert cut((tmp_path / "cpu.yaml").read_text()) == cut(want_yaml)
    prov = json.loads((tmp_path / "cpu.json").read_text())["provenance"]
    files = [i["file"] for i in prov["inputs"]]
    assert files == ["test_labels.npy", "test_logits.npy", "val_labels.npy", "val_logits.npy",
                     "profile.yaml"]
    assert prov["command_line"].startswith("exitplan.thresholds(method='single'")


@pytest.mark.parametrize("kwargs,flags", [
    (dict(method="exact", budget="140%"), ["--method", "exact", "--budget", "140%"]),
    (dict(method="exact", budget="3us"), ["--method", "exact", "--budget", "3us"]),
    (dict(method="ippp", budget="40%", outer_iters=0), ["--method", "ippp", "--budget", "40%", "--outer-iters", "0"]),
    (dict(method="exact", budget="40%", exits="3,1"), ["--method", "exact", "--budget", "40%", "--exits", "3,1"]),
    (dict(method="exact", budget="40%", measure="loudness"), ["--method", "exact", "--budget", "40%", "--measure", "loudness"]),
    (dict(method="exact"), ["--method", "exact"]),
])
def test_bad_options_raise_the_cli_message(dump, cpu, kwargs, flags):
    p = cli("thresholds", *DUMP_ARGS, *flags, check=False)
    assert p.returncode == 2
    with pytest.raises(exitplan.InputError) as e:
        exitplan.thresholds(dump, cpu, **kwargs)
    assert "exitplan: error: " + str(e.value) == p.stderr.strip()


def test_over_budget_answers_have_no_policy(dump, cpu):
    rows = exitplan.thresholds(dump, cpu, method="ippp", budget="30%:60%:3",
                                ippp_settings="paper")  # raw iPPP: no feasibility step
    over = [r for r in rows if r.outcome == "over_budget"]
    assert over, "raw ippp (the paper settings) goes over its budget on this dump"
    for r in over:
        assert r.has_policy and not r.has_solution and not r.within_budget
        assert r.budget_fraction == r.fit_cost / r.budget > 1 and r.policy is None and not r.pareto
    exact = exitplan.thresholds(dump, cpu, method="exact", budget="30%:60%:3")
    assert all(r.has_solution and r.within_budget and r.policy for r in exact)
    full = exitplan.thresholds(dump, cpu, method="exact", budget="100%")[0]
    assert full.outcome == "unconstrained" and full.fit_acc >= 0.9106  # never below the final exit
