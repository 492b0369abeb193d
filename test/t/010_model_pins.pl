# Model identity: the first use of a model name pins the SHA-256 of its
# weights; weights replaced under the same name are refused (also after a
# restart, and for users without rights on the pins table) until the pin is
# removed; read-only transactions and standbys check pins without writing.
use strict;
use warnings;
use File::Copy;
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $models_src = $ENV{EMBED_TEST_MODELS}
  or plan skip_all => 'EMBED_TEST_MODELS (a copy of test/models) is not set';

# A private models folder whose files this test may replace.
my $models = PostgreSQL::Test::Utils::tempdir();
for my $name ('embed-test-tiny', 'embed-test-cls')
{
	make_path("$models/$name/1_Pooling");
	for my $f (glob("$models_src/$name/*"), glob("$models_src/$name/1_Pooling/*"))
	{
		next if -d $f;
		(my $rel = $f) =~ s{^\Q$models_src/$name/\E}{};
		copy($f, "$models/$name/$rel") or die "copy $f: $!";
	}
}

my $node = PostgreSQL::Test::Cluster->new('pins');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', "embed.models_path = '$models'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	CREATE ROLE alice LOGIN;
	CREATE TABLE docs (id int, v vector);
	GRANT ALL ON docs TO alice;
});

# First use by an unprivileged user pins the model (the pin is written as the extension's owner).
$node->safe_psql('postgres',
	q{INSERT INTO docs VALUES (1, embed('i love ice cream', 'embed-test-tiny'))},
	extra_params => [ '-U', 'alice' ]);
my $pinned = $node->safe_psql('postgres',
	q{SELECT sha256 FROM embed_model_pins WHERE name = 'embed-test-tiny'});
like($pinned, qr/^[0-9a-f]{64}$/, 'first use pins the weights hash');
is($pinned, $node->safe_psql('postgres',
		q{SELECT sha256 FROM embed_models() WHERE name = 'embed-test-tiny'}),
	'the pin is the hash embed_models() reports');

# A read-only transaction can use an unpinned model but writes no pin.
my $ro = $node->safe_psql('postgres', q{
	BEGIN READ ONLY;
	SELECT vector_dims(embed('x', 'embed-test-cls'));
	COMMIT;
	SELECT count(*) FROM embed_model_pins WHERE name = 'embed-test-cls';
});
is($ro, "24\n0", 'read-only transactions embed without pinning');

# Copying the same bytes over the file (new inode and times) keeps the pin.
copy("$models/embed-test-tiny/model.safetensors", "$models/embed-test-tiny/model.tmp") or die;
rename("$models/embed-test-tiny/model.tmp", "$models/embed-test-tiny/model.safetensors") or die;
is($node->safe_psql('postgres',
		q{SELECT embed('i love ice cream', 'embed-test-tiny') = v FROM docs WHERE id = 1}),
	't', 'identical weights in a new file are accepted and give the same embedding');

# Different weights under the same name: flip one byte of the last tensor.
my $path = "$models/embed-test-tiny/model.safetensors";
open(my $fh, '+<', $path) or die "open $path: $!";
binmode $fh;
seek($fh, -3, 2);
my $byte;
read($fh, $byte, 1);
seek($fh, -3, 2);
print $fh chr(ord($byte) ^ 0x55);
close $fh;

my ($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT embed('x', 'embed-test-tiny')});
isnt($ret, 0, 'changed weights are refused');
like($stderr, qr/weights of model "embed-test-tiny" changed since it was first used/, 'with a clear message');
like($stderr, qr/REINDEX/, 'and a hint to recompute stored embeddings');

# Also in a new backend after a restart, and for the unprivileged user.
$node->restart;
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT embed('x', 'embed-test-tiny')},
	extra_params => [ '-U', 'alice' ]);
like($stderr, qr/changed since it was first used/, 'still refused after a restart, for any user');

# A standby refuses the changed weights too (it reads the replicated pin).
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('pins_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
($ret, $stdout, $stderr) = $standby->psql('postgres', q{SELECT embed('x', 'embed-test-tiny')});
like($stderr, qr/changed since it was first used/, 'a standby checks the pin');
$standby->stop;

# Only a superuser can accept the change.
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT embed_unpin_model('embed-test-tiny')},
	extra_params => [ '-U', 'alice' ]);
like($stderr, qr/permission denied/, 'an unprivileged user cannot unpin');
is($node->safe_psql('postgres', q{SELECT embed_unpin_model('embed-test-tiny')}), 't', 'a superuser unpins');
my $repinned = $node->safe_psql('postgres', q{
	SELECT vector_dims(embed('x', 'embed-test-tiny'));
	SELECT sha256 FROM embed_model_pins WHERE name = 'embed-test-tiny';
});
my ($dims, $newpin) = split /\n/, $repinned;
is($dims, '32', 'the model works again after unpinning');
isnt($newpin, $pinned, 'and is pinned to the new hash');

# Pins are dumped by pg_dump (an extension configuration table).
my $dumpfile = $node->basedir . '/dump.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dumpfile ], 'pg_dump runs');
my $dumped = slurp_file($dumpfile);
like($dumped, qr/COPY public\.embed_model_pins .*\nembed-test-tiny\t$newpin\t/s, 'pg_dump includes the pins');

$node->stop;
done_testing();
