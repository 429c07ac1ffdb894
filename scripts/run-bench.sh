#!/usr/bin/env bash
# Runs every benchmark built under <build>/bench and prints their figures. The benchmarks run in
# <build>, so files they write (bench_aaai21's side-by-side CSV) land there, not in the sources.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  (cd "$build" && "$b")
done
