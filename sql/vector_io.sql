--
-- vector: text and binary input/output, type modifier, casts to and from arrays
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

-- Text form
SELECT '[1,2,3]'::vector;
SELECT ' [ 1 , -2.5 ,3e2 ] '::vector;
SELECT E'\t[1,\n2]\r\n'::vector;
SELECT '[+1.5, -0, 0.1]'::vector;
-- shortest output that reads back to the same float
SELECT '[0.1, 0.30000001, 1e-45, 3.4028235e38, 1.17549435e-38, 16777217, 0.33333334]'::vector;
-- underflow rounds to zero like pgvector
SELECT '[1e-46]'::vector;

-- Every float4 survives text and binary round trips exactly.
SELECT setseed(0.42);
SELECT count(*) AS round_trip_failures
FROM (SELECT array_agg((random() - 0.5)::real * (10 ^ (random() * 60 - 30))::real)::vector AS v
      FROM generate_series(1, 20000) i GROUP BY i % 200) s
WHERE v::text::vector::text <> v::text
   OR vector_to_float4(v::text::vector, -1, false) <> vector_to_float4(v, -1, false);

-- Malformed text: 22P02
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[1,2'::vector$$),
	($$SELECT '[1,,2]'::vector$$),
	($$SELECT '[1,2,]'::vector$$),
	($$SELECT '[]'::vector$$),
	($$SELECT '[ ]'::vector$$),
	($$SELECT '[1,2] x'::vector$$),
	($$SELECT '[1,2]]'::vector$$),
	($$SELECT ''::vector$$),
	($$SELECT '   '::vector$$),
	($$SELECT '1,2]'::vector$$),
	($$SELECT '{1,2}'::vector$$),
	($$SELECT '[1 2]'::vector$$),
	($$SELECT '[a]'::vector$$),
	($$SELECT ('[1,2' || chr(9) || 'x]')::vector$$)
) t(q);
-- what a user sees
SELECT '[1,2'::vector;
SELECT '[]'::vector;
SELECT '[1,2] junk'::vector;

-- Non-finite and out-of-range elements
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[NaN]'::vector$$),
	($$SELECT '[1,nan]'::vector$$),
	($$SELECT '[Infinity]'::vector$$),
	($$SELECT '[-inf]'::vector$$),
	($$SELECT '[1e39]'::vector$$),
	($$SELECT '[-1e39]'::vector$$),
	($$SELECT '[3.5e38]'::vector$$)
) t(q);

-- Dimension limit: 16000 is fine, 16001 is 54000
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::vector);
SELECT pg_temp.err($$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$$);
SELECT pg_temp.err($$SELECT ('[' || repeat('1,', 100000) || '1]')::vector$$);

-- Type modifier
CREATE TABLE vio (v vector(3));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'vio'::regclass AND attname = 'v';
INSERT INTO vio VALUES ('[1,2,3]');
SELECT '[1,2,3]'::vector(3), '[1,2,3]'::vector::vector(3);
SELECT q, pg_temp.err(q) FROM (VALUES
	($$INSERT INTO vio VALUES ('[1,2]')$$),
	($$INSERT INTO vio VALUES ('[1,2]'::vector)$$),
	($$SELECT '[1,2]'::vector(3)$$),
	($$SELECT '[1,2,3,4]'::vector::vector(3)$$),
	($$CREATE TABLE vio_bad (v vector(0))$$),
	($$CREATE TABLE vio_bad (v vector(-1))$$),
	($$CREATE TABLE vio_bad (v vector(16001))$$),
	($$CREATE TABLE vio_bad (v vector(3, 4))$$),
	($$SELECT '[1]'::vector(16001)$$)
) t(q);
SELECT '[1,2]'::vector(3);
CREATE TABLE vio_bad (v vector(0));

-- Casts from arrays (assignment) and to real[] (implicit)
SELECT '{1,2,3}'::integer[]::vector, '{1.5,-2}'::real[]::vector,
       '{0.1,2}'::double precision[]::vector, '{1.25,2}'::numeric[]::vector;
SELECT '[1,2,3]'::vector::real[], array_to_vector('{4,5}'::real[], 2, false),
       vector_to_float4('[1.5]', -1, true);
INSERT INTO vio VALUES ('{4,5,6}'::integer[]), ('{7,8,9}'::real[]),
                       ('{1.5,2.5,3.5}'::double precision[]), ('{0.5,0,1}'::numeric[]);
SELECT v FROM vio ORDER BY v;
SELECT '{1,2}'::real[]::vector(2);
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '{}'::integer[]::vector$$),
	($$SELECT '{{1,2},{3,4}}'::real[]::vector$$),
	($$SELECT '{1,NULL}'::integer[]::vector$$),
	($$SELECT '{1,2}'::real[]::vector(3)$$),
	($$SELECT '{NaN}'::real[]::vector$$),
	($$SELECT '{Infinity}'::double precision[]::vector$$),
	($$SELECT '{-Infinity}'::numeric[]::vector$$),
	($$SELECT '{NaN}'::numeric[]::vector$$),
	($$SELECT '{1e300}'::double precision[]::vector$$),
	($$SELECT '{1e39}'::numeric[]::vector$$),
	($$SELECT array_fill(1, ARRAY[16001])::vector$$),
	($$SELECT 'x'::text::vector(2)$$)
) t(q);
SELECT vector_dims(array_fill(1.5::real, ARRAY[16000])::vector);

-- Binary form: int16 dim, int16 unused, big-endian float4 (pgvector's)
SELECT vector_send('[1,2,3]'), vector_send('[-0.5]');

-- recv(msg, column type): the value binary COPY reads from a field holding
-- msg (a bytea field's bytes in a binary COPY file are its raw contents),
-- or the error it raises.
CREATE FUNCTION pg_temp.recv(msg bytea, coltype text DEFAULT 'vector') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/embed_vector_recv_test.bin';
	result text;
	detail text;
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', msg, f);
	EXECUTE format('CREATE TEMP TABLE recv_target (v %s)', coltype);
	EXECUTE format('COPY recv_target FROM %L (FORMAT binary)', f);
	SELECT v::text INTO result FROM recv_target;
	DROP TABLE recv_target;
	RETURN result;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || detail || ')', ' ()'), '');
END $$;

SELECT pg_temp.recv(vector_send('[1,2,3]'));
SELECT pg_temp.recv(vector_send('[1,2,3]'), 'vector(3)');
SELECT pg_temp.recv('\x00020000bf8000007f7fffff');
SELECT what, pg_temp.recv(msg, coltype) FROM (VALUES
	('dims 0',             '\x0000000000000000'::bytea, 'vector'),
	('dims -1',            '\xffff0000', 'vector'),
	('dims 16001',         '\x3e810000', 'vector'),
	('dims 32767',         '\x7fff0000', 'vector'),
	('unused 1',           '\x000100013f800000', 'vector'),
	('unused -1',          '\x0001ffff3f800000', 'vector'),
	('NaN',                '\x000100007fc00000', 'vector'),
	('+Infinity',          '\x000100007f800000', 'vector'),
	('-Infinity',          '\x00020000ff8000003f800000', 'vector'),
	('empty message',      '\x', 'vector'),
	('1-byte message',     '\x00', 'vector'),
	('3-byte message',     '\x000100', 'vector'),
	('header only',        '\x00010000', 'vector'),
	('short data',         '\x000300003f80000040000000', 'vector'),
	('partial float',      '\x000100003f8000', 'vector'),
	('trailing bytes',     '\x000100003f80000000', 'vector'),
	('typmod mismatch',    '\x000100003f800000', 'vector(2)')
) t(what, msg, coltype);

-- Binary COPY round trip of a whole table
CREATE TABLE vio_copy (id int, v vector);
INSERT INTO vio_copy SELECT i, array_fill(i::real / 7, ARRAY[i])::vector FROM generate_series(1, 50) i;
DO $$
BEGIN
	EXECUTE format('COPY vio_copy TO %L (FORMAT binary)',
				   current_setting('data_directory') || '/embed_vector_recv_test.bin');
	CREATE TEMP TABLE vio_copy2 (LIKE vio_copy);
	EXECUTE format('COPY vio_copy2 FROM %L (FORMAT binary)',
				   current_setting('data_directory') || '/embed_vector_recv_test.bin');
END $$;
SELECT count(*) AS rows, count(*) FILTER (WHERE a.v::text = b.v::text) AS identical
FROM vio_copy a JOIN vio_copy2 b USING (id);

DROP TABLE vio, vio_copy, vio_copy2;
