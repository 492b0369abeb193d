# hnsw VACUUM: after deleting 75% of 10k rows the graph is repaired, recall
# holds, deleted rows never come back, and new rows are found, also a row
# inserted while VACUUM finds every element of the graph dead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_vacuum');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 128MB\nautovacuum = off\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION embed;
SELECT setseed(0.75);
CREATE TABLE items (id int PRIMARY KEY, v vector(24));
INSERT INTO items SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 24) WHERE i > 0)::vector
FROM generate_series(1, 12500) i;
CREATE TABLE queries (qid int PRIMARY KEY, v vector(24));
INSERT INTO queries SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 24) WHERE i > 0)::vector
FROM generate_series(1, 50) i;
CREATE FUNCTION recall(op text, k int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	q record;
	approx int[];
	exact int[];
	hits int := 0;
	total int := 0;
BEGIN
	FOR q IN SELECT * FROM queries ORDER BY qid LOOP
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v %s $1 LIMIT %s) s', op, k)
			INTO approx USING q.v;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY (v %s $1) + 0 LIMIT %s) s', op, k)
			INTO exact USING q.v;
		hits := hits + (SELECT count(*) FROM unnest(approx) a WHERE a = ANY (exact));
		total := total + k;
	END LOOP;
	RETURN hits::numeric / total;
END $$;
-- the last 2500 rows are inserted after VACUUM
CREATE TABLE later AS SELECT * FROM items WHERE id > 10000;
DELETE FROM items WHERE id > 10000;
CREATE INDEX items_idx ON items USING hnsw (v vector_l2_ops);
});

sub recall
{
	return $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET hnsw.ef_search = 100; SELECT recall('<->', 10)");
}

my $r = recall();
cmp_ok($r, '>=', 0.99, "recall\@10 $r before deletes");
my $pages = $node->safe_psql('postgres', q{SELECT pg_relation_size('items_idx') / 8192});

$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 4 <> 0');
$node->safe_psql('postgres', 'VACUUM items');
$r = recall();
cmp_ok($r, '>=', 0.99, "recall\@10 $r after deleting 75% and VACUUM");
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_idx', true)});
pass('the repaired index passes embed_hnsw_check');
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM queries q, LATERAL (SELECT id FROM items ORDER BY v <-> q.v LIMIT 100) s WHERE s.id % 4 <> 0}),
	'0', 'deleted rows are never returned');
is($node->safe_psql('postgres', q{
	SELECT n_tup_del >= 7500 FROM pg_stat_user_tables WHERE relname = 'items'}), 't', 'the deletes were counted');

$node->safe_psql('postgres', 'INSERT INTO items SELECT * FROM later');
$r = recall();
cmp_ok($r, '>=', 0.99, "recall\@10 $r after inserting 2500 rows into the vacuumed index");
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM later l WHERE l.id NOT IN (SELECT id FROM items ORDER BY v <-> l.v LIMIT 1)}),
	'0', 'every new row is its own nearest neighbour');

$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 8 = 0');
$node->safe_psql('postgres', 'VACUUM items');
$r = recall();
cmp_ok($r, '>=', 0.99, "recall\@10 $r after a second delete and VACUUM");
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_idx', true)});
pass('the index passes embed_hnsw_check after the second VACUUM');
cmp_ok($node->safe_psql('postgres', q{SELECT pg_relation_size('items_idx') / 8192}), '>=', $pages,
	'the index keeps its pages');

# Every element is dead, and a row comes in while VACUUM reads the index
# (slowed down by the cost delay): the entry point must move to the new
# row rather than leave the graph without one.
$node->safe_psql('postgres', q{
CREATE TABLE queue (id int, v vector(1000));
INSERT INTO queue SELECT i, array_fill(i::real, ARRAY[1000])::vector FROM generate_series(1, 40) i;
CREATE INDEX queue_idx ON queue USING hnsw (v vector_l2_ops);
DELETE FROM queue;});
my $vacuum = $node->background_psql('postgres');
$vacuum->query_until(qr/started/, q{
SET vacuum_cost_delay = '50ms';
SET vacuum_cost_limit = 1;
\echo started
VACUUM queue;
\echo vacuumed
});
ok( $node->poll_query_until('postgres',
		q{SELECT phase = 'vacuuming indexes' FROM pg_stat_progress_vacuum WHERE relid = 'queue'::regclass}),
	'VACUUM reaches the index');
$node->safe_psql('postgres', q{INSERT INTO queue VALUES (1000, array_fill(7::real, ARRAY[1000])::vector)});
$vacuum->query_until(qr/vacuumed/, '');
$vacuum->quit;
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT id FROM queue ORDER BY v <-> array_fill(7::real, ARRAY[1000])::vector LIMIT 5}),
	'1000', 'the row inserted during VACUUM is found through the index');
$node->safe_psql('postgres', q{INSERT INTO queue VALUES (1001, array_fill(8::real, ARRAY[1000])::vector)});
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM queue ORDER BY v <-> array_fill(7::real, ARRAY[1000])::vector LIMIT 5) s}),
	'1000,1001', 'and so is a row inserted after it');
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('queue_idx', true)});
pass('the index passes embed_hnsw_check');

$node->stop;
done_testing();
