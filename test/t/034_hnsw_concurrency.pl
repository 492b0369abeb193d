# hnsw under a concurrent mix of inserts, deletes, nearest-neighbour
# queries, VACUUM and embed_hnsw_check: no client sees an error and the
# index stays sound.  Then concurrent inserts of vectors so wide that each
# one adds pages to the index.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_concurrency');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION embed;
SELECT setseed(0.625);
CREATE TABLE pool (id int PRIMARY KEY, v vector(16));
INSERT INTO pool SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 20000) i;
CREATE TABLE items (id int PRIMARY KEY, v vector(16));
INSERT INTO items SELECT * FROM pool WHERE id <= 3000;
CREATE INDEX items_idx ON items USING hnsw (v vector_cosine_ops);
CREATE SEQUENCE items_seq START 3001;
});

$node->pgbench(
	'-n -c 4 -j 2 -t 400', 0,
	[qr{processed: 1600/1600}], [qr{^$}],
	'inserts, deletes, queries and VACUUM run side by side without errors',
	{
		'034_insert@10' => q{INSERT INTO items SELECT id, v FROM pool WHERE id = (SELECT nextval('items_seq'));},
		'034_delete@4' => q{\set d random(1, 6000)
DELETE FROM items WHERE id = :d;},
		'034_select@10' => q{\set q random(1, 20000)
SET enable_seqscan = off;
SELECT id FROM items ORDER BY v <=> (SELECT v FROM pool WHERE id = :q) LIMIT 10;},
		'034_vacuum@1' => q{VACUUM items;},
		'034_check@2' => q{SELECT embed_hnsw_check('items_idx');},
	});

$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_idx', true)});
pass('the index passes embed_hnsw_check after the mix');
$node->safe_psql('postgres', 'VACUUM items');
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_idx', true)});
pass('and after a final VACUUM');
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SET hnsw.ef_search = 100;
	SELECT count(*) FROM items i WHERE i.id NOT IN (SELECT id FROM items ORDER BY v <=> i.v LIMIT 3)}),
	'0', 'every live row is found through the index');

# Every insert extends the index here (one element per page): a backend
# that scans for free space may lock a page another one has just added
# before that one does, and neither insert may fail because of it.
$node->safe_psql('postgres', q{
CREATE TABLE wide (id serial PRIMARY KEY, v vector(1000));
CREATE INDEX wide_idx ON wide USING hnsw (v vector_l2_ops);
});
$node->pgbench(
	'-n -c 6 -j 2 -t 2500', 0,
	[qr{processed: 15000/15000}], [qr{^$}],
	'concurrent inserts that extend the index all succeed',
	{ '034_wide' => q{INSERT INTO wide (v) SELECT array_fill(random()::real, ARRAY[1000])::vector;} });
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('wide_idx', true)});
pass('the index filled by extending inserts passes embed_hnsw_check');

$node->stop;
done_testing();
