-- pgTAP: the API contract of the hnsw access method (the AM, its operator
-- classes, options, GUCs, the checker) and the SQLSTATE of every
-- user-facing error.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS embed;
SELECT plan(46);

-- The access method
SELECT ok(EXISTS (SELECT FROM pg_am WHERE amname = 'hnsw' AND amtype = 'i'), 'index access method hnsw exists');
SELECT is((SELECT amhandler::text FROM pg_am WHERE amname = 'hnsw'), 'embed_hnsw_handler', 'hnsw handler is embed_hnsw_handler');
SELECT ok(pg_indexam_has_property((SELECT oid FROM pg_am WHERE amname = 'hnsw'), 'can_order') IS FALSE,
	'hnsw does not provide plain ordering');
SELECT ok(NOT pg_indexam_has_property((SELECT oid FROM pg_am WHERE amname = 'hnsw'), 'can_multi_col'),
	'hnsw indexes have one column');

-- Operator classes: pgVector's names, operators and support functions
SELECT results_eq(
	$$SELECT opcname::text COLLATE "default" FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw') ORDER BY 1$$,
	$$VALUES ('vector_cosine_ops'), ('vector_ip_ops'), ('vector_l1_ops'), ('vector_l2_ops')$$,
	'hnsw has the four pgvector operator classes');
SELECT results_eq(
	$$SELECT c.opcname::text COLLATE "default", o.amopopr::regoperator::text, o.amoppurpose::text, o.amopsortfamily::regclass::text IS NULL
	  FROM pg_opclass c JOIN pg_amop o ON o.amopfamily = c.opcfamily
	  WHERE c.opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw') ORDER BY 1$$,
	$$VALUES ('vector_cosine_ops', '<=>(vector,vector)', 'o', false),
	         ('vector_ip_ops', '<#>(vector,vector)', 'o', false),
	         ('vector_l1_ops', '<+>(vector,vector)', 'o', false),
	         ('vector_l2_ops', '<->(vector,vector)', 'o', false)$$,
	'each operator class orders by its distance operator');
SELECT results_eq(
	$$SELECT c.opcname::text COLLATE "default", p.amprocnum::int, p.amproc::regprocedure::text
	  FROM pg_opclass c JOIN pg_amproc p ON p.amprocfamily = c.opcfamily
	  WHERE c.opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw') ORDER BY 1, 2$$,
	$$VALUES ('vector_cosine_ops', 1, 'cosine_distance(vector,vector)'),
	         ('vector_cosine_ops', 2, 'vector_norm(vector)'),
	         ('vector_ip_ops', 1, 'vector_negative_inner_product(vector,vector)'),
	         ('vector_l1_ops', 1, 'l1_distance(vector,vector)'),
	         ('vector_l2_ops', 1, 'l2_squared_distance(vector,vector)')$$,
	'support function 1 is the distance, 2 the norm for cosine');
SELECT ok(bool_and(amvalidate(oid)), 'every hnsw operator class passes amvalidate')
FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw');

-- The checker
SELECT has_function('embed_hnsw_check', ARRAY['regclass', 'boolean'], 'embed_hnsw_check(regclass, boolean) exists');
SELECT function_returns('embed_hnsw_check', ARRAY['regclass', 'boolean'], 'void', 'embed_hnsw_check returns void');
SELECT is_strict('embed_hnsw_check', ARRAY['regclass', 'boolean'], 'embed_hnsw_check is strict');
SELECT ok(NOT EXISTS (SELECT FROM pg_proc, aclexplode(proacl) a
	WHERE oid = 'embed_hnsw_check(regclass, boolean)'::regprocedure AND a.grantee = 0),
	'embed_hnsw_check is not executable by PUBLIC');
SELECT is((SELECT pronargdefaults::int FROM pg_proc WHERE oid = 'embed_hnsw_check(regclass, boolean)'::regprocedure), 1,
	'heapallindexed has a default');

-- GUC defaults
SELECT is(current_setting('hnsw.ef_search'), '40', 'hnsw.ef_search defaults to 40');
SELECT is(current_setting('hnsw.iterative_scan'), 'strict_order', 'hnsw.iterative_scan defaults to strict_order');
SELECT is(current_setting('hnsw.max_scan_tuples'), '20000', 'hnsw.max_scan_tuples defaults to 20000');
SELECT throws_ok('SET hnsw.ef_search = 0', '22023', NULL, 'hnsw.ef_search below 1 is refused');
SELECT throws_ok('SET hnsw.ef_search = 1001', '22023', NULL, 'hnsw.ef_search above 1000 is refused');
SELECT throws_ok('SET hnsw.max_scan_tuples = 0', '22023', NULL, 'hnsw.max_scan_tuples below 1 is refused');
SELECT throws_ok($$SET hnsw.iterative_scan = 'always'$$, '22023', NULL, 'hnsw.iterative_scan takes off, relaxed_order, strict_order');
SELECT throws_ok('SET hnsw.nonexistent = 1', '42602', NULL, 'the hnsw prefix is reserved');

-- Reloptions and their bounds
CREATE TABLE tap_items (id int PRIMARY KEY, category int, v vector(3));
INSERT INTO tap_items SELECT i, i % 3, ARRAY[i, i % 5, i % 7]::real[]::vector FROM generate_series(1, 30) i;
INSERT INTO tap_items VALUES (31, 0, NULL), (32, 0, '[0,0,0]');
SELECT throws_ok('CREATE INDEX ON tap_items USING hnsw (v vector_l2_ops) WITH (m = 1)', '22023', NULL, 'm below 2 is refused');
SELECT throws_ok('CREATE INDEX ON tap_items USING hnsw (v vector_l2_ops) WITH (m = 101)', '22023', NULL, 'm above 100 is refused');
SELECT throws_ok('CREATE INDEX ON tap_items USING hnsw (v vector_l2_ops) WITH (ef_construction = 3)', '22023', NULL, 'ef_construction below 4 is refused');
SELECT throws_ok('CREATE INDEX ON tap_items USING hnsw (v vector_l2_ops) WITH (ef_construction = 1001)', '22023', NULL, 'ef_construction above 1000 is refused');
SELECT throws_ok('CREATE INDEX ON tap_items USING hnsw (v vector_l2_ops) WITH (m = 20, ef_construction = 39)', '22023',
	'ef_construction must be greater than or equal to 2 * m', 'ef_construction below 2 * m is refused');
SELECT throws_ok('CREATE INDEX ON tap_items USING hnsw (v vector_l2_ops) WITH (lists = 10)', '22023', NULL, 'unknown options are refused');
SELECT throws_ok('CREATE INDEX ON tap_items USING hnsw (v)', '42704', NULL, 'there is no default operator class');
SELECT lives_ok('CREATE INDEX tap_l2 ON tap_items USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 64)',
	'pgvector DDL with m and ef_construction works');
SELECT is((SELECT reloptions FROM pg_class WHERE relname = 'tap_l2'), '{m=16,ef_construction=64}'::text[], 'options are stored');

-- Scans
SET LOCAL enable_seqscan = off;
SELECT results_eq(
	$$SELECT id FROM tap_items ORDER BY v <-> '[10.2,0.1,3.1]' LIMIT 5$$,
	$$SELECT id FROM tap_items ORDER BY (v <-> '[10.2,0.1,3.1]') + 0 LIMIT 5$$,
	'an L2 index scan returns the exact nearest rows in order');
SELECT is((SELECT count(*) FROM (SELECT id FROM tap_items ORDER BY v <-> '[1,1,1]' LIMIT 100) s), 31::bigint,
	'NULL vectors are not returned by an index scan');
SELECT throws_ok($$SELECT id FROM tap_items ORDER BY v <-> '[1,1]' LIMIT 1$$, '22000', NULL,
	'a query vector of the wrong dimension count is an error');
SELECT is((SELECT count(*) FROM (SELECT id FROM tap_items WHERE category = 2 ORDER BY v <-> '[1,1,1]' LIMIT 10) s), 10::bigint,
	'a filtered ORDER BY ... LIMIT fills its LIMIT');
CREATE INDEX tap_cos ON tap_items USING hnsw (v vector_cosine_ops);
DROP INDEX tap_l2;
SELECT is((SELECT count(*) FROM (SELECT id FROM tap_items ORDER BY v <=> '[1,1,1]' LIMIT 100) s), 30::bigint,
	'zero vectors are not indexed under cosine');
SELECT results_eq(
	$$SELECT id FROM tap_items ORDER BY v <=> '[3.3,1.2,0.7]' LIMIT 5$$,
	$$SELECT id FROM tap_items WHERE v <> '[0,0,0]' ORDER BY (v <=> '[3.3,1.2,0.7]') + 0 LIMIT 5$$,
	'a cosine index scan returns the exact nearest rows in order');
CREATE INDEX tap_ip ON tap_items USING hnsw (v vector_ip_ops);
SELECT results_eq(
	$$SELECT id FROM tap_items ORDER BY v <#> '[0.3,1.1,0.7]' LIMIT 5$$,
	$$SELECT id FROM tap_items ORDER BY (v <#> '[0.3,1.1,0.7]') + 0 LIMIT 5$$,
	'an inner product index scan returns the exact nearest rows in order');
CREATE INDEX tap_l1 ON tap_items USING hnsw (v vector_l1_ops);
SELECT results_eq(
	$$SELECT id FROM tap_items ORDER BY v <+> '[12.3,2.2,5.9]' LIMIT 5$$,
	$$SELECT id FROM tap_items ORDER BY (v <+> '[12.3,2.2,5.9]') + 0 LIMIT 5$$,
	'an L1 index scan returns the exact nearest rows in order');

-- Dimension limits
CREATE TABLE tap_wide (v vector(2001));
SELECT throws_ok('CREATE INDEX ON tap_wide USING hnsw (v vector_l2_ops)', '54000', NULL,
	'more than 2000 dimensions are refused at build time');
CREATE TABLE tap_untyped (v vector);
INSERT INTO tap_untyped VALUES ('[1,2]');
CREATE INDEX tap_untyped_idx ON tap_untyped USING hnsw (v vector_l2_ops);
SELECT throws_ok($$INSERT INTO tap_untyped VALUES ('[1,2,3]')$$, '22000', NULL,
	'an untyped column takes its dimension count from the first vector');
SELECT throws_ok($$INSERT INTO tap_untyped SELECT array_fill(1, ARRAY[2001])::vector$$, '54000', NULL,
	'an insert of more than 2000 dimensions is refused');

-- The checker's contract
SELECT lives_ok($$SELECT embed_hnsw_check('tap_cos')$$, 'a sound index passes the check');
SELECT lives_ok($$SELECT embed_hnsw_check('tap_l1', heapallindexed => true)$$, 'a sound index passes the heapallindexed check');
SELECT throws_ok($$SELECT embed_hnsw_check('tap_items')$$, '42809', '"tap_items" is not an hnsw index',
	'checking a table is a clean error');
SELECT throws_ok($$SELECT embed_hnsw_check('tap_items_pkey')$$, '42809', '"tap_items_pkey" is not an hnsw index',
	'checking a b-tree index is a clean error');
SELECT throws_ok($$SELECT embed_hnsw_check('no_such_index')$$, '42P01', NULL, 'checking a missing relation is a clean error');

SELECT * FROM finish();
ROLLBACK;
