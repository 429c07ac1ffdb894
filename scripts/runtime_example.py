#!/usr/bin/env python3
"""Apply an exitplan deployment config (the JSON twin) with numpy, as include/exitplan/runtime.hpp
does, and check it against the config's expected figures.

    /usr/bin/python3 scripts/runtime_example.py CONFIG.json DUMP_DIR [SPLIT]

Prints the accuracy and the exit fractions on the split (val by default: the config's expected
fit figures). Works for max_prob, entropy and margin configs (patience and vote need the
predictions of every earlier exit; see docs/sweeps.md).
"""
import argparse
import json
import sys

import numpy as np


def scores(logits, measure, temperature=1.0):
    """Confidence of each sample ([N, C] logits of one exit), with exitplan's arithmetic: sums run
    left to right over the classes (numpy's pairwise sum would round differently and flip
    samples whose score equals a threshold)."""
    z = logits.astype(np.float64) * (1.0 / temperature)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    s = np.zeros(len(z))
    for q in range(z.shape[1]):
        s = s + e[:, q]
    if measure == "max_prob":
        return 1.0 / s
    if measure == "margin":
        second = np.sort(e, axis=1)[:, -2]
        return (1.0 - second) / s
    if measure == "entropy":
        log_s = np.log(s)
        h = np.zeros(len(z))
        with np.errstate(divide="ignore", invalid="ignore"):
            for q in range(z.shape[1]):
                term = (e[:, q] / s) * (np.log(e[:, q]) - log_s)
                h = h - np.where(e[:, q] > 0, term, 0.0)
        return 1.0 - h / np.log(z.shape[1])
    raise ValueError("measure %s needs earlier exits' predictions" % measure)


def stop_exits(config, logits):
    """0-based exit each sample stops at; logits [N, K, C]."""
    n = logits.shape[0]
    stop = np.full(n, -1)
    for rule in config["exits"]:
        k = rule["index"] - 1
        todo = stop < 0
        if rule["final"]:
            stop[todo] = k
            break
        sc = scores(logits[:, k, :], config["measure"], rule["temperature"])
        passes = sc < rule["threshold"] if config["score_order"] == "ascending" else sc >= rule["threshold"]
        stop[todo & passes] = k
    return stop


def main():
    parser = argparse.ArgumentParser(
        description="Apply an exitplan deployment config (JSON) to a logits dump with numpy, as "
        "include/exitplan/runtime.hpp does, and compare with the config's expected figures.")
    parser.add_argument("config", help="deployment config, JSON (exitplan export -o FILE.json)")
    parser.add_argument("dump", help="dump directory with <split>_logits.npy and <split>_labels.npy")
    parser.add_argument("split", nargs="?", default="val",
                        help="split to replay (default val: the config's fit split)")
    args = parser.parse_args()
    try:
        with open(args.config) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        parser.exit(2, "runtime_example.py: error: %s: %s\n" % (args.config, e))
    dump, split = args.dump, args.split
    try:
        logits = np.load("%s/%s_logits.npy" % (dump, split))
        labels = np.load("%s/%s_labels.npy" % (dump, split))
    except OSError as e:
        parser.exit(2, "runtime_example.py: error: %s\n" % e)
    if config["measure"] not in ("max_prob", "entropy", "margin"):
        parser.exit(2, "runtime_example.py: error: %s: measure %s needs every earlier exit's "
                    "predictions; this example handles max_prob, entropy and margin\n"
                    % (args.config, config["measure"]))
    stop = stop_exits(config, logits)
    pred = logits[np.arange(len(stop)), stop, :].argmax(axis=1)
    acc = float((pred == labels).mean())
    frac = np.bincount(stop, minlength=config["num_exits"]) / len(stop)
    print("accuracy %.4f (config expects fit %.4f)" % (acc, config["expected"]["fit_accuracy"]))
    print("exit fractions", np.round(frac, 4).tolist())
    print("expected      ", config["expected"]["exit_fractions"])
    if split == "val":  # the fit split: the figures must be the evaluator's, exactly
        same = abs(acc - config["expected"]["fit_accuracy"]) < 1e-12 and np.allclose(
            frac, config["expected"]["exit_fractions"], rtol=0, atol=1e-12)
        print("matches the evaluator:", "yes" if same else "NO")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
