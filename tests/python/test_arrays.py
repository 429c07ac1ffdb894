"""Arrays in without copies, and bad arrays raising exitplan.InputError with the messages of the
files path (the same text, with the array's name where the file's path would be)."""
import gc

import numpy as np
import pytest

import exitplan
from conftest import EXAMPLE, PROFILE


def test_logits_are_read_in_place(arrays):
    val = arrays["val_logits"].copy()
    d = exitplan.Dump.from_arrays(val, arrays["val_labels"])
    view = d.fit.logits
    assert np.shares_memory(view, val)
    assert view.__array_interface__["data"][0] == val.__array_interface__["data"][0]
    assert not view.flags.writeable
    # A change to the caller's array is seen through the dump: nothing was copied.
    val[0, 0, 0] += 1.0
    assert view[0, 0, 0] == val[0, 0, 0]


def test_dump_keeps_the_array_alive(arrays):
    val = arrays["val_logits"].copy()
    d = exitplan.Dump.from_arrays(val, arrays["val_labels"])
    first = float(val[1, 2, 3])
    del val
    gc.collect()
    assert float(d.fit.logits[1, 2, 3]) == first
    view = d.fit.logits
    del d
    gc.collect()
    assert float(view[1, 2, 3]) == first


def test_file_dump_logits_are_the_mapped_file(file_dump):
    v = file_dump.fit.logits
    assert v.shape == (5000, 6, 10) and v.dtype == np.float32
    assert np.array_equal(v, np.load(EXAMPLE / "val_logits.npy"))


def test_scores_view_shares_the_dump_features(dump):
    s = dump.fit.scores("max_prob")
    assert s.shape == (6, 5000) and not s.flags.writeable
    assert np.shares_memory(s, dump.fit.scores("max_prob"))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", ">f4", ">f8"])
def test_every_float_dtype_and_byte_order_matches_its_file(arrays, dtype, tmp_path):
    val = arrays["val_logits"].astype(dtype)
    lab = arrays["val_labels"].astype("uint8")
    d = exitplan.Dump.from_arrays(val, lab)
    assert np.shares_memory(d.fit.logits, val)
    np.save(tmp_path / "val_logits.npy", val)
    np.save(tmp_path / "val_labels.npy", lab)
    f = exitplan.load_dump(str(tmp_path))
    for m in ("max_prob", "entropy", "margin", "patience", "vote"):
        assert np.array_equal(d.fit.scores(m), f.fit.scores(m))


def test_kn_layout_and_fortran_order_give_the_same_features(arrays, dump):
    kn = np.ascontiguousarray(arrays["val_logits"].transpose(1, 0, 2))
    d_kn = exitplan.Dump.from_arrays(kn, arrays["val_labels"], layout="kn")
    assert np.shares_memory(d_kn.fit.logits, kn)
    fortran = np.asfortranarray(arrays["val_logits"])
    d_f = exitplan.Dump.from_arrays(fortran, arrays["val_labels"])
    assert np.shares_memory(d_f.fit.logits, fortran)
    strided = np.repeat(arrays["val_logits"], 2, axis=2)[:, :, ::2]  # not contiguous: copied once
    d_s = exitplan.Dump.from_arrays(strided, arrays["val_labels"])
    for d in (d_kn, d_f, d_s):
        for m in ("max_prob", "entropy", "vote"):
            assert np.array_equal(d.fit.scores(m), dump.fit.scores(m))


def test_scores_mode_arrays(dump, cpu):
    conf = np.ascontiguousarray(dump.fit.scores("max_prob"))
    corr = np.ascontiguousarray(dump.fit.correct)
    s = exitplan.Dump.from_scores(conf, corr)
    assert s.mode == "scores" and s.k == 6
    a = exitplan.thresholds(s, cpu, method="exact", budget="40%")[0]
    b = exitplan.thresholds(dump, cpu, method="exact", budget="40%", eval_split=None) \
        if False else exitplan.thresholds(dump, cpu, method="exact", budget="40%")[0]
    assert a.measure == "confidence" and a.thresholds == b.thresholds and a.fit_acc == b.fit_acc
    with pytest.raises(exitplan.InputError, match="needs logits, but this is a scores-mode dump"):
        exitplan.thresholds(s, cpu, method="exact", budget="40%", measure="entropy")
    exits, preds = a.policy.apply(conf)
    assert list(exits) == a.policy.exits_on(s, "fit") and set(preds) == {-1}


def _message(e):
    return str(e.value)


def _file_message(tmp_path, files):
    for name, arr in files.items():
        np.save(tmp_path / f"{name}.npy", arr)
    with pytest.raises(exitplan.InputError) as e:
        exitplan.load_dump(str(tmp_path))
    return _message(e).replace(str(tmp_path) + "/", "").replace(".npy", "")


BAD = {
    "wrong rank": lambda a: {"val_logits": a["val_logits"][:, :, 0], "val_labels": a["val_labels"]},
    "integer logits": lambda a: {"val_logits": a["val_logits"].astype(np.int32),
                                 "val_labels": a["val_labels"]},
    "nan": lambda a: {"val_logits": np.where(np.arange(10) == 3, np.nan, a["val_logits"]),
                      "val_labels": a["val_labels"]},
    "inf": lambda a: {"val_logits": np.where(np.arange(10) == 3, np.inf, a["val_logits"]),
                      "val_labels": a["val_labels"]},
    "label out of range": lambda a: {"val_logits": a["val_logits"],
                                     "val_labels": np.where(np.arange(5000) == 7, 10, a["val_labels"])},
    "negative label": lambda a: {"val_logits": a["val_logits"],
                                 "val_labels": np.where(np.arange(5000) == 7, -1, a["val_labels"])},
    "float labels": lambda a: {"val_logits": a["val_logits"],
                               "val_labels": a["val_labels"].astype(np.float64)},
    "labels wrong length": lambda a: {"val_logits": a["val_logits"], "val_labels": a["val_labels"][:-1]},
    "empty": lambda a: {"val_logits": a["val_logits"][:0], "val_labels": a["val_labels"][:0]},
    "wrong K between splits": lambda a: {"val_logits": a["val_logits"], "val_labels": a["val_labels"],
                                         "test_logits": a["test_logits"][:, :5],
                                         "test_labels": a["test_labels"]},
    "wrong C between splits": lambda a: {"val_logits": a["val_logits"], "val_labels": a["val_labels"],
                                         "test_logits": a["test_logits"][:, :, :9].copy(),
                                         "test_labels": a["test_labels"] % 9},
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_arrays_raise_the_files_message(arrays, case, tmp_path):
    files = BAD[case](arrays)
    want = _file_message(tmp_path, files)
    with pytest.raises(exitplan.InputError) as e:
        exitplan.Dump.from_arrays(files["val_logits"], files["val_labels"],
                                  files.get("test_logits"), files.get("test_labels"))
    assert _message(e) == want
    assert isinstance(e.value, ValueError)


def test_bad_array_messages_read_well(arrays):
    with pytest.raises(exitplan.InputError, match=r"^val_logits: expected a 3-d array \[N, K, C\], "
                                                  r"found float32 \[5000, 6\]$"):
        exitplan.Dump.from_arrays(arrays["val_logits"][:, :, 0], arrays["val_labels"])
    with pytest.raises(exitplan.InputError,
                       match=r"^val_labels: label 10 at sample 0 is out of range \[0, 10\)$"):
        exitplan.Dump.from_arrays(arrays["val_logits"], np.full(5000, 10))
    with pytest.raises(exitplan.InputError, match=r"^val_logits: unsupported dtype '<c8'"):
        exitplan.Dump.from_arrays(arrays["val_logits"].astype(np.complex64), arrays["val_labels"])
    with pytest.raises(exitplan.InputError, match=r"^val_logits: expected an array, found None"):
        exitplan.Dump.from_arrays(None, arrays["val_labels"])
    with pytest.raises(exitplan.InputError, match=r"^test_labels: missing"):
        exitplan.Dump.from_arrays(arrays["val_logits"], arrays["val_labels"], arrays["test_logits"])
    with pytest.raises(exitplan.InputError, match=r"^--layout: unknown layout 'xy'"):
        exitplan.Dump.from_arrays(arrays["val_logits"], arrays["val_labels"], layout="xy")


def test_scores_mode_errors_match_files(arrays, dump, tmp_path):
    conf = np.ascontiguousarray(dump.fit.scores("max_prob"))
    corr = np.ascontiguousarray(dump.fit.correct).astype(np.int64)
    corr[2, 5] = 2
    np.save(tmp_path / "val_confidence.npy", conf)
    np.save(tmp_path / "val_correct.npy", corr)
    with pytest.raises(exitplan.InputError) as f:
        exitplan.load_dump(str(tmp_path))
    with pytest.raises(exitplan.InputError) as a:
        exitplan.Dump.from_scores(conf, corr)
    assert _message(a) == _message(f).replace(str(tmp_path) + "/", "").replace(".npy", "")
    assert _message(a) == "val_correct: expected 0/1 correctness values, found 2 at flat index 10005"
    with pytest.raises(exitplan.InputError, match=r"expected shape \[6, 5000\] like val_confidence"):
        exitplan.Dump.from_scores(conf, corr[:, :10])


def test_profile_k_and_options_errors(dump, cpu):
    p5 = exitplan.Profile(backbone=[1, 2, 3, 4, 5], head=[0.1] * 5, unit="ms")
    with pytest.raises(exitplan.InputError,
                       match=r"^exitplan.Profile: has 5 exits, but the dump val_logits has K = 6$"):
        exitplan.thresholds(dump, p5, method="exact", budget="40%")
    with pytest.raises(exitplan.InputError, match=r"^--method: unknown method 'fast'"):
        exitplan.thresholds(dump, cpu, method="fast", budget="40%")
    with pytest.raises(exitplan.InputError, match=r"^exitplan.thresholds: unknown option 'budgets'"):
        exitplan.thresholds(dump, cpu, method="exact", budgets="40%")
    with pytest.raises(exitplan.InputError, match=r"^--budget: give either --budget"):
        exitplan.thresholds(dump, cpu, method="exact")
    with pytest.raises(exitplan.InputError, match=r"^--exits: exit 9 is out of range 1..6$"):
        exitplan.thresholds(dump, cpu, method="exact", budget="40%", exits=[1, 9])
    with pytest.raises(exitplan.InputError, match=r"^--outer-iters: '2.5': expected an integer$"):
        exitplan.thresholds(dump, cpu, method="ippp", budget="40%", outer_iters=2.5)


def test_profile_from_lists(dump, cpu):
    same = exitplan.Profile(backbone=cpu.backbone, head=cpu.head, unit="ms", target="cpu-1thread",
                            names=cpu.names)
    a = exitplan.thresholds(dump, same, method="exact", budget="40%")[0]
    b = exitplan.thresholds(dump, cpu, method="exact", budget="40%")[0]
    assert (a.thresholds, a.fit_acc, a.eval_cost) == (b.thresholds, b.fit_acc, b.eval_cost)
    cum = exitplan.Profile(cumulative=cpu.stop_costs(), unit="ms")
    assert cum.full_cost == cpu.full_cost and not cum.has_heads
    for kwargs, msg in [
        (dict(backbone=[1, 0.5]), r"backbone costs decrease at exit 2 \(1 then 0.5\)"),
        (dict(backbone=[1, -2]), r"backbone\[1\] = -2: costs must be >= 0"),
        (dict(backbone=[1, 2], unit="hours"), r"unknown unit 'hours'"),
        (dict(backbone=[1, 2], head=[1]), r"head: 1 costs for 2 exits"),
        (dict(), r"expected exactly one of 'backbone'"),
    ]:
        with pytest.raises(exitplan.InputError, match=msg):
            exitplan.Profile(**kwargs)
    with pytest.raises(exitplan.InputError, match=r"holds several targets \(cpu-1thread, flops\)"):
        exitplan.load_profile(str(PROFILE))


def test_place_on_a_scores_dump_picks_measure_and_ca_by_itself(dump, cpu):
    # No --measure, no --ca: the scores dump's confidence, and CA against the labels (there are no
    # final-exit predictions to agree with); the same rows as the logits dump told ca="labels".
    conf = np.ascontiguousarray(dump.fit.scores("max_prob"))
    corr = np.ascontiguousarray(dump.fit.correct)
    s = exitplan.Dump.from_scores(conf, corr)
    opts = dict(method="flop-score,greedy-th,greedy-efficiency")
    a = exitplan.place(s, cpu, **opts)
    b = exitplan.place(exitplan.Dump.from_scores(conf, corr), cpu, ca="labels", **opts)
    assert [r.measure for r in a] == ["confidence"] * len(a)
    assert [(r.method, r.kept_exits, r.fit_acc) for r in a] == \
        [(r.method, r.kept_exits, r.fit_acc) for r in b]
    c = exitplan.place(dump, cpu, ca="labels", **opts)
    assert [(r.method, r.kept_exits, r.fit_acc, r.thresholds) for r in a] == \
        [(r.method, r.kept_exits, r.fit_acc, r.thresholds) for r in c]
    with pytest.raises(exitplan.InputError, match="--ca: agreement with exit K needs logits"):
        exitplan.place(s, cpu, ca="agreement", **opts)
