-- hnsw: operator classes, NULL and zero vectors, options, GUCs, planner, errors
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.sqlstate_of(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE cmd;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE items (id int PRIMARY KEY, v vector(3));
INSERT INTO items VALUES
	(1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), (4, '[1,1,0]'), (5, '[1,1,1]'),
	(6, '[2,0.3,0]'), (7, '[-1,0.2,0]'), (8, '[0,0,0]'), (9, NULL), (10, '[3,2,1]');

-- every operator class returns rows in the exact order (the graph is complete)
SET enable_seqscan = off;
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
SELECT id, round((v <-> '[0.93,0.41,0.27]')::numeric, 4) AS d FROM items ORDER BY v <-> '[0.93,0.41,0.27]' LIMIT 20;
DROP INDEX items_l2;
CREATE INDEX items_ip ON items USING hnsw (v vector_ip_ops);
SELECT id, round((v <#> '[0.7,1.3,2.1]')::numeric, 4) AS d FROM items ORDER BY v <#> '[0.7,1.3,2.1]' LIMIT 20;
DROP INDEX items_ip;
-- cosine: the zero vector (8) and NULL (9) are not indexed
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops);
SELECT id, round((v <=> '[0.93,0.41,0.27]')::numeric, 4) AS d FROM items ORDER BY v <=> '[0.93,0.41,0.27]' LIMIT 20;
DROP INDEX items_cos;
CREATE INDEX items_l1 ON items USING hnsw (v vector_l1_ops);
SELECT id, round((v <+> '[0.13,0.97,0.58]')::numeric, 4) AS d FROM items ORDER BY v <+> '[0.13,0.97,0.58]' LIMIT 20;

-- inserts after the build, then TRUNCATE and inserts into an empty index
INSERT INTO items VALUES (11, '[0,1,0.9]'), (12, NULL);
SELECT id FROM items ORDER BY v <+> '[0.13,0.97,0.58]' LIMIT 3;
SELECT embed_hnsw_check('items_l1', true);
TRUNCATE items;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <+> '[0,1,1]' LIMIT 3) s;
INSERT INTO items VALUES (1, '[1,1,1]'), (2, '[5,5,5]');
SELECT id FROM items ORDER BY v <+> '[4,4,4]' LIMIT 3;
SELECT embed_hnsw_check('items_l1', true);

-- ORDER BY NULL returns every indexed row
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <+> NULL LIMIT 10) s;

-- the planner uses the index only for its own operator with a LIMIT
RESET enable_seqscan;
INSERT INTO items SELECT i, ARRAY[i % 7, i % 11, i % 13]::real[]::vector FROM generate_series(3, 3000) i;
ANALYZE items;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <+> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <+> '[1,2,3]';
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE v <+> '[1,2,3]' < 1;
SELECT embed_hnsw_check('items_l1', true);
DROP TABLE items;

-- a second distance in the ORDER BY breaks the ties of the first: the index
-- orders by one distance only, so it is not used for two
CREATE TABLE ties (id int, v vector(2));
INSERT INTO ties VALUES (1, '[0,1]'), (2, '[1,0]'), (3, '[0,-1]'), (4, '[-1,0]'), (5, '[3,3]');
CREATE INDEX ties_idx ON ties USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ties ORDER BY v <-> '[0,0]', v <-> '[-1,0.1]' LIMIT 4;
SELECT id FROM ties ORDER BY v <-> '[0,0]', v <-> '[-1,0.1]' LIMIT 4;
SELECT id FROM ties ORDER BY v <-> '[0,0]', v <-> '[1,0.1]' LIMIT 4;
RESET enable_seqscan;
DROP TABLE ties;

-- CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY (validate_index reads
-- the heap TID of every element through ambulkdelete)
CREATE TABLE conc (id int, v vector(3));
INSERT INTO conc SELECT i, ARRAY[i % 17, i % 5, i % 3]::real[]::vector FROM generate_series(1, 500) i;
CREATE INDEX CONCURRENTLY conc_idx ON conc USING hnsw (v vector_cosine_ops);
REINDEX INDEX CONCURRENTLY conc_idx;
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'conc_idx'::regclass;
SELECT embed_hnsw_check('conc_idx', true);
DROP TABLE conc;

-- unlogged tables (the init fork holds an empty graph)
CREATE UNLOGGED TABLE u (v vector(2));
CREATE INDEX ON u USING hnsw (v vector_l2_ops);
INSERT INTO u VALUES ('[1,1]'), ('[2,2]'), ('[3,3]');
SET enable_seqscan = off;
SELECT v FROM u ORDER BY v <-> '[2.9,3]' LIMIT 2;
RESET enable_seqscan;
DROP TABLE u;

-- a column without a declared dimension count: fixed by the first vector
CREATE TABLE anydim (v vector);
CREATE INDEX anydim_idx ON anydim USING hnsw (v vector_l2_ops);
INSERT INTO anydim VALUES ('[1,2]'), ('[3,4]');
SELECT pg_temp.sqlstate_of($$INSERT INTO anydim VALUES ('[1,2,3]')$$);
SET enable_seqscan = off;
SELECT v FROM anydim ORDER BY v <-> '[3,3]' LIMIT 1;
-- a query of the wrong dimension count is an error
SELECT pg_temp.sqlstate_of($$SELECT v FROM anydim ORDER BY v <-> '[3,3,3]' LIMIT 1$$);
RESET enable_seqscan;
DROP TABLE anydim;

-- options and their bounds
CREATE TABLE opts (v vector(2));
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (m = 1)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (m = 101)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (ef_construction = 3)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (ef_construction = 1001)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 31)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (lists = 3)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (m = 2, ef_construction = 4)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops) WITH (m = 100, ef_construction = 1000)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON opts USING hnsw (v vector_l2_ops, v vector_l2_ops)');
DROP TABLE opts;

-- dimension limit: an element must fit on one page
CREATE TABLE big (v vector(2001));
SELECT pg_temp.sqlstate_of('CREATE INDEX ON big USING hnsw (v vector_l2_ops)');
DROP TABLE big;
CREATE TABLE big (v vector);
INSERT INTO big SELECT array_fill(1.0::real, ARRAY[2001])::vector;
SELECT pg_temp.sqlstate_of('CREATE INDEX ON big USING hnsw (v vector_l2_ops)');
DROP TABLE big;
CREATE TABLE big (v vector(2000));
INSERT INTO big SELECT array_fill(i::real, ARRAY[2000])::vector FROM generate_series(1, 5) i;
CREATE INDEX big_idx ON big USING hnsw (v vector_l2_ops);
INSERT INTO big SELECT array_fill(i::real, ARRAY[2000])::vector FROM generate_series(6, 8) i;
SET enable_seqscan = off;
SELECT (v::real[])[1] AS first FROM big ORDER BY v <-> array_fill(6.2::real, ARRAY[2000])::vector LIMIT 3;
RESET enable_seqscan;
SELECT embed_hnsw_check('big_idx', true);
DROP TABLE big;

-- GUCs and their bounds
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
SHOW hnsw.max_scan_tuples;
SELECT pg_temp.sqlstate_of('SET hnsw.ef_search = 0');
SELECT pg_temp.sqlstate_of('SET hnsw.ef_search = 1001');
SELECT pg_temp.sqlstate_of('SET hnsw.max_scan_tuples = 0');
SELECT pg_temp.sqlstate_of($$SET hnsw.iterative_scan = 'sometimes'$$);
SELECT pg_temp.sqlstate_of('SET hnsw.no_such_setting = 1');
SET hnsw.ef_search = 1000;
SET hnsw.iterative_scan = relaxed_order;
RESET hnsw.ef_search;
RESET hnsw.iterative_scan;

-- operator classes pass amvalidate
SELECT opcname, amvalidate(oid) FROM pg_opclass
WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw') ORDER BY opcname;

-- the checker refuses what is not an hnsw index
CREATE TABLE plain (id int PRIMARY KEY, v vector(2));
SELECT pg_temp.sqlstate_of($$SELECT embed_hnsw_check('plain')$$);
SELECT pg_temp.sqlstate_of($$SELECT embed_hnsw_check('plain_pkey')$$);
DROP TABLE plain;

-- an operator class of one's own whose distance function bears the name of
-- one of ours: the index orders by that function, not by our L1 kernel
CREATE SCHEMA custom;
CREATE FUNCTION custom.l1_distance(a vector, b vector) RETURNS double precision
	LANGUAGE plpgsql IMMUTABLE STRICT AS $$ BEGIN RETURN abs((a::real[])[1] - (b::real[])[1]); END $$;
CREATE OPERATOR custom.<%> (LEFTARG = vector, RIGHTARG = vector, FUNCTION = custom.l1_distance);
CREATE OPERATOR CLASS custom.first_coordinate_ops FOR TYPE vector USING hnsw AS
	OPERATOR 1 custom.<%> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 custom.l1_distance(vector, vector);
CREATE TABLE firsts (id int, v vector(2));
INSERT INTO firsts SELECT i, ARRAY[i, (i * 37) % 101]::real[]::vector FROM generate_series(1, 500) i;
CREATE INDEX firsts_idx ON firsts USING hnsw (v custom.first_coordinate_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM firsts ORDER BY v OPERATOR(custom.<%>) '[250.2,0]' LIMIT 5;
SELECT id FROM firsts ORDER BY v OPERATOR(custom.<%>) '[250.2,0]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE firsts;
DROP SCHEMA custom CASCADE;

-- the heapallindexed check frees every heap value it reads (these are
-- toasted): it needs no more memory than the structural check alone
CREATE TABLE wide (v vector(2000));
INSERT INTO wide SELECT array_fill(i::real, ARRAY[2000])::vector FROM generate_series(1, 4000) i;
CREATE INDEX wide_idx ON wide USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8);
SELECT embed_hnsw_check('wide_idx') AS structure_checked,
       (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) AS structure_bytes \gset
SELECT embed_hnsw_check('wide_idx', true) AS heap_checked,
       (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) - :structure_bytes < 8 * 1024 * 1024
	AS heap_check_frees_values;
DROP TABLE wide;
