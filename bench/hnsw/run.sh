#!/usr/bin/env bash
# HNSW benchmark: build time, index size, and the recall@10 / queries-per-
# second curve over hnsw.ef_search (1 and 2 pgbench clients), next to the
# exact scan of the same queries (pgbench, prepared statements).
#
#   bench/hnsw/run.sh [ROWS]        (default 100000; needs `make install` first)
#
# Data: ROWS seeded, clustered, normalised 384-dimension vectors with a low
# intrinsic dimension, as sentence embeddings have (200 topics of varying
# spread in a 24-dimension latent space, mapped to 384 dimensions, plus a
# little noise), 100 queries drawn from the same topics, cosine distance (vector_cosine_ops, m = 16,
# ef_construction = 64).  Ground truth is an exact scan.  A throwaway
# server is started in a temporary directory on a random port.  Results go
# to stdout and bench/out/hnsw-ROWS.md.
#
# Environment: DURATION (seconds per pgbench run, default 10),
# EF_SEARCH (default "10 20 40 80 160"), KEEP=1 keeps the server's directory.
set -euo pipefail

ROWS=${1:-100000}
DIM=384
QUERIES=100
DURATION=${DURATION:-10}
EF_SEARCH=${EF_SEARCH:-"10 20 40 80 160"}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=$TOP/bench/out
mkdir -p "$OUT"
REPORT=$OUT/hnsw-$ROWS.md
PGBIN=$(pg_config --bindir)

WORK=$(mktemp -d /tmp/embed-bench-hnsw.XXXXXX)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$WORK"
	AS=(runuser -u postgres --)
fi
PORT=$((20000 + RANDOM % 10000))
export PGHOST=$WORK PGPORT=$PORT PGDATABASE=postgres PGUSER=postgres

cleanup() {
	"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
	[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w start -o "-k $WORK -p $PORT \
	-c listen_addresses='' -c shared_buffers=4GB -c maintenance_work_mem=4GB -c work_mem=64MB \
	-c max_parallel_workers_per_gather=2 -c max_wal_size=8GB -c checkpoint_timeout=30min \
	-c synchronous_commit=off -c jit=off" >/dev/null

psql() { "${AS[@]}" env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { print a - b }'; }
calc() { awk "BEGIN { print $1 }"; }

echo "== data: $ROWS x $DIM (clustered, low rank, normalised), $QUERIES queries" >&2
t0=$(now)
psql <<SQL
CREATE EXTENSION embed;
SELECT setseed(0.42);
-- a 24-dimension latent space mapped to $DIM dimensions, 200 topics of
-- varying spread in it, plus a little isotropic noise
CREATE TABLE basis AS
	SELECT k, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $DIM) WHERE k > 0)::vector AS w
	FROM generate_series(1, 24) k;
CREATE TABLE topics AS
	SELECT t, 0.2 + 0.6 * random() AS spread,
	       ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 24) WHERE t >= 0) AS z
	FROM generate_series(0, 199) t;
CREATE FUNCTION sample(topic int, seq int) RETURNS vector LANGUAGE sql AS \$\$
	SELECT l2_normalize(
		(SELECT sum(b.w * array_fill((tp.z[b.k] + tp.spread * (random() * 2 - 1))::real, ARRAY[$DIM])::vector)
		 FROM basis b, topics tp WHERE tp.t = topic AND seq > 0)
		+ ARRAY(SELECT (0.1 * (random() * 2 - 1))::real FROM generate_series(1, $DIM) WHERE seq > 0)::vector)
\$\$;
CREATE TABLE items (id int PRIMARY KEY, v vector($DIM));
INSERT INTO items SELECT i, sample(((i::bigint * 7919) % 200)::int, i) FROM generate_series(1, $ROWS) i;
CREATE TABLE queries (qid int PRIMARY KEY, v vector($DIM));
INSERT INTO queries SELECT q, sample((q * 104729) % 200, q) FROM generate_series(1, $QUERIES) q;
VACUUM ANALYZE items;
VACUUM ANALYZE queries;
SQL
echo "   $(elapsed "$t0") s" >&2

echo "== exact top-10 of every query (ground truth)" >&2
t0=$(now)
psql <<'SQL'
CREATE TABLE truth AS
SELECT q.qid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v <=> q.v LIMIT 10) s) AS ids
FROM queries q;
SQL
EXACT_MS=$(calc "($(now) - $t0) * 1000 / $QUERIES")
echo "   $(printf %.1f "$EXACT_MS") ms per query" >&2

INDEX_DDL="CREATE INDEX items_hnsw ON items USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
echo "== build, one process" >&2
t0=$(now)
psql -c "SET max_parallel_maintenance_workers = 0" -c "$INDEX_DDL"
SERIAL_S=$(elapsed "$t0")
echo "   $(printf %.1f "$SERIAL_S") s" >&2
psql -c "DROP INDEX items_hnsw" -c "CHECKPOINT"
echo "== build, parallel (max_parallel_maintenance_workers = 2)" >&2
t0=$(now)
psql -c "SET max_parallel_maintenance_workers = 2" -c "$INDEX_DDL"
BUILD_S=$(elapsed "$t0")
psql -c "CHECKPOINT"
SIZE=$(psql -At -c "SELECT pg_size_pretty(pg_relation_size('items_hnsw'))")
TABLE_SIZE=$(psql -At -c "SELECT pg_size_pretty(pg_table_size('items'))")
echo "   $(printf %.1f "$BUILD_S") s, $SIZE" >&2
psql -At -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> (SELECT v FROM queries WHERE qid = 1) LIMIT 10" |
	grep -q "Index Scan using items_hnsw" || { echo "the benchmark query does not use the index" >&2; exit 1; }
psql <<'SQL'
CREATE FUNCTION recall() RETURNS numeric LANGUAGE sql AS $$
	SELECT avg((SELECT count(*) FROM unnest(a.ids) i WHERE i = ANY (t.ids)) / 10.0)
	FROM truth t, LATERAL (SELECT array_agg(id) AS ids FROM
		(SELECT id FROM items ORDER BY v <=> (SELECT v FROM queries WHERE qid = t.qid) LIMIT 10) s) a
$$;
SQL
# Warm the cache: one pass over the index.
psql -c "SET hnsw.ef_search = 160" -c "SELECT recall()" >/dev/null

cat >"$WORK/query.sql" <<'SQL'
\set q random(1, 100)
SELECT id FROM items ORDER BY v <=> (SELECT v FROM queries WHERE qid = :q) LIMIT 10;
SQL
chmod 644 "$WORK/query.sql"

# pgbench: queries per second with $1 clients and extra server options $2.
qps() {
	"${AS[@]}" env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" PGOPTIONS="$2" \
		"$PGBIN/pgbench" -n -M prepared -c "$1" -j "$1" -T "$DURATION" -f "$WORK/query.sql" postgres 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

{
	echo "Rows: $ROWS x $DIM dims (200 topics in a 24-dim latent space, normalised), $QUERIES queries, cosine distance, m = 16, ef_construction = 64."
	echo
	echo "| | value |"
	echo "|---|---|"
	echo "| build time, one process | $(printf %.1f "$SERIAL_S") s |"
	echo "| build time, leader + 2 parallel workers | $(printf %.1f "$BUILD_S") s |"
	echo "| index size | $SIZE (table: $TABLE_SIZE) |"
	echo "| exact scan (ground truth, parallel seq scan) | $(printf %.1f "$EXACT_MS") ms per query |"
	echo
	echo "| ef_search | recall@10 | QPS, 1 client | QPS, 2 clients | speed-up vs exact scan (1 client) |"
	echo "|---|---|---|---|---|"
} >"$REPORT"

EXACT1=$(qps 1 "-c enable_indexscan=off")
EXACT2=$(qps 2 "-c enable_indexscan=off")
for ef in $EF_SEARCH; do
	echo "== ef_search = $ef" >&2
	R=$(psql -At -c "SET hnsw.ef_search = $ef" -c "SELECT round(recall(), 3)")
	Q1=$(qps 1 "-c hnsw.ef_search=$ef")
	Q2=$(qps 2 "-c hnsw.ef_search=$ef")
	echo "| $ef | $R | $(printf %.0f "$Q1") | $(printf %.0f "$Q2") | $(printf %.0f "$(calc "$Q1 / $EXACT1")")x |" >>"$REPORT"
done
echo "| exact scan | 1.000 | $(printf %.1f "$EXACT1") | $(printf %.1f "$EXACT2") | 1x |" >>"$REPORT"

cat "$REPORT"
