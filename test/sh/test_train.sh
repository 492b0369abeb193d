#!/usr/bin/env bash
# The trainer end to end on a tiny generated dataset: the contrastive loss
# falls, a run stopped and resumed from its checkpoint is bit-identical to
# an uninterrupted one, and the exported folder loads with the engine
# (bin/embed-eval) and ranks held-out pairs far above chance.
set -u
cd "$(dirname "$0")/../.."
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }

make -s bin/embed-vocab bin/embed-train bin/embed-eval >/dev/null 2>&1
ok $? "bin/embed-vocab, bin/embed-train and bin/embed-eval build"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/pairs" "$T/vocab"

# Sentences "the ADJ NOUN VERB in the PLACE" paired with a reordered wording that uses a
# synonym for every content word: only a model that has learned the synonyms can match them.
awk -v out="$T" 'BEGIN {
	srand(1);
	na = split("red blue green yellow black white small large", adj, " ");
	split("crimson azure emerald golden dark pale tiny huge", adj2, " ");
	nn = split("cat dog bird horse cow fish goat mouse", noun, " ");
	split("kitten puppy sparrow pony cattle trout ram rat", noun2, " ");
	nv = split("sleeps eats runs jumps sings waits", verb, " ");
	split("rests feeds sprints leaps chirps stays", verb2, " ");
	np = split("garden kitchen forest river city field", place, " ");
	split("yard pantry woods stream town meadow", place2, " ");
	for (i = 0; i < 1400; i++) {
		a = int(rand() * na) + 1; b = int(rand() * nn) + 1;
		v = int(rand() * nv) + 1; p = int(rand() * np) + 1;
		x = "the " adj[a] " " noun[b] " " verb[v] " in the " place[p];
		y = "in the " place2[p] " a " adj2[a] " " noun2[b] " " verb2[v];
		print x > (out "/corpus.txt"); print y > (out "/corpus.txt");
		if (i < 100) print x "\t" y > (out "/pairs/heldout.tsv");
		else if (i % 2) print x "\t" y > (out "/pairs/toy_a.tsv");
		else print y "\t" x > (out "/pairs/toy_b.tsv");
	}
}'
bin/embed-vocab -n 120 -c 1 --config -o "$T/vocab/vocab.txt" "$T/corpus.txt" >"$T/vocab.log" 2>&1
ok $? "a vocabulary is learned from the toy corpus"

train() {
	bin/embed-train --pairs "$T/pairs" --vocab-dir "$T/vocab" --layers 1 --hidden 32 --heads 2 \
		--intermediate 64 --max-positions 32 --export-seq-len 32 --batch 16 --max-len 16 --steps 150 \
		--warmup 10 --lr 3e-3 --log-every 5 --eval-every 75 --checkpoint-every 0 --threads 1 "$@"
}

train --run-dir "$T/run" --export "$T/model" >"$T/train.log" 2>&1
ok $? "embed-train runs 150 steps"
first=$(head -1 "$T/run/train.log" | cut -f2)
last=$(tail -1 "$T/run/train.log" | cut -f2)
awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < 0.5 * f) }'
ok $? "the loss falls by more than half (first $first, last $last)"
awk -F'\t' 'NR == 1 { a = $2 } END { exit !($2 > a + 0.2) }' "$T/run/eval.log"
ok $? "held-out accuracy@1 rises during training ($(head -1 "$T/run/eval.log" | cut -f2) -> $(tail -1 "$T/run/eval.log" | cut -f2))"

train --run-dir "$T/split" --stop-at 70 >"$T/split1.log" 2>&1 &&
	train --run-dir "$T/split" --resume >"$T/split2.log" 2>&1
ok $? "a run stopped at step 70 resumes from its checkpoint"
cmp -s "$T/run/checkpoint.bin" "$T/split/checkpoint.bin"
ok $? "the resumed run ends bit-identical to the uninterrupted one"

train --run-dir "$T/other" --layers 2 --resume >"$T/other.log" 2>&1
[ $? -ne 0 ] && grep -q "no such file\|could not open checkpoint" "$T/other.log"
ok $? "--resume without a checkpoint fails with a message"

for f in config.json model.safetensors vocab.txt tokenizer_config.json special_tokens_map.json \
	modules.json 1_Pooling/config.json sentence_bert_config.json config_sentence_transformers.json; do
	[ -s "$T/model/$f" ] || { echo "# missing $f"; false; } || break
done
ok $? "the exported folder has every sentence-transformers file"

bin/embed-eval --model "$T/model" --heldout "$T/pairs/heldout.tsv" >"$T/eval.txt" 2>&1
acc=$(awk '/^heldout\tall/ { sub("acc@1 ", "", $4); print $4 }' FS='\t' "$T/eval.txt")
awk -v a="${acc:-0}" 'BEGIN { exit !(a > 0.3) }'
ok $? "the engine's embeddings of the exported model retrieve held-out pairs (acc@1 ${acc:-none}, chance 0.01)"

bin/embed-eval --model "$T/model" --triplet "the red cat sleeps in the garden" \
	"in the yard a crimson kitten rests" "the white goat sings in the river" >"$T/triplet.txt" 2>&1
ok $? "a reworded sentence is closer than an unrelated one"

echo "1..$n"
[ "$fails" -eq 0 ]
