#!/usr/bin/python3
"""Interleaved timing of exitplan's `ippp` against Tan et al.'s published Python iPPP (AAAI 2021).

For each aaai21 model (B-AlexNet, S-ResNet-18, MSDNet) and a subset of the 100 budgets of its
upstream sweep, solves one budget with the published code (its own `ippp_start` then `ippp`, timed
as its scripts time them), then the same budget with exitplan (bench_ippp_published --serve, the
paper's settings), alternating which side goes first, so both see the same machine load. Both
answers are scored with the published `val` on the fit split. Prints each solve's time ratio
(published / exitplan; wall and CPU) and whether the results are equal, then per model the median
ratios and counts.

Equal results: iPPP is chaotic at many budgets (a last-bit change in an exp moves the answer by as
much as the published results differ from a rerun of the published code on another NumPy), so
"equal" means within the published results' own noise band: fit accuracy within 0.3 percentage
points and fit cost within 2.5 % of the published answer's. "identical" counts thresholds that
agree to 1e-9.

Usage: /usr/bin/python3 bench/ippp_published.py --published DIR [--data DIR] [--build DIR]
           [--budgets N] [--models alex,scan,msdnet] [--precision single|double]
DIR (--published) is a local copy of the public repository XinruiTan/AAAI21 (only
models/functions/iPPP.py and Val.py are used, unmodified). Skips with a message when it, SciPy
(which it imports) or the data are absent. Not a timed test.
"""

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import time

# One thread for NumPy's BLAS as for exitplan's iPPP (the comparison is per core).
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(0)


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def parse_settings(path):
    """The few keys of paper-settings.yaml the comparison needs (flat YAML lines)."""
    text = open(path).read()

    def grab(key):
        m = re.search(r"^%s:\s*(.*?)\s*(#.*)?$" % key, text, re.M)
        if not m:
            raise SystemExit("%s: no '%s'" % (path, key))
        return m.group(1)

    cost = [float(v) for v in grab("cumulative_cost").strip("[]").split(",")]
    box = [float(v) for v in grab("threshold_box").strip("[]").split(",")]
    params = {}
    for part in grab("ippp_params").strip("{}").split(","):
        k, v = part.split(":")
        params[k.strip()] = float(v)
    return cost, box, params


class Args:
    """The argparse namespace the published functions read."""

    def __init__(self, p):
        self.k, self.beta, self.gamma = p["k"], p["beta"], p["gamma"]
        self.eta, self.mu = p["eta"], p["mu"]
        self.T, self.J = int(p["T"]), int(p["J"])


class Model:
    def __init__(self, avg_b_time):
        self.avg_b_time = avg_b_time
        self.baseline_time = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--published", help="local copy of XinruiTan/AAAI21")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "aaai21"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--budgets", type=int, default=10, help="budgets per model, evenly spaced of 100")
    ap.add_argument("--models", default="alex,scan,msdnet")
    ap.add_argument("--precision", default="single", choices=["single", "double"])
    a = ap.parse_args()
    if not a.published:
        skip("no --published DIR (a local copy of XinruiTan/AAAI21) given")
    ippp_py = os.path.join(a.published, "models", "functions", "iPPP.py")
    val_py = os.path.join(a.published, "models", "functions", "Val.py")
    if not (os.path.isfile(ippp_py) and os.path.isfile(val_py)):
        skip("%s has no models/functions/iPPP.py and Val.py" % a.published)
    try:
        import numpy as np
        import scipy.optimize  # noqa: F401  (the published iPPP imports it)
    except ImportError as e:
        skip("the published code needs NumPy and SciPy (%s)" % e)
    if not os.path.isdir(os.path.join(a.data, "alex")):
        skip("%s absent" % a.data)
    server = os.path.join(a.build, "bench", "bench_ippp_published")
    if not os.access(server, os.X_OK):
        skip("%s not built (cmake --build %s --target bench_ippp_published)" % (server, a.build))
    ippp_mod = load_module(ippp_py, "published_ippp")
    val = load_module(val_py, "published_val").val
    proc = subprocess.Popen([server, "--serve", "--data", a.data], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)

    def ours(name, budget):
        proc.stdin.write("%s %r %s\n" % (name, budget, a.precision))
        proc.stdin.flush()
        reply = proc.stdout.readline().split()
        if not reply or reply[0] != "ok":
            raise SystemExit("bench_ippp_published: %s" % " ".join(reply))
        return float(reply[1]), float(reply[2]), [float(v) for v in reply[5].split(",")]

    print("ippp vs the published iPPP (Tan et al., AAAI 2021), paper settings, exitplan precision "
          "%s, %d budgets per model, interleaved" % (a.precision, a.budgets))
    print("%-7s %3s %14s %10s %10s %8s %8s %9s %9s  %s" % (
        "model", "i", "budget", "pub_s", "ours_s", "wall_x", "cpu_x", "d_acc_pp", "d_cost_%",
        "result"))
    summary = []
    for name in a.models.split(","):
        d = os.path.join(a.data, name)
        cost, box, params = parse_settings(os.path.join(d, "paper-settings.yaml"))
        cor = np.load(os.path.join(d, "val_correct.npy"))
        cfd = np.load(os.path.join(d, "val_confidence.npy"))
        key = {"alex": "Alex", "scan": "Scan", "msdnet": "MSD"}[name]
        budgets = np.load(os.path.join(d, "reference", key + "_ippp_train_acc.npy"))[:, 0]
        box_bound = box[1] if box[1] > 0 else box[0]  # the scripts' +1.0 / -1.0
        args, model = Args(params), Model(cost)
        n = max(1, min(a.budgets, len(budgets)))
        picks = sorted({int(round(i * (len(budgets) - 1) / max(1, n - 1))) for i in range(n)})
        wall_x, cpu_x, equal, same = [], [], 0, 0
        for j, i in enumerate(picks):
            b = float(budgets[i])

            def published():
                w0, c0 = time.perf_counter(), time.process_time()
                t = ippp_mod.ippp_start(model, cor, cfd, b, box_bound, args)
                t = ippp_mod.ippp(model, cor, cfd, t, b, box_bound, args)
                return time.perf_counter() - w0, time.process_time() - c0, list(t)

            if j % 2 == 0:
                pw, pc, pt = published()
                ow, oc, ot = ours(name, b)
            else:
                ow, oc, ot = ours(name, b)
                pw, pc, pt = published()
            pa, pcost = val(pt, cor, cfd, cost)
            oa, ocost = val(ot, cor, cfd, cost)
            dacc, dcost = 100 * (oa - pa), 100 * (ocost - pcost) / pcost
            ok = abs(dacc) <= 0.3 and abs(dcost) <= 2.5
            ident = all(abs(x - y) <= 1e-9 for x, y in zip(pt, ot))
            equal += ok
            same += ident
            wall_x.append(pw / ow)
            cpu_x.append(pc / oc if oc > 0 else float("inf"))
            print("%-7s %3d %14.8g %10.4f %10.5f %8.1f %8.1f %+9.3f %+9.3f  %s" % (
                name, i, b, pw, ow, pw / ow, cpu_x[-1], dacc, dcost,
                "identical" if ident else "equal" if ok else "DIFFERENT"))
            sys.stdout.flush()
        summary.append((name, statistics.median(wall_x), statistics.median(cpu_x), min(wall_x),
                        equal, same, len(picks)))
    proc.stdin.close()
    proc.wait()
    print("per model: median ratio published/exitplan (wall, CPU), lowest wall ratio, results "
          "equal / identical of solves")
    for name, mw, mc, lo, eq, same, n in summary:
        print("  %-7s wall %7.1fx  cpu %7.1fx  lowest %7.1fx  equal %d/%d  identical %d/%d" % (
            name, mw, mc, lo, eq, n, same, n))


if __name__ == "__main__":
    main()
