#!/bin/bash
# Transformer-engine benchmark: the engine alone (1 and 2 threads), then side
# by side with ONNX Runtime (onnxruntime-node) and PyTorch eager on the same
# model, the same token ids and the same thread counts; records the result as
# the "Transformer engine" section of bench/RESULTS.md (replacing an older one).
#
# usage: [ROUNDS=2] bench/engine/run.sh [seconds_per_case]        (default 2)
#
# Needs: cc, OpenBLAS; for the peers, node + npm (onnxruntime-node is
# installed into bench/engine/peers/node_modules on first use) and Debian's
# python3-torch.  A peer that cannot run is reported as missing.
set -eu

seconds=${1:-2}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out"
results=${RESULTS:-$root/bench/RESULTS.md}
peers="$here/peers"
CC=${CC:-cc}
engine="forward bert gpt2 steps kernels model safetensors sha256 json threadpool"
cases="8x1 16x1 16x32 128x1 128x32 256x1 256x32"
python=/usr/bin/python3

mkdir -p "$out"
srcs=""
for f in $engine; do srcs="$srcs $root/src/engine/$f.c"; done
# Same optimisation level as the extension build (PGXS: -O2, no -march).
$CC -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-I"$root/src/engine" -I"$root/test/c" $(pkg-config --cflags openblas) \
	-o "$out/bench_engine" "$here/bench_engine.c" $srcs $(pkg-config --libs openblas) -lm -lpthread
$CC -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-I"$root/src/engine" $(pkg-config --cflags openblas) \
	-o "$out/bench_linear" "$here/bench_linear.c" "$root/src/engine/kernels.c" $(pkg-config --libs openblas) -lm

has_avx512=no
grep -qw avx512f /proc/cpuinfo && has_avx512=yes
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
raw=$(mktemp)
section=$(mktemp)

# Everything runs in ROUNDS rounds and each figure is the best over the
# rounds, so that every implementation gets several chances at a quiet
# machine.
rounds=${ROUNDS:-2}
tabdir=$(mktemp -d)
trap 'rm -rf "$raw" "$section" "$section.new" "$tabdir"' EXIT
ort_version=missing
if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d "$peers/node_modules/onnxruntime-node" ]; then
		(cd "$peers" && npm install --ignore-scripts --no-audit --no-fund >&2) || true
	fi
	if [ -d "$peers/node_modules/onnxruntime-node" ]; then
		ort_version=$(node -p "require('$peers/node_modules/onnxruntime-node/package.json').version")
	fi
fi
torch_version=missing
onnx="$out/minilm-random.onnx"
if $python -c 'import torch' 2>/dev/null; then
	torch_version=$($python -c 'import torch; print(torch.__version__)')
	if [ ! -f "$onnx" ] || [ "$peers/bert_peers.py" -nt "$onnx" ]; then
		$python "$peers/bert_peers.py" export "$onnx" >&2
	fi
fi
[ -f "$onnx" ] || ort_version=missing

for round in $(seq 1 "$rounds"); do
	for t in 1 2; do
		# 1. The engine alone: detailed table.
		echo "round $round, $t thread(s): engine table" >&2
		"$out/bench_engine" $t "$seconds" >"$tabdir/table-$t-$round"
		# 2. Side by side: the engine with OpenBLAS's own kernel choice and,
		# on AVX-512 CPUs, with OPENBLAS_CORETYPE=SkylakeX (AVX-512 kernels).
		echo "round $round, $t thread(s): engine" >&2
		"$out/bench_engine" $t "$seconds" $cases >>"$raw"
		if [ $has_avx512 = yes ]; then
			OPENBLAS_CORETYPE=SkylakeX "$out/bench_engine" $t "$seconds" $cases |
				sed 's/^RESULT engine /RESULT engine512 /' >>"$raw"
		fi
		if [ "$ort_version" != missing ]; then
			echo "round $round, $t thread(s): ONNX Runtime" >&2
			(cd "$peers" && node ort_bench.mjs "$onnx" $t "$seconds" $cases) >>"$raw"
		fi
		if [ "$torch_version" != missing ]; then
			echo "round $round, $t thread(s): PyTorch" >&2
			# Passive OpenMP waits: active spinning collapses on a shared machine.
			OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE \
				$python "$peers/bert_peers.py" bench $t "$seconds" $cases >>"$raw"
		fi
	done
done
echo "products with few rows" >&2
linear=$("$out/bench_linear" "$seconds")
# GPT-2-small beside MiniLM: the engine alone, best of the rounds per row.
for round in $(seq 1 "$rounds"); do
	for t in 1 2; do
		echo "round $round, $t thread(s): GPT-2-small" >&2
		MODEL=gpt2-small "$out/bench_engine" $t "$seconds" >"$tabdir/gpt2-$t-$round"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The engine's tables: per row the best round; the peak is the highest
# measured, and each row's share of it is recomputed.
best_tables() {
	awk '
		/^OpenBLAS/ { match($0, /at once\): [0-9.]+/); p = substr($0, RSTART + 10, RLENGTH - 10) + 0
			if (p > peak) { peak = p; info = $0 } next }
		/^model:/ { model = $0; next }
		/^\| [0-9]/ { split($0, f, "|"); key = f[2] "|" f[3]
			if (!(key in row)) order[n++] = key
			if (!(key in row) || f[5] + 0 > rate[key]) { rate[key] = f[5] + 0; row[key] = $0 } next }
		/^\|/ && !header2 { if (header1) header2 = $0; else header1 = $0 }
		END {
			sub(/at once\): [0-9.]+/, sprintf("at once): %.1f", peak), info)
			print model; print info; print ""; print header1; print header2
			for (i = 0; i < n; i++) {
				split(row[order[i]], f, "|")
				line = "|"
				for (j = 2; j < length(f) - 1; j++) line = line f[j] "|"
				printf "%s %.0f%% |\n", line, 100 * f[9] / peak
			}
		}' "$@"
}
tables=""
gpt2_tables=""
for t in 1 2; do
	tables="$tables$(best_tables "$tabdir"/table-$t-*)"$'\n\n'
	gpt2_tables="$gpt2_tables$(best_tables "$tabdir"/gpt2-$t-*)"$'\n\n'
done

# 3. The comparison tables, from the RESULT lines.
compare=$(awk -v avx512=$has_avx512 '
	function flops(len, batch) {	# as embed_forward_flops: 6 layers, 384 hidden, 1536 FFN
		return 6 * batch * (len * (8 * 384 * 384 + 4 * 384 * 1536) + 4 * len * len * 384)
	}
	function cell(impl, key) { return (impl SUBSEP key) in best ? sprintf("%.0f", tok[impl, key]) : "-" }
	$1 == "RESULT" {
		key = $3 SUBSEP $4 SUBSEP $5
		if (!(($2, key) in best) || $6 < best[$2, key]) { best[$2, key] = $6; tok[$2, key] = $4 * $5 / $6 }
		if (!(($2, key) in median) || $7 < median[$2, key]) median[$2, key] = $7
		if ($2 == "engine" && $9 > peak[key]) peak[key] = $9
		if (!(key in seen)) { seen[key] = 1; order[n++] = key }
	}
	END {
		print "Throughput (real tokens per second, best run; sentences/s = tokens/s / length):"
		print ""
		printf "| threads | length | batch | engine | %sONNX Runtime | PyTorch | engine / ORT | engine sentences/s | ORT sentences/s | engine GFLOP/s (of sgemm peak) | ORT GFLOP/s |\n", (avx512 == "yes" ? "engine, AVX-512 OpenBLAS kernel | " : "")
		printf "|---:|---:|---:|---:|%s---:|---:|---:|---:|---:|---:|---:|\n", (avx512 == "yes" ? "---:|" : "")
		for (i = 0; i < n; i++) {
			split(order[i], k, SUBSEP)
			if (k[3] == 1 && k[2] == 8) continue
			key = order[i]
			ratio = ((("ort" SUBSEP key) in best) ? sprintf("%.2f", tok["engine", key] / tok["ort", key]) : "-")
			ortsent = ((("ort" SUBSEP key) in best) ? sprintf("%.1f", k[3] / best["ort", key]) : "-")
			ortgf = ((("ort" SUBSEP key) in best) ? sprintf("%.0f", flops(k[2], k[3]) / best["ort", key] / 1e9) : "-")
			gf = flops(k[2], k[3]) / best["engine", key] / 1e9
			printf "| %d | %d | %d | %s | %s%s | %s | %s | %.1f | %s | %.0f (%.0f%%) | %s |\n", k[1], k[2], k[3],
				cell("engine", key), (avx512 == "yes" ? cell("engine512", key) " | " : ""), cell("ort", key), cell("torch", key),
				ratio, k[3] / best["engine", key], ortsent, gf, 100 * gf / peak[key], ortgf
		}
		print ""
		print "Latency of one short query (8 tokens, batch 1), milliseconds, median (best):"
		print ""
		printf "| threads | engine | %sONNX Runtime | PyTorch |\n", (avx512 == "yes" ? "engine, AVX-512 OpenBLAS kernel | " : "")
		printf "|---:|---:|%s---:|---:|\n", (avx512 == "yes" ? "---:|" : "")
		for (t = 1; t <= 2; t++) {
			key = t SUBSEP 8 SUBSEP 1
			line = sprintf("| %d", t)
			split("engine engine512 ort torch", impls, " ")
			for (j = 1; j <= 4; j++) {
				if (impls[j] == "engine512" && avx512 != "yes") continue
				if ((impls[j] SUBSEP key) in best)
					line = line sprintf(" | %.2f (%.2f)", median[impls[j], key] * 1e3, best[impls[j], key] * 1e3)
				else
					line = line " | -"
			}
			print line " |"
		}
		print ""
		print "Targets (same thread count):"
		print ""
		for (t = 1; t <= 2; t++) {
			worst = 1e9; worst512 = 1e9; low = 1e9
			for (i = 0; i < n; i++) {
				split(order[i], k, SUBSEP)
				if (k[1] != t || k[3] != 32) continue
				if (("ort" SUBSEP order[i]) in best) {
					r = tok["engine", order[i]] / tok["ort", order[i]]; if (r < worst) worst = r
					if (("engine512" SUBSEP order[i]) in best) {
						r = tok["engine512", order[i]] / tok["ort", order[i]]; if (r < worst512) worst512 = r
					}
				}
				p = 100 * flops(k[2], k[3]) / best["engine", order[i]] / 1e9 / peak[order[i]]
				if (p < low) low = p
			}
			key = t SUBSEP 8 SUBSEP 1
			if (worst < 1e9)
				printf "- %d thread(s), batch 32, at least ONNX Runtime'"'"'s throughput: %s (engine / ORT >= %.2f%s)\n", t,
					(worst >= 1 ? "met" : "missed"), worst,
					(worst512 < 1e9 ? sprintf("; with the AVX-512 OpenBLAS kernel >= %.2f", worst512) : "")
			if ((("ort" SUBSEP key) in median) && (("engine" SUBSEP key) in median))
				printf "- %d thread(s), short query, lower latency than ONNX Runtime: %s (median %.2f ms vs %.2f ms%s)\n", t,
					(median["engine", key] < median["ort", key] ? "met" : "missed"), median["engine", key] * 1e3,
					median["ort", key] * 1e3,
					((("engine512" SUBSEP key) in median) ? sprintf("; AVX-512 OpenBLAS kernel %.2f ms", median["engine512", key] * 1e3) : "")
			printf "- %d thread(s), batch 32, at least 60%% of the sgemm peak: %s (lowest %.0f%%)\n", t, (low >= 60 ? "met" : "missed"), low
		}
	}' "$raw")
printf '%s\n' "$compare"

{
	echo "## Transformer engine"
	echo
	echo "BERT forward pass of \`src/engine/bert.c\` on the all-MiniLM-L6-v2 shape"
	echo "(6 layers, 384 hidden, 12 heads, 1536 FFN; random weights, float32) against ONNX Runtime"
	echo "and PyTorch eager running the same model (same weights, same token ids, no padding)."
	echo "The engine runs its matrix products on OpenBLAS, single-threaded (products of up to 64 rows on"
	echo "its own AVX2 kernel: see \"Products with few rows\"), and spreads each step over its own thread pool"
	echo "(results are bit-identical whatever the thread count). Tokens/s counts real tokens;"
	echo "GFLOP/s counts the matrix products and attention (\`embed_forward_flops\`); the sgemm peak is"
	echo "that many single-threaded 1024x1024x1024 sgemms running at once, one per engine thread."
	echo "Every throughput figure is the best of the runs made in ${seconds} s per case (side by side: best"
	echo "over $rounds rounds that alternate the implementations); the machine is shared."
	echo
	echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, AVX2+FMA$([ $has_avx512 = yes ] && echo ', AVX-512')"
	echo "- compiler: $($CC --version | head -n 1), -O2"
	echo "- OpenBLAS: $(grep -o 'OpenBLAS [0-9][0-9.]*' <<<"$tables" | head -n 1) (kernel chosen at run time: $(sed -n 's/.*(kernel \([A-Za-z0-9]*\)).*/\1/p' <<<"$tables" | head -n 1))"
	echo "- ONNX Runtime: onnxruntime-node $ort_version (model exported by \`bench/engine/peers/bert_peers.py\`, opset 17; intra-op threads = threads, all graph optimisations)"
	echo "- PyTorch: $torch_version (Debian python3-torch, eager, \`torch.inference_mode\`, \`torch.set_num_threads\`; OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads, OMP_WAIT_POLICY=PASSIVE)"
	echo "- command: \`bench/engine/run.sh${1:+ $1}\`"
	echo "- date: $(date -u +%Y-%m-%d)"
	echo "- load average before / after: $load_before / $load_after"
	echo
	echo "### The engine alone"
	echo
	printf '%s' "$tables"
	echo "### GPT-2-small beside MiniLM"
	echo
	echo "The GPT-2 decoder of \`src/engine/gpt2.c\` (pre-LayerNorm, causal attention, Conv1D weights"
	echo "used as stored) on the GPT-2-small shape (12 layers, 768 hidden, 12 heads, 3072 MLP, 50,257"
	echo "tokens; random weights), measured like the tables above (\`MODEL=gpt2-small bench_engine\`)."
	echo "GFLOP/s counts the same products; causal attention is counted whole, as it is computed."
	echo
	printf '%s' "$gpt2_tables"
	echo "### Products with few rows"
	echo
	echo "A short query is a product of a few token rows with each weight matrix. There OpenBLAS spends"
	echo "much of its time packing the weights, which are used once per call; the engine computes"
	echo "products of up to 64 rows with its own AVX2 kernel instead (\`bench/engine/bench_linear.c\`,"
	echo "one thread, weights cycled through 48 MB so that they come from memory as in a forward pass)."
	echo
	printf '%s\n\n' "$linear"
	echo "### Side by side"
	echo
	printf '%s\n' "$compare"
	echo
	kernel=$(sed -n 's/.*(kernel \([A-Za-z0-9]*\)).*/\1/p' <<<"$tables" | head -n 1)
	if [ $has_avx512 = yes ] && [ "$kernel" != SkylakeX ] && [ "$kernel" != Cooperlake ] && [ "$kernel" != SapphireRapids ]; then
		echo "This CPU has AVX-512, which ONNX Runtime uses (its sgemm then has twice the AVX2 peak)."
		echo "This OpenBLAS does not recognise the CPU and runs its $kernel (AVX2) kernels; the column"
		echo "\"engine, AVX-512 OpenBLAS kernel\" is the same engine with OPENBLAS_CORETYPE=SkylakeX in the"
		echo "environment (for a server: in the environment of the postmaster). Results stay bit-identical"
		echo "across thread counts with either kernel, but differ in the last bits between the two kernels."
		echo
	fi
} >"$section"

[ -f "$results" ] || printf '# Benchmark results\n\n' >"$results"
awk -v sec="$section" '
	BEGIN { while ((getline line < sec) > 0) body = body line "\n" }
	/^## / { skipping = 0 }
	/^## Transformer engine[[:space:]]*$/ { printf "%s", body; skipping = 1; done = 1; next }
	!skipping { print }
	END { if (!done) printf "%s", body }
' "$results" >"$section.new"
cat "$section.new" >"$results"
echo "wrote the \"Transformer engine\" section of $results" >&2
