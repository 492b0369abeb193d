#!/bin/sh
# Build and run the transformer-engine benchmark, then record the result as
# the "Transformer engine" section of bench/RESULTS.md (replacing an older one).
#
# usage: bench/engine/run.sh [threads [seconds_per_case]]    (defaults: 1 2)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out"
results="$root/bench/RESULTS.md"
CC=${CC:-cc}
engine="bert kernels model safetensors sha256 json"

mkdir -p "$out"
srcs=""
for f in $engine; do srcs="$srcs $root/src/engine/$f.c"; done
# Same optimisation level as the extension build (PGXS: -O2, no -march).
$CC -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-I"$root/src/engine" -I"$root/test/c" $(pkg-config --cflags openblas) \
	-o "$out/bench_engine" "$here/bench_engine.c" $srcs $(pkg-config --libs openblas) -lm -lpthread

report=$("$out/bench_engine" "$@")
printf '%s\n' "$report"

section=$(mktemp)
trap 'rm -f "$section" "$section.new"' EXIT
{
	echo "## Transformer engine"
	echo
	echo "BERT forward pass of \`src/engine/bert.c\` on the all-MiniLM-L6-v2 shape"
	echo "(6 layers, 384 hidden, 12 heads, 1536 FFN; random weights, float32, OpenBLAS sgemm)."
	echo "Tokens/s counts real tokens; GFLOP/s counts the matrix products and attention."
	echo "The sgemm peak is measured in the same process with the same thread count."
	echo "Every figure is the best of the runs made in the time given to each case."
	echo
	echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs"
	echo "- compiler: $($CC --version | head -n 1), -O2"
	echo "- command: \`bench/engine/run.sh${*:+ $*}\`"
	echo "- date: $(date -u +%Y-%m-%d)"
	echo
	printf '%s\n' "$report"
	echo
} > "$section"

[ -f "$results" ] || printf '# Benchmark results\n\n' > "$results"
awk -v sec="$section" '
	BEGIN { while ((getline line < sec) > 0) body = body line "\n" }
	/^## / { skipping = 0 }
	/^## Transformer engine[[:space:]]*$/ { printf "%s", body; skipping = 1; done = 1; next }
	!skipping { print }
	END { if (!done) printf "%s", body }
' "$results" > "$section.new"
cat "$section.new" > "$results"
echo "wrote the \"Transformer engine\" section of $results"
