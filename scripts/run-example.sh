#!/usr/bin/env bash
# `make run`: the worked example on the project's own data (data/example).
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
