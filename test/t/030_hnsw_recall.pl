# hnsw recall at LIMIT 10 on 10k seeded random vectors: serial builds of
# every metric, a build that outgrows maintenance_work_mem (with its
# progress report), parallel builds (some of them outgrowing
# maintenance_work_mem), and an index filled by concurrent pgbench clients.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_recall');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 128MB\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION embed;
SELECT setseed(0.5);
CREATE TABLE src (id int PRIMARY KEY, v vector(24));
INSERT INTO src SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 24) WHERE i > 0)::vector
FROM generate_series(1, 10000) i;
CREATE TABLE queries (qid int PRIMARY KEY, v vector(24));
INSERT INTO queries SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 24) WHERE i > 0)::vector
FROM generate_series(1, 50) i;
-- recall@k of the index against an exact scan of the same table
CREATE FUNCTION recall(tbl text, op text, k int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	q record;
	approx int[];
	exact int[];
	hits int := 0;
	total int := 0;
BEGIN
	FOR q IN SELECT * FROM queries ORDER BY qid LOOP
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I ORDER BY v %s $1 LIMIT %s) s', tbl, op, k)
			INTO approx USING q.v;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I ORDER BY (v %s $1) + 0 LIMIT %s) s', tbl, op, k)
			INTO exact USING q.v;
		hits := hits + (SELECT count(*) FROM unnest(approx) a WHERE a = ANY (exact));
		total := total + k;
	END LOOP;
	RETURN hits::numeric / total;
END $$;
CREATE TABLE items (id int PRIMARY KEY, v vector(24));
INSERT INTO items SELECT * FROM src;
});

sub recall
{
	my ($tbl, $op) = @_;
	return $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET hnsw.ef_search = 100; SELECT recall('$tbl', '$op', 10)");
}

my %target = ('<->' => 0.99, '<=>' => 0.99, '<#>' => 0.97);
my %opclass = ('<->' => 'vector_l2_ops', '<=>' => 'vector_cosine_ops', '<#>' => 'vector_ip_ops');
for my $op ('<->', '<=>', '<#>')
{
	$node->safe_psql('postgres', "CREATE INDEX items_idx ON items USING hnsw (v $opclass{$op})");
	my $r = recall('items', $op);
	cmp_ok($r, '>=', $target{$op}, "$opclass{$op}: recall\@10 $r >= $target{$op} (serial build)");
	$node->safe_psql('postgres', 'DROP INDEX items_idx');
}

# A build that outgrows maintenance_work_mem, watched from a second session.
my $build = $node->background_psql('postgres');
$build->query_until(qr/started/, q{
SET maintenance_work_mem = '1MB';
\echo started
CREATE INDEX items_small ON items USING hnsw (v vector_l2_ops);
\echo built
});
ok( $node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_progress_create_index
	WHERE phase = 'building index: loading tuples' AND tuples_done > 0 AND tuples_total >= tuples_done}),
	'pg_stat_progress_create_index reports the loading phase with tuple counts');
$build->query_until(qr/built/, '');
$build->quit;
like($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'items_small'}), qr/^1$/,
	'the overflowing build finished');
my (undef, undef, $notice) = $node->psql('postgres',
	"SET maintenance_work_mem = '1MB'; CREATE INDEX items_small2 ON items USING hnsw (v vector_l2_ops)");
like($notice, qr/hnsw graph no longer fits into maintenance_work_mem after \d+ tuples/, 'the overflow is announced');
like($notice, qr/DETAIL:  Building will take significantly more time/, 'with a detail');
like($notice, qr/HINT:  Increase maintenance_work_mem/, 'and a hint');
$node->safe_psql('postgres', 'DROP INDEX items_small2');
my $r = recall('items', '<->');
cmp_ok($r, '>=', 0.99, "recall\@10 $r >= 0.99 after a build that overflowed maintenance_work_mem");
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_small', true)});
pass('the overflowed index passes embed_hnsw_check');

# A parallel build (leader and two workers insert into one shared graph).
$node->safe_psql('postgres', 'ALTER TABLE items SET (parallel_workers = 2)');
my (undef, undef, $debug) = $node->psql('postgres', q{
	SET max_parallel_maintenance_workers = 2;
	SET client_min_messages = debug1;
	CREATE INDEX items_par ON items USING hnsw (v vector_l2_ops);});
like($debug, qr/hnsw build using 2 parallel workers/, 'the build runs with 2 parallel workers');
$r = recall('items', '<->');
cmp_ok($r, '>=', 0.99, "recall\@10 $r >= 0.99 after a parallel build");
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_par', true)});
pass('the parallel-built index passes embed_hnsw_check');
$node->safe_psql('postgres', 'DROP INDEX items_par; DROP INDEX items_small');

# A parallel build that outgrows maintenance_work_mem: one participant
# writes the shared graph out, then all of them insert on disk.
$node->safe_psql('postgres', q{
SELECT setseed(0.25);
CREATE TABLE wide (id int PRIMARY KEY, v vector(24)) WITH (parallel_workers = 2);
INSERT INTO wide SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 24) WHERE i > 0)::vector
FROM generate_series(1, 50000) i;});
(undef, undef, $notice) = $node->psql('postgres', q{
	SET max_parallel_maintenance_workers = 2;
	SET maintenance_work_mem = '20MB';
	SET client_min_messages = debug1;
	CREATE INDEX wide_idx ON wide USING hnsw (v vector_l2_ops);});
like($notice, qr/hnsw build using 2 parallel workers/, 'the overflowing build runs in parallel');
like($notice, qr/hnsw graph no longer fits into maintenance_work_mem/, 'and overflows');
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('wide_idx', true)});
pass('the index of an overflowing parallel build passes embed_hnsw_check');
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SET hnsw.ef_search = 100;
	SELECT count(*) FROM wide w WHERE w.id % 100 = 0 AND w.id NOT IN (SELECT id FROM wide ORDER BY v <-> w.v LIMIT 1)}),
	'0', 'every sampled row is its own nearest neighbour');

# Parallel builds with a long on-disk phase: after the early overflow
# every participant extends the index side by side (three builds, so that
# a race between them shows).
$node->safe_psql('postgres', q{
CREATE TABLE narrow (id int PRIMARY KEY, v vector(4)) WITH (parallel_workers = 2);
INSERT INTO narrow SELECT i, ARRAY[i % 1000, i % 7, i % 13, 1]::real[]::vector FROM generate_series(1, 300000) i;});
for my $build (1 .. 3)
{
	my ($rc, undef, $err) = $node->psql('postgres', q{
		SET max_parallel_maintenance_workers = 2;
		SET maintenance_work_mem = '16MB';
		SET client_min_messages = debug1;
		DROP INDEX IF EXISTS narrow_idx;
		CREATE INDEX narrow_idx ON narrow USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8);});
	is($rc, 0, "overflowing parallel build $build succeeds") or diag($err =~ /(ERROR:.*)/);
	like($err, qr/hnsw build using 2 parallel workers.*no longer fits into maintenance_work_mem/s,
		"build $build runs in parallel and overflows");
}
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('narrow_idx', true)});
pass('the index of the last overflowing parallel build passes embed_hnsw_check');
$node->safe_psql('postgres', 'DROP TABLE narrow');

# Concurrent inserts into an empty index.
$node->safe_psql('postgres', q{
CREATE TABLE conc (id int PRIMARY KEY, v vector(24));
CREATE INDEX conc_idx ON conc USING hnsw (v vector_l2_ops);
CREATE SEQUENCE conc_seq;
});
$node->pgbench(
	'-n -c 4 -j 2 -t 2500', 0,
	[qr{processed: 10000/10000}], [qr{^$}],
	'4 pgbench clients insert 10000 rows',
	{ '030_hnsw_insert' => q{INSERT INTO conc SELECT id, v FROM src WHERE id = (SELECT nextval('conc_seq'));} });
is($node->safe_psql('postgres', 'SELECT count(*) FROM conc'), '10000', 'all rows inserted');
$r = recall('conc', '<->');
cmp_ok($r, '>=', 0.99, "recall\@10 $r >= 0.99 for an index filled by concurrent inserts");
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('conc_idx', true)});
pass('the concurrently filled index passes embed_hnsw_check');

$node->stop;
done_testing();
