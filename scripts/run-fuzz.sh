#!/usr/bin/env bash
# Runs every libFuzzer target of <build>/fuzz concurrently for <seconds> each (under nice), with a
# seed corpus from the project's data: the committed seeds in tests/fuzz/corpus/<target>/, the
# example profiles and sweep files, and the manifest, cell and report files of a small sweep run
# with the fuzz build's own exitplan. Corpora, logs and any crash inputs go to <out>/<target>/.
# Prints executions and findings per target; exits 1 when any target found something.
#   scripts/run-fuzz.sh <build> <seconds> <out> [rss_limit_mb]
# FUZZ_TARGETS="fuzz_sweep fuzz_csv" runs only those targets (default: every one, concurrently).
set -uo pipefail
build=$(cd "${1:?build dir}" && pwd)
seconds=${2:?seconds}
out=${3:?output dir}
rss=${4:-2048}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

seeds() {  # seeds <target> <dir>
  local t=$1 d=$2
  mkdir -p "$d"
  [ -d "$src/tests/fuzz/corpus/$t" ] && cp "$src/tests/fuzz/corpus/$t"/* "$d"/ 2>/dev/null
  case $t in
    fuzz_profile)
      cp "$src"/data/example/*.yaml "$d"/
      cp "$src"/tests/fixtures/*.yaml "$d"/ ;;
    fuzz_sweep)
      cp "$src"/data/examples/*.yaml "$d"/
      cp "$src"/tests/fixtures/issue6/*.yaml "$d"/ ;;
    fuzz_csv)
      find "$out/seed-sweep" -name '*.csv' -size -64k -exec cp {} "$d"/ \; 2>/dev/null ;;
    fuzz_manifest)
      cp "$out/seed-sweep/manifest.yaml" "$d"/ 2>/dev/null
      find "$out/seed-sweep/cells" -name '*.csv' 2>/dev/null | head -20 | xargs -r cp -t "$d"/ ;;
  esac
  true
}

# A small real sweep gives the CSV and manifest seeds.
if [ ! -f "$out/seed-sweep/manifest.yaml" ]; then
  rm -rf "$out/seed-sweep"
  nice -n 15 "$build/exitplan" sweep "$src/tests/fixtures/issue6/small.yaml" -o "$out/seed-sweep" \
    --jobs 1 >"$out/seed-sweep.log" 2>&1 || echo "note: the seed sweep failed (see $out/seed-sweep.log)"
fi

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for t in $FUZZ_TARGETS; do
    [ -x "$build/fuzz/$t" ] || { echo "no fuzz target $t in $build/fuzz"; exit 1; }
    targets+=("$t")
  done
else
  for f in "$build"/fuzz/fuzz_*; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets in $build/fuzz"; exit 1; }
pids=()
for t in "${targets[@]}"; do
  d="$out/$t"
  mkdir -p "$d/corpus" "$d/artifacts"
  seeds "$t" "$d/seeds"
  # ASan/UBSan stop at the first error; a leak is a finding too.
  (cd "$d" && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 nice -n 15 "$build/fuzz/$t" \
      -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout=30 -print_final_stats=1 \
      -artifact_prefix="$d/artifacts/" "$d/corpus" "$d/seeds" >"$d/log.txt" 2>&1) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

status=0
printf '%-16s %14s %8s %10s  %s\n' target executions corpus seconds findings
for t in "${targets[@]}"; do
  d="$out/$t"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$d/log.txt" | tail -1 | awk '{print $2}')
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$d/log.txt" | tail -1 | awk '{print $5}')
  corpus=$(ls "$d/corpus" | wc -l)
  findings=$(ls "$d/artifacts" | wc -l)
  printf '%-16s %14s %8s %10s  %s\n' "$t" "${execs:-?}" "$corpus" "${secs:-?}" "$findings"
  if [ "$findings" -gt 0 ]; then
    status=1
    ls "$d/artifacts" | sed "s|^|    $d/artifacts/|"
  fi
done
exit $status
