--
-- vector: avg() and sum() aggregates and their support functions
--

-- err(sql): 'ok' or the SQLSTATE, message and detail the statement raises.
CREATE FUNCTION pg_temp.err(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE query;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || detail || ')', ' ()'), '');
END $$;

CREATE TABLE vagg (g int, v vector(3));
INSERT INTO vagg VALUES (1, '[1,2,3]'), (1, '[3,4,5]'), (2, '[-1,0.5,2]'), (2, NULL), (3, NULL);

SELECT avg(v), sum(v) FROM vagg;
SELECT g, avg(v), sum(v), count(v) FROM vagg GROUP BY g ORDER BY g;
-- no rows, or only NULLs: NULL like the built-in aggregates
SELECT avg(v) IS NULL AS avg_null, sum(v) IS NULL AS sum_null FROM vagg WHERE false;
SELECT avg(v) IS NULL AS avg_null, sum(v) IS NULL AS sum_null FROM vagg WHERE g = 3;
-- the result type is vector
SELECT pg_typeof(avg(v)), pg_typeof(sum(v)) FROM vagg;
-- avg and sum in one query (they may share a transition state)
SELECT avg(v) AS a, sum(v) AS s, avg(v) + avg(v) AS a2 FROM vagg WHERE g = 1;
-- window and ordered forms
SELECT g, sum(v) OVER (ORDER BY g, v ROWS UNBOUNDED PRECEDING) FROM vagg WHERE v IS NOT NULL ORDER BY g, v;

-- Sums are kept in double precision: avg is exact where float4 sums would not be
SELECT avg(v) FROM (VALUES ('[16777216]'::vector), ('[1]'), ('[1]'), ('[-16777216]')) t(v);
-- the average of large values is fine even where their sum leaves float4
SELECT avg(v) FROM (VALUES ('[3e38,-3e38]'::vector), ('[3e38,-3e38]')) t(v);

-- Errors
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$),
	($$SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v)$$),
	($$SELECT sum(v) FROM (VALUES ('[3e38,1]'::vector), ('[3e38,1]')) t(v)$$),
	($$SELECT sum(v) FROM (VALUES ('[-3e38]'::vector), ('[-3e38]')) t(v)$$)
) t(q);

-- Support functions called directly: they never modify their input state
SELECT vector_accum('{0}', '[1,2]') AS first,
       vector_accum('{1,1,2}', '[3,4]') AS second,
       vector_combine('{1,1,2}', '{2,3,4}') AS combined,
       vector_combine('{0}', '{2,3,4}') AS left_empty,
       vector_combine('{2,3,4}', '{0}') AS right_empty,
       vector_avg('{2,3,4}') AS avg, vector_sum('{2,3,4}') AS sum,
       vector_avg('{0}') IS NULL AS avg_empty;
SELECT s AS state_before, vector_accum(s, '[10,10]') AS accumulated, s AS state_after
FROM (VALUES ('{1,1,2}'::float8[])) t(s);
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT vector_accum('{1,1,2}', '[1,2,3]')$$),
	($$SELECT vector_combine('{1,1,2}', '{1,1,2,3}')$$),
	($$SELECT vector_avg('{}')$$),
	($$SELECT vector_avg('{{1,2},{3,4}}')$$),
	($$SELECT vector_avg('{1,NULL}')$$),
	($$SELECT vector_avg('{1,NaN}')$$),
	($$SELECT vector_sum('{1,1e300}')$$),
	($$SELECT vector_avg(array_fill(1::float8, ARRAY[16002]))$$),
	($$SELECT vector_combine('{1,1e308}', '{1,1e308}')$$)
) t(q);

-- Parallel aggregation gives the same result as a serial one (integer data:
-- the sums are exact, so the order of combination does not matter)
CREATE TABLE vagg_big (g int, v vector(4));
INSERT INTO vagg_big
SELECT i % 3, ARRAY[i % 7, -(i % 11), i % 2, 5]::real[]::vector FROM generate_series(1, 30000) i;
ANALYZE vagg_big;
SET max_parallel_workers_per_gather = 0;
SELECT avg(v), sum(v) FROM vagg_big;
CREATE TEMP TABLE serial_result AS SELECT avg(v)::text AS a, sum(v)::text AS s FROM vagg_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM vagg_big;
SELECT p.a = s.a AS same_avg, p.s = s.s AS same_sum
FROM (SELECT avg(v)::text AS a, sum(v)::text AS s FROM vagg_big) p, serial_result s;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- Aggregate metadata
SELECT aggfnoid::regprocedure, aggtransfn, aggfinalfn, aggcombinefn,
       format_type(aggtranstype, NULL) AS stype, agginitval, p.proparallel
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE aggfnoid IN ('avg(vector)'::regprocedure, 'sum(vector)'::regprocedure)
ORDER BY 1::text;

DROP TABLE vagg, vagg_big;
