# embed_hnsw_check on damaged indexes: a dangling neighbour TID, an element
# level out of range and a wrong page id each raise index_corrupted
# (XX002), and scans of a damaged index fail cleanly instead of crashing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_corruption');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION embed;
SELECT setseed(0.875);
CREATE TABLE items (id int PRIMARY KEY, v vector(8));
INSERT INTO items SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 8) WHERE i > 0)::vector
FROM generate_series(1, 500) i;
});

# Build a fresh index and return the path of its file.
sub fresh_index
{
	$node->safe_psql('postgres', q{
		DROP INDEX IF EXISTS items_idx;
		CREATE INDEX items_idx ON items USING hnsw (v vector_l2_ops);
		CHECKPOINT;});
	$node->safe_psql('postgres', q{SELECT embed_hnsw_check('items_idx', true)});
	return $node->data_dir . '/' . $node->safe_psql('postgres', q{SELECT pg_relation_filepath('items_idx')});
}

# Apply $edit to the bytes of block 1 of the file while the server is down.
sub edit_block1
{
	my ($path, $edit) = @_;
	$node->stop;
	open(my $fh, '+<', $path) or die "open $path: $!";
	binmode $fh;
	seek($fh, 8192, 0);
	read($fh, my $page, 8192) == 8192 or die "short read";
	$page = $edit->($page);
	seek($fh, 8192, 0);
	print $fh $page;
	close $fh;
	$node->start;
}

# Offsets of the items of a page image whose first byte is $type.
sub items_of_type
{
	my ($page, $type) = @_;
	my $lower = unpack('v', substr($page, 12, 2));
	my @found;
	for (my $lp = 24; $lp < $lower; $lp += 4)
	{
		my $word = unpack('V', substr($page, $lp, 4));
		my $off = $word & 0x7fff;
		push @found, $off if $off > 0 && ord(substr($page, $off, 1)) == $type;
	}
	return @found;
}

sub check_fails
{
	my ($pattern, $name) = @_;
	my ($rc, $out, $err) = $node->psql('postgres',
		q{\set VERBOSITY verbose
SELECT embed_hnsw_check('items_idx', true)});
	isnt($rc, 0, "$name: the check fails");
	like($err, qr/XX002/, "$name: with SQLSTATE XX002");
	like($err, $pattern, "$name: and says what is wrong");
}

# A neighbour slot pointing past the end of the index.
my $path = fresh_index();
edit_block1($path, sub {
	my ($page) = @_;
	my ($ntup) = items_of_type($page, 2);
	# first slot: block 60000, offset 1
	substr($page, $ntup + 4, 6) = pack('vvv', 0, 60000, 1);
	return $page;
});
check_fails(qr/dangling neighbor/, 'dangling neighbour TID');
my ($rc, $out, $err) = $node->psql('postgres', q{
	SET enable_seqscan = off; SET hnsw.ef_search = 500;
	SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 1) LIMIT 500) s});
ok($rc != 0 || $out =~ /^\d+$/, 'a scan of the damaged index ends with a result or a clean error');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');

# An element with a level no index can have.
$path = fresh_index();
edit_block1($path, sub {
	my ($page) = @_;
	my ($etup) = items_of_type($page, 1);
	substr($page, $etup + 1, 1) = chr(200);
	return $page;
});
check_fails(qr/level 200/, 'element level out of range');

# A neighbour count that does not match the element's level.
$path = fresh_index();
edit_block1($path, sub {
	my ($page) = @_;
	my ($ntup) = items_of_type($page, 2);
	substr($page, $ntup + 2, 2) = pack('v', 7);
	return $page;
});
check_fails(qr/no valid neighbor tuple/, 'neighbour count out of range');
($rc, $out, $err) = $node->psql('postgres', q{
	SET enable_seqscan = off;
	SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 1) LIMIT 10});
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'a scan of the damaged index does not crash the server');

# A page that is not an hnsw page.
$path = fresh_index();
edit_block1($path, sub {
	my ($page) = @_;
	substr($page, 8190, 2) = pack('v', 0x1234);
	return $page;
});
check_fails(qr/unexpected page at block 1/, 'wrong page id');

# A heap row missing from the index (the index is rebuilt without it,
# then the row is put back into the heap behind the index's back).
$node->safe_psql('postgres', q{
	DROP INDEX items_idx;
	CREATE INDEX items_idx ON items USING hnsw (v vector_l2_ops) WHERE id <> 7;
	UPDATE pg_index SET indpred = NULL WHERE indexrelid = 'items_idx'::regclass;});
$node->restart;
check_fails(qr/heap tuple \(\d+,\d+\) from table "items" lacks matching index tuple/, 'heap row missing from the index');

$node->stop;
done_testing();
