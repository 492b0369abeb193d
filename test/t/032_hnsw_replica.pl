# hnsw on a streaming replica: every page change is WAL-logged, so the
# standby returns exactly what the primary returns through build, delete,
# VACUUM and insert cycles.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('hnsw_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "autovacuum = off\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION embed');
$primary->backup('backup');

my $standby = PostgreSQL::Test::Cluster->new('hnsw_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
SELECT setseed(0.125);
CREATE TABLE pool (id int PRIMARY KEY, v vector(16));
INSERT INTO pool SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 6000) i;
CREATE TABLE queries (qid int PRIMARY KEY, v vector(16));
INSERT INTO queries SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 20) i;
CREATE TABLE items (id int PRIMARY KEY, v vector(16));
INSERT INTO items SELECT * FROM pool WHERE id <= 3000;
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
});

my $answers = q{
SET enable_seqscan = off;
SELECT string_agg(ids, ' ' ORDER BY qid) FROM (
	SELECT q.qid, (SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> q.v LIMIT 10) s) ||
		'|' || (SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <=> q.v LIMIT 10) s) AS ids
	FROM queries q) t};

sub compare
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	my $p = $primary->safe_psql('postgres', $answers);
	my $s = $standby->safe_psql('postgres', $answers);
	ok(length($p) > 100, "$what: the primary answers");
	is($s, $p, "$what: the standby returns the same rows in the same order");
	$standby->safe_psql('postgres', q{SELECT embed_hnsw_check('items_l2', true), embed_hnsw_check('items_cos', true)});
	pass("$what: the standby's indexes pass embed_hnsw_check");
}

compare('after the build');
for my $cycle (1 .. 3)
{
	$primary->safe_psql('postgres', "DELETE FROM items WHERE id % 3 = $cycle % 3");
	$primary->safe_psql('postgres', 'VACUUM items');
	compare("cycle $cycle: after delete and VACUUM");
	my $from = 3000 + ($cycle - 1) * 1000 + 1;
	my $to = $from + 999;
	$primary->safe_psql('postgres', "INSERT INTO items SELECT * FROM pool WHERE id BETWEEN $from AND $to");
	compare("cycle $cycle: after inserts");
}

$standby->stop;
$primary->stop;
done_testing();
