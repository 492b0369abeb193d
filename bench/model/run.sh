#!/usr/bin/env bash
# Evaluate a model folder with the engine (bin/embed-eval): held-out
# retrieval per source, the hand-written similarity set, a sanity triplet
# and the latency of one short sentence on one core.  Markdown on stdout.
#
#   bench/model/run.sh [MODEL_DIR] [DATA_DIR]
#   (defaults: weights/embed-small-en and $EMBED_DATA_DIR or /var/tmp/embed-data)
set -eu
cd "$(dirname "$0")/../.."
model=${1:-weights/embed-small-en}
data=${2:-${EMBED_DATA_DIR:-/var/tmp/embed-data}}
make -s bin/embed-eval >/dev/null
echo "- model: \`$model\` ($(du -sh --apparent-size "$model" | cut -f1), sha256 of model.safetensors $(sha256sum "$model/model.safetensors" | cut -c1-16)…)"
echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- command: \`bench/model/run.sh $model $data\`"
echo "- date: $(date -u +%Y-%m-%d)"
echo
if [ -f "$data/pairs/heldout.tsv" ]; then
	OPENBLAS_NUM_THREADS=1 bin/embed-eval --model "$model" --markdown \
		--heldout "$data/pairs/heldout.tsv" --heldout-sources "$data/heldout_sources.txt"
	echo
fi
echo "| set | Spearman | Pearson |"
echo "|---|---:|---:|"
OPENBLAS_NUM_THREADS=1 bin/embed-eval --model "$model" --markdown --similarity bench/model/similarity.tsv |
	sed 's/| Spearman \([0-9.-]*\) | Pearson \([0-9.-]*\) |/| \1 | \2 |/'
echo
echo '```'
echo 'A = "I love ice cream", B = "I enjoy eating ice cream", C = "The stock market fell sharply"'
OPENBLAS_NUM_THREADS=1 bin/embed-eval --model "$model" --triplet "I love ice cream" \
	"I enjoy eating ice cream" "The stock market fell sharply" || true
OPENBLAS_NUM_THREADS=1 bin/embed-eval --model "$model" --latency 200
echo '```'
