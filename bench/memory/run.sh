#!/bin/bash
# Memory per backend: how much private memory a backend holds after embed(),
# beyond a backend that has loaded the extension but not the model.
#
# usage: bench/memory/run.sh [connections]        (default 20)
#
# Starts a throwaway server (as the postgres user, in a temporary directory,
# Unix socket only) with the installed extension (run `make install` first)
# and an all-MiniLM-L6-v2-shaped random-weight model written by
# make_model.c into a models folder.  For each scenario, `connections`
# sessions run the scenario's statements and then sleep; meanwhile
# /proc/<pid>/smaps_rollup of every backend is read (Rss, Pss, Private_Clean
# + Private_Dirty).  The result replaces the "Memory per backend" section of
# bench/RESULTS.md.
set -eu

n=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
results=${RESULTS:-$root/bench/RESULTS.md}
PG_BIN=/usr/lib/postgresql/15/bin
CC=${CC:-cc}
model=embed-bench-minilm

work=$(mktemp -d /tmp/embed-mem.XXXXXX)
chmod 755 "$work"
port=$((20000 + RANDOM % 10000))
cleanup() {
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

$CC -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-I"$root/src/engine" -I"$root/test/c" -o "$work/make_model" "$here/make_model.c" \
	"$root/src/engine/json.c" -lm
mkdir -p "$work/models"
"$work/make_model" "$work/models/$model"
chmod -R a+rX "$work/models"
chown postgres: "$work"

runuser -u postgres -- "$PG_BIN/initdb" -D "$work/data" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- env OPENBLAS_NUM_THREADS=1 "$PG_BIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
	-o "-k $work -p $port -c listen_addresses='' -c max_connections=$((n + 20)) -c embed.models_path='$work/models'" \
	start >/dev/null

sql() { psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
sql -c "CREATE EXTENSION embed"
# Pin the model and bring the weights into the page cache.
sql -c "SELECT vector_dims(embed('warm up', '$model'))" >/dev/null

long_text="repeat('the quick brown fox ', 60)"		# truncated to the model's 256 tokens
batch="array_fill(repeat('dog ', 40), ARRAY[32])"	# 32 texts of 122 tokens

# name|statements (before the sleep)|what it shows
scenarios=(
	"base|SELECT vector_dims('[1,2,3]'::vector)|extension loaded, no model (the reference)"
	"short|SELECT vector_dims(embed('I love ice cream', '$model'))|one short text (6 tokens)"
	"long|SELECT vector_dims(embed($long_text, '$model'))|one text of 256 tokens"
	"batch|SELECT array_length(embed($batch, '$model'), 1)|embed(text[]) of 32 texts of 122 tokens"
	"threads2|SET embed.threads = 2; SELECT vector_dims(embed($long_text, '$model'))|256 tokens with embed.threads = 2"
)

# Sum of a field of smaps_rollup, in kB.
field() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/smaps_rollup"; }

rows=""
weights_line=""
for entry in "${scenarios[@]}"; do
	IFS='|' read -r name statements about <<<"$entry"
	echo "scenario $name: $n sessions" >&2
	pids_bg=()
	for i in $(seq 1 "$n"); do
		PGAPPNAME="mem-$name-$i" psql -X -q -h "$work" -p "$port" -U postgres -d postgres \
			-c "$statements" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
		pids_bg+=($!)
	done
	for _ in $(seq 1 600); do
		ready=$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'mem-$name-%' AND wait_event = 'PgSleep'")
		[ "$ready" -eq "$n" ] && break
		sleep 0.5
	done
	[ "$ready" -eq "$n" ] || { echo "only $ready of $n sessions of $name got ready" >&2; cat "$work/server.log" >&2; exit 1; }
	pids=$(sql -c "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'mem-$name-%'")
	stats=$(for pid in $pids; do
		echo "$(field Rss $pid) $(field Pss $pid) $(( $(field Private_Clean $pid) + $(field Private_Dirty $pid) ))"
	done | awk '{ r += $1; p += $2; v += $3; if ($3 > max) max = $3; c++ }
		END { printf "%.1f %.1f %.2f %.2f", r / c / 1024, p / c / 1024, v / c / 1024, max / 1024 }')
	read -r rss pss private private_max <<<"$stats"
	if [ -n "${DETAIL:-}" ]; then	# the largest private mappings of one backend
		awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6) " " $1 }
			$1 == "Private_Clean:" || $1 == "Private_Dirty:" { p[name] += $2 }
			END { for (k in p) if (p[k] >= 256) print "  " p[k] " kB " k }' "/proc/$(head -n 1 <<<"$pids")/smaps" |
			sort -k1,1nr -t' ' | head -n 8 >&2
	fi
	[ "$name" = base ] && base_private=$private
	extra=$(awk -v a="$private" -v b="$base_private" 'BEGIN { printf "%.2f", a - b }')
	rows="$rows| $name | $about | $rss | $pss | $private | $private_max | $extra |"$'\n'
	worst_extra=$(awk -v a="$extra" -v b="${worst_extra:-0}" 'BEGIN { print (a > b ? a : b) }')
	if [ "$name" = short ]; then
		pid=$(head -n 1 <<<"$pids")
		weights_line=$(awk -v f="$model/model.safetensors" '
			index($0, f) { inside = 1; next }
			/^[0-9a-f]+-[0-9a-f]+ / { inside = 0 }
			inside && $1 == "Rss:" { rss += $2 } inside && $1 == "Pss:" { pss += $2 }
			inside && ($1 == "Private_Clean:" || $1 == "Private_Dirty:") { priv += $2 }
			END { printf "The weights mapping of one backend: Rss %.1f MB, Pss %.1f MB, private %.2f MB", rss / 1024, pss / 1024, priv / 1024 }' "/proc/$pid/smaps")
	fi
	sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'mem-$name-%'" >/dev/null
	wait "${pids_bg[@]}" 2>/dev/null || true
done

table="| scenario | statements before the measure | Rss (MB) | Pss (MB) | private (MB) | private, largest backend (MB) | private beyond base (MB) |
|---|---|---:|---:|---:|---:|---:|
$rows"
printf '%s\n%s\n' "$table" "$weights_line"

section=$(mktemp)
trap 'rm -f "$section" "$section.new"; cleanup' EXIT
{
	echo "## Memory per backend"
	echo
	echo "Memory of PostgreSQL backends after \`embed()\` with an all-MiniLM-L6-v2-shaped model"
	echo "(random weights, 90.9 MB float32 \`model.safetensors\`, 30522-token vocabulary), $n"
	echo "connections per scenario, all alive at the time of the measure. Values are means over the"
	echo "backends of \`/proc/<pid>/smaps_rollup\`; private = Private_Clean + Private_Dirty. The weights"
	echo "are memory-mapped read-only, so every backend shares one copy through the page cache:"
	echo "they count in Rss and, divided among the backends, in Pss, but not in private memory."
	echo "The server runs with OPENBLAS_NUM_THREADS=1 in its environment, as recommended."
	echo
	echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB"
	echo "- PostgreSQL: $("$PG_BIN/postgres" --version)"
	echo "- command: \`bench/memory/run.sh${1:+ $1}\` (after \`make install\`)"
	echo "- date: $(date -u +%Y-%m-%d)"
	echo
	printf '%s\n' "$table"
	echo "$weights_line."
	echo
	echo "Target: at most 5 MB of private memory per backend beyond the reference:" \
		"$(awk -v w="$worst_extra" 'BEGIN { print (w <= 5 ? "met" : "missed") }') (largest mean $worst_extra MB)."
	echo
} >"$section"

[ -f "$results" ] || printf '# Benchmark results\n\n' >"$results"
awk -v sec="$section" '
	BEGIN { while ((getline line < sec) > 0) body = body line "\n" }
	/^## / { skipping = 0 }
	/^## Memory per backend[[:space:]]*$/ { printf "%s", body; skipping = 1; done = 1; next }
	!skipping { print }
	END { if (!done) printf "%s", body }
' "$results" >"$section.new"
cat "$section.new" >"$results"
echo "wrote the \"Memory per backend\" section of $results" >&2
