#!/usr/bin/env bash
# `make run`: the worked example on the project's own data (data/example): a look at the dump, one
# policy evaluated by hand, then the example sweep (data/examples/sweep.yaml) with its reports,
# plots and deployment configs, and one config exported from a report.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
ex=data/example
echo "== exitplan inspect --dump $ex"
"$build"/exitplan inspect --dump "$ex"
echo
echo "== exitplan evaluate --dump $ex --profile $ex/profile.yaml --target cpu-1thread --measure max_prob --thresholds 0.9,0.9,0.9,0.9,0.9"
"$build"/exitplan evaluate --dump "$ex" --profile "$ex/profile.yaml" --target cpu-1thread \
  --measure max_prob --thresholds 0.9,0.9,0.9,0.9,0.9
echo
echo "== exitplan sweep data/examples/sweep.yaml"
status=0
"$build"/exitplan sweep data/examples/sweep.yaml || status=$?
# 3 = some cells failed (recorded in the reports); anything else non-zero is a real error.
if [ "$status" != 0 ] && [ "$status" != 3 ]; then exit "$status"; fi
out=out/example
report=$out/reports/fmnist-cnn__cpu-1thread.csv
echo
# The exact method's row at 0.1231 ms (the 5th of the sweep's 20 budgets, 36.8% of the full cost).
budget=0.1231263157894737
echo "== exitplan export --from $report --budget $budget --method exact --format both -o $out/configs/cpu-1thread_exact.json"
"$build"/exitplan export --from "$report" --budget "$budget" --method exact --format both \
  -o "$out/configs/cpu-1thread_exact.json"
echo
echo "== $out/summary.md (first table)"
awk '/^## /{n++} n==1 && !/^Pareto/' "$out/summary.md"
echo
echo "reports (Pareto CSV + SVG plot per model/target): $out/reports/"
ls "$out/reports/"
echo "summary: $out/summary.md"
echo "configs (YAML + JSON per Pareto-front row): $out/configs/ ($(find "$out/configs" -name '*.json' | wc -l) JSON files)"
if [ "$status" = 3 ]; then echo "note: some cells failed; see $out/summary.md"; fi
