#!/bin/sh
# Build and run the distance-kernel benchmark, then record the result as the
# "Distance kernels" section of bench/RESULTS.md (replacing an older one).
#
# usage: bench/distance/run.sh [dims [base_vectors]]    (defaults: 384 256)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out"
results="$root/bench/RESULTS.md"
CC=${CC:-cc}

mkdir -p "$out"
make -C "$root" -s src/engine/distance.o
$CC -std=gnu11 -O2 -Wall -Wextra -Werror -I"$root/src/engine" \
	-o "$out/bench_distance" "$here/bench_distance.c" "$root/src/engine/distance.o" -lm

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
table=$("$out/bench_distance" "$@")
printf '%s\n' "$table"

section=$(mktemp)
trap 'rm -f "$section" "$section.new"' EXIT
{
	echo "## Distance kernels"
	echo
	echo "Vectors per CPU-second compared with one query by the kernels of"
	echo "\`src/engine/distance.c\`: portable C against AVX2+FMA (chosen at run time)."
	echo "The base vectors fit in the CPU caches, so this measures the kernels, not memory."
	echo
	echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs"
	echo "- compiler: $($CC --version | head -n 1)"
	echo "- command: \`bench/distance/run.sh${*:+ $*}\`"
	echo "- date: $(date -u +%Y-%m-%d)"
	echo "- load average before the run: $load"
	echo
	printf '%s\n' "$table"
	echo
} > "$section"

[ -f "$results" ] || printf '# Benchmark results\n\n' > "$results"
awk -v sec="$section" '
	BEGIN { while ((getline line < sec) > 0) body = body line "\n" }
	/^## / { skipping = 0 }
	/^## Distance kernels[[:space:]]*$/ { printf "%s", body; skipping = 1; done = 1; next }
	!skipping { print }
	END { if (!done) printf "%s", body }
' "$results" > "$section.new"
mv "$section.new" "$results"
echo "wrote the \"Distance kernels\" section of $results"
