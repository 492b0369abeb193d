-- hnsw: recall, filtered (iterative) scans, builds that overflow
-- maintenance_work_mem, VACUUM after heavy deletes
SET client_min_messages = notice;
SELECT setseed(0.25);
CREATE TABLE docs (id int PRIMARY KEY, category int, v vector(32));
INSERT INTO docs
SELECT i, i % 10, (SELECT array_agg(random()::real) FROM generate_series(1, 32) WHERE i > 0)::vector
FROM generate_series(1, 3000) i;
CREATE TABLE queries (qid int, v vector(32));
INSERT INTO queries
SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 32) WHERE i > 0)::vector
FROM generate_series(1, 20) i;

-- recall@k of "ORDER BY v <op> q LIMIT k" (approx) against an exact scan,
-- optionally with a WHERE clause
CREATE FUNCTION pg_temp.recall(op text, k int, filter text DEFAULT 'true') RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
	q record;
	approx int[];
	exact int[];
	hits int := 0;
	total int := 0;
BEGIN
	FOR q IN SELECT * FROM queries ORDER BY qid LOOP
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM docs WHERE %s ORDER BY v %s $1 LIMIT %s) s',
					   filter, op, k) INTO approx USING q.v;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM docs WHERE %s ORDER BY (v %s $1) + 0 LIMIT %s) s',
					   filter, op, k) INTO exact USING q.v;
		hits := hits + (SELECT count(*) FROM unnest(approx) a WHERE a = ANY (exact));
		total := total + coalesce(array_length(exact, 1), 0);
	END LOOP;
	RETURN hits::numeric / total;
END $$;

-- rows returned by a filtered ORDER BY ... LIMIT 10, per query
CREATE FUNCTION pg_temp.filtered_counts(filter text) RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
	q record;
	n int;
	counts int[] := '{}';
BEGIN
	FOR q IN SELECT * FROM queries ORDER BY qid LIMIT 5 LOOP
		EXECUTE format('SELECT count(*) FROM (SELECT id FROM docs WHERE %s ORDER BY v <-> $1 LIMIT 10) s', filter)
			INTO n USING q.v;
		counts := counts || n;
	END LOOP;
	RETURN counts;
END $$;

SET enable_seqscan = off;
CREATE INDEX docs_l2 ON docs USING hnsw (v vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY v <-> (SELECT v FROM queries WHERE qid = 1) LIMIT 10;
SELECT pg_temp.recall('<->', 10) >= 0.95 AS l2_recall;
SELECT embed_hnsw_check('docs_l2', true);

-- filtered queries still return LIMIT rows: strict_order is the default
SELECT pg_temp.filtered_counts('category = 3');
SELECT pg_temp.recall('<->', 10, 'category = 3') >= 0.9 AS filtered_recall;
SELECT pg_temp.filtered_counts('category = 3 AND id % 7 = 0');
SET hnsw.iterative_scan = relaxed_order;
SELECT pg_temp.filtered_counts('category = 3 AND id % 7 = 0');
-- without iterative scans a selective filter starves the LIMIT
SET hnsw.iterative_scan = off;
SET hnsw.ef_search = 10;
SELECT bool_and(n < 10) AS starved FROM unnest(pg_temp.filtered_counts('category = 3 AND id % 7 = 0')) n;
RESET hnsw.ef_search;
RESET hnsw.iterative_scan;
-- a small scan budget stops the search but still returns scored rows in order
SET hnsw.max_scan_tuples = 50;
SELECT pg_temp.filtered_counts('category = 3');
RESET hnsw.max_scan_tuples;
-- strict_order output is sorted
SELECT bool_and(sorted) AS sorted FROM (
	SELECT d >= lag(d, 1, '-Infinity') OVER (ORDER BY rn) AS sorted FROM (
		SELECT row_number() OVER () AS rn, d FROM (
			SELECT v <-> (SELECT v FROM queries WHERE qid = 2) AS d FROM docs
			WHERE category = 5 ORDER BY v <-> (SELECT v FROM queries WHERE qid = 2) LIMIT 50) s) t) u;
DROP INDEX docs_l2;

-- the other operator classes
CREATE INDEX docs_ip ON docs USING hnsw (v vector_ip_ops);
SELECT pg_temp.recall('<#>', 10) >= 0.9 AS ip_recall;
DROP INDEX docs_ip;
CREATE INDEX docs_cos ON docs USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
SELECT pg_temp.recall('<=>', 10) >= 0.9 AS cosine_recall;
DROP INDEX docs_cos;
CREATE INDEX docs_l1 ON docs USING hnsw (v vector_l1_ops);
SELECT pg_temp.recall('<+>', 10) >= 0.9 AS l1_recall;
DROP INDEX docs_l1;

-- a build that outgrows maintenance_work_mem continues on disk
SET maintenance_work_mem = '1MB';
CREATE INDEX docs_small_mem ON docs USING hnsw (v vector_l2_ops);
RESET maintenance_work_mem;
SELECT pg_temp.recall('<->', 10) >= 0.95 AS l2_recall_overflow;
SELECT embed_hnsw_check('docs_small_mem', true);

-- VACUUM after deleting 75% of the rows keeps recall and a sound graph
DELETE FROM docs WHERE id % 4 <> 0;
VACUUM docs;
SELECT pg_temp.recall('<->', 10) >= 0.95 AS recall_after_vacuum;
SELECT embed_hnsw_check('docs_small_mem', true);
-- deleted rows never come back, new rows are found
INSERT INTO docs SELECT 10000 + qid, 0, v FROM queries;
SELECT bool_and(found) AS new_rows_first FROM (
	SELECT (SELECT id FROM docs ORDER BY v <-> q.v LIMIT 1) = 10000 + q.qid AS found FROM queries q) s;
SELECT count(*) AS deleted_returned FROM (SELECT id FROM docs ORDER BY v <-> (SELECT v FROM queries WHERE qid = 3) LIMIT 500) s
WHERE id < 10000 AND id % 4 <> 0;
DELETE FROM docs;
VACUUM docs;
SELECT count(*) AS after_delete_all FROM (SELECT id FROM docs ORDER BY v <-> (SELECT v FROM queries WHERE qid = 3) LIMIT 5) s;
INSERT INTO docs VALUES (1, 0, (SELECT v FROM queries WHERE qid = 4));
SELECT id FROM docs ORDER BY v <-> (SELECT v FROM queries WHERE qid = 4) LIMIT 5;
SELECT embed_hnsw_check('docs_small_mem', true);
DROP TABLE docs, queries;
