# hnsw crash safety: pgbench inserts, an immediate shutdown in the middle,
# and after recovery the index passes embed_hnsw_check with heapallindexed
# and finds every committed row.  An unlogged table's index comes back
# empty and usable.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('hnsw_crash');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION embed;
SELECT setseed(0.375);
CREATE TABLE pool (id int PRIMARY KEY, v vector(16));
INSERT INTO pool SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 200000) i;
CREATE TABLE items (id int PRIMARY KEY, v vector(16));
INSERT INTO items SELECT * FROM pool WHERE id <= 2000;
CREATE INDEX items_idx ON items USING hnsw (v vector_l2_ops);
CREATE SEQUENCE items_seq START 2001;
CREATE UNLOGGED TABLE scratch (id int, v vector(16));
CREATE INDEX scratch_idx ON scratch USING hnsw (v vector_l2_ops);
INSERT INTO scratch SELECT * FROM pool WHERE id <= 500;
});

my $script = $node->basedir . '/033_insert.sql';
append_to_file($script, q{INSERT INTO items SELECT id, v FROM pool WHERE id = (SELECT nextval('items_seq'));
INSERT INTO scratch SELECT id, v FROM pool WHERE id = (SELECT currval('items_seq')) + 100000;
});
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '60', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
ok( $node->poll_query_until('postgres', 'SELECT count(*) >= 3000 FROM items'),
	'inserts are running');
$node->stop('immediate');
$pgbench->finish;
$node->start;

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
cmp_ok($rows, '>=', 3000, "$rows committed rows survived the crash");
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_idx', true)});
pass('after recovery the index passes embed_hnsw_check with heapallindexed');
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SET hnsw.ef_search = 100;
	SELECT count(*) FROM items i WHERE i.id NOT IN (SELECT id FROM items ORDER BY v <-> i.v LIMIT 3)}),
	'0', 'every committed row is found through the index');
$node->safe_psql('postgres', q{INSERT INTO items SELECT * FROM pool WHERE id BETWEEN 150001 AND 150100});
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM items i WHERE i.id > 150000 AND i.id NOT IN (SELECT id FROM items ORDER BY v <-> i.v LIMIT 1)}),
	'0', 'rows inserted after recovery are found');

is($node->safe_psql('postgres', 'SELECT count(*) FROM scratch'), '0', 'the unlogged table is empty after the crash');
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('scratch_idx', true)});
pass('the unlogged index was reset to an empty graph');
$node->safe_psql('postgres', q{INSERT INTO scratch SELECT * FROM pool WHERE id BETWEEN 190001 AND 190300});
is( $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM scratch s WHERE s.id NOT IN (SELECT id FROM scratch ORDER BY v <-> s.v LIMIT 1)}),
	'0', 'the unlogged index is usable after the crash');
$node->safe_psql('postgres', q{SELECT embed_hnsw_check('scratch_idx', true)});
pass('the refilled unlogged index passes embed_hnsw_check');

$node->stop;
done_testing();
