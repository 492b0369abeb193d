--
-- vector: distance operators and functions, arithmetic, comparison, b-tree
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

-- Distances on small exact inputs
SELECT '[0,0]'::vector <-> '[3,4]' AS l2,
       l2_distance('[1,2,3]', '[1,2,3]') AS l2_same,
       l2_squared_distance('[0,0]', '[3,4]') AS l2_squared,
       inner_product('[1,2]', '[3,4]') AS ip,
       '[1,2]'::vector <#> '[3,4]' AS neg_ip,
       vector_negative_inner_product('[1,2]', '[3,4]') AS neg_ip_fn;
SELECT '[1,0]'::vector <=> '[0,1]' AS orthogonal,
       '[1,1]'::vector <=> '[2,2]' AS parallel,
       '[1,0]'::vector <=> '[-1,0]' AS opposite,
       round(cosine_distance('[3,4]', '[4,3]')::numeric, 12) AS cos_dist,
       round(cosine_similarity('[3,4]', '[4,3]')::numeric, 12) AS cos_sim,
       cosine_similarity('[1,0]', '[-1,0]') AS cos_sim_opposite;
SELECT '[1,2]'::vector <+> '[4,-2]' AS l1, l1_distance('[0,0,0]', '[-1,1,-1]') AS l1_fn;

-- Cosine involving a zero vector is NaN, as in pgvector
SELECT '[0,0]'::vector <=> '[1,1]' AS cos_zero,
       cosine_similarity('[1,1]', '[0,0]') AS sim_zero,
       cosine_distance('[0,0]', '[0,0]') AS both_zero;

-- Operators commute
SELECT a <-> b = b <-> a, a <#> b = b <#> a, a <=> b = b <=> a, a <+> b = b <+> a
FROM (VALUES ('[1,2,3]'::vector, '[-4,0.5,9]'::vector)) t(a, b);

-- Long (TOASTed) vectors against a double-precision reference computed in SQL
CREATE TABLE vops_long (a vector, b vector, l2 float8, ip float8, l1 float8, cs float8, na float8);
INSERT INTO vops_long
SELECT array_agg(x ORDER BY i)::vector, array_agg(y ORDER BY i)::vector,
       sqrt(sum((x::float8 - y::float8) ^ 2)), sum(x::float8 * y::float8),
       sum(abs(x::float8 - y::float8)),
       sum(x::float8 * y::float8) / sqrt(sum(x::float8 ^ 2) * sum(y::float8 ^ 2)),
       sqrt(sum(x::float8 ^ 2))
FROM (SELECT n, i, ((i * 37 + n) % 101 - 50)::real / 16 AS x,
             ((i * 53 + 7 * n) % 89 - 44)::real / 8 AS y
      FROM generate_series(1, 3) n, generate_series(1, n * 1537) i) s
GROUP BY n;
SELECT vector_dims(a) AS dims,
       abs((a <-> b) - l2) <= 1e-6 * l2 AS l2_ok,
       abs((a <#> b) + ip) <= 1e-6 * (l1 * 10) AS ip_ok,
       abs((a <+> b) - l1) <= 1e-6 * l1 AS l1_ok,
       abs((a <=> b) - (1 - cs)) <= 1e-6 AS cos_ok,
       abs(cosine_similarity(a, b) - cs) <= 1e-6 AS sim_ok,
       abs(vector_norm(a) - na) <= 1e-12 * na AS norm_ok,
       abs(vector_norm(l2_normalize(a)) - 1) <= 1e-6 AS unit_ok
FROM vops_long ORDER BY 1;
DROP TABLE vops_long;

-- Dimension mismatch: 22000
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[1,2]'::vector <-> '[1,2,3]'$$),
	($$SELECT '[1,2]'::vector <#> '[1,2,3]'$$),
	($$SELECT '[1,2]'::vector <=> '[1,2,3]'$$),
	($$SELECT '[1,2]'::vector <+> '[1,2,3]'$$),
	($$SELECT l2_squared_distance('[1,2]', '[1,2,3]')$$),
	($$SELECT inner_product('[1,2]', '[1,2,3]')$$),
	($$SELECT cosine_similarity('[1,2]', '[1,2,3]')$$),
	($$SELECT '[1,2]'::vector + '[1,2,3]'$$),
	($$SELECT '[1,2]'::vector - '[1,2,3]'$$),
	($$SELECT '[1,2]'::vector * '[1,2,3]'$$)
) t(q);
SELECT '[1,2]'::vector <-> '[1,2,3]';

-- Element-wise arithmetic and concatenation
SELECT '[1,2,3]'::vector + '[4,5,6]' AS add, '[1,2,3]'::vector - '[4,5,6]' AS sub,
       '[1,2,3]'::vector * '[4,5,-6]' AS mul, '[1,2]'::vector || '[3]' AS concat;
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[3e38]'::vector + '[3e38]'$$),
	($$SELECT '[-3e38]'::vector - '[3e38]'$$),
	($$SELECT '[1e20,1]'::vector * '[1e20,1]'$$),
	($$SELECT '[1e-30]'::vector * '[1e-30]'$$),
	($$SELECT array_fill(1, ARRAY[16000])::vector || '[1]'$$),
	($$SELECT '[1]'::vector || array_fill(1, ARRAY[16000])::vector$$)
) t(q);
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8000])::vector);

-- Norms
SELECT vector_dims('[1,2,3]'), vector_norm('[3,4]'), vector_norm('[0,0,0]'),
       vector_norm('[-1e30,1e30]') BETWEEN 1.414e30 AND 1.415e30 AS norm_no_overflow;
SELECT l2_normalize('[3,4]'), l2_normalize('[0,0,0]') AS zero_stays_zero,
       l2_normalize('[1e-45,0]') AS denormal, l2_normalize('[-2]');

-- subvector(v, start, count): 1-based, clipped like substring()
SELECT subvector('[1,2,3,4,5]', 2, 3), subvector('[1,2,3,4,5]', 1, 1),
       subvector('[1,2,3,4,5]', 0, 3) AS clipped_start,
       subvector('[1,2,3,4,5]', 4, 100) AS clipped_end,
       subvector('[1,2,3]', 2, 2147483647) AS no_overflow;
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT subvector('[1,2,3]', 4, 1)$$),
	($$SELECT subvector('[1,2,3]', 2, 0)$$),
	($$SELECT subvector('[1,2,3]', 2, -1)$$),
	($$SELECT subvector('[1,2,3]', -5, 6)$$),
	($$SELECT subvector('[1,2,3]', -2147483648, 2147483647)$$),
	($$SELECT subvector('[1,2,3]', 2147483647, 2147483647)$$)
) t(q);

-- Comparison: element by element, then by dimensions (like arrays)
SELECT a, b, vector_cmp(a, b) AS cmp, a < b AS lt, a <= b AS le, a = b AS eq,
       a <> b AS ne, a >= b AS ge, a > b AS gt
FROM (VALUES ('[1,2]'::vector, '[1,3]'::vector), ('[1,2]', '[1,2]'), ('[2]', '[1,5]'),
             ('[1,2]', '[1,2,0]'), ('[0]', '[-0]'), ('[-1]', '[1]')) t(a, b);

-- B-tree operator class: ORDER BY, DISTINCT, UNIQUE, index scans
CREATE TABLE vops (id serial, v vector);
INSERT INTO vops (v) VALUES ('[3,1]'), ('[1,2,3]'), ('[1,2]'), ('[3,1]'), ('[-1,5]'), ('[1,2]'), ('[0]');
SELECT v FROM vops ORDER BY v;
SELECT v FROM vops ORDER BY v DESC;
SELECT DISTINCT v FROM vops ORDER BY v;
SELECT v, count(*) FROM vops GROUP BY v ORDER BY v;
SELECT pg_temp.err('CREATE UNIQUE INDEX ON vops (v)');
DELETE FROM vops WHERE id IN (4, 6);
CREATE UNIQUE INDEX vops_v_idx ON vops (v);
SELECT pg_temp.err($$INSERT INTO vops (v) VALUES ('[1,2,3]')$$);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM vops WHERE v = '[1,2]';
SELECT v FROM vops WHERE v = '[1,2]';
SELECT v FROM vops WHERE v > '[1,2]' ORDER BY v;
EXPLAIN (COSTS OFF) SELECT v FROM vops ORDER BY v;
SELECT v FROM vops ORDER BY v;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET enable_indexonlyscan;
DROP TABLE vops;

-- Operator metadata
SELECT oprname, format_type(oprleft, NULL) AS l, format_type(oprright, NULL) AS r,
       format_type(oprresult, NULL) AS result, oprcode,
       (SELECT c.oprname FROM pg_operator c WHERE c.oid = o.oprcom) AS commutator,
       (SELECT n.oprname FROM pg_operator n WHERE n.oid = o.oprnegate) AS negator
FROM pg_operator o WHERE oprleft = 'vector'::regtype ORDER BY oprname;

-- Every function of the type is IMMUTABLE, STRICT and PARALLEL SAFE
SELECT count(*) AS functions,
       count(*) FILTER (WHERE provolatile <> 'i' OR NOT proisstrict OR proparallel <> 's') AS wrong
FROM pg_proc WHERE prosrc LIKE 'embed\_vector\_%' AND probin LIKE '%embed';
