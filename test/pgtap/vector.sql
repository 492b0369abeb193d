-- pgTAP: the API contract of the vector type (objects, their properties,
-- behaviour and the SQLSTATE of every user-facing error).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS embed;
SELECT plan(260);

-- Functions: name and argument types
CREATE TEMP TABLE vector_functions (name name, args name[]);
INSERT INTO vector_functions VALUES
	('vector_in', '{cstring,oid,integer}'),
	('vector_out', '{vector}'),
	('vector_typmod_in', '{cstring[]}'),
	('vector_typmod_out', '{integer}'),
	('vector_recv', '{internal,oid,integer}'),
	('vector_send', '{vector}'),
	('vector', '{vector,integer,boolean}'),
	('array_to_vector', '{integer[],integer,boolean}'),
	('array_to_vector', '{real[],integer,boolean}'),
	('array_to_vector', '{"double precision[]",integer,boolean}'),
	('array_to_vector', '{numeric[],integer,boolean}'),
	('vector_to_float4', '{vector,integer,boolean}'),
	('l2_distance', '{vector,vector}'),
	('l2_squared_distance', '{vector,vector}'),
	('inner_product', '{vector,vector}'),
	('vector_negative_inner_product', '{vector,vector}'),
	('cosine_distance', '{vector,vector}'),
	('cosine_similarity', '{vector,vector}'),
	('l1_distance', '{vector,vector}'),
	('vector_dims', '{vector}'),
	('vector_norm', '{vector}'),
	('l2_normalize', '{vector}'),
	('subvector', '{vector,integer,integer}'),
	('vector_add', '{vector,vector}'),
	('vector_sub', '{vector,vector}'),
	('vector_mul', '{vector,vector}'),
	('vector_concat', '{vector,vector}'),
	('vector_lt', '{vector,vector}'),
	('vector_le', '{vector,vector}'),
	('vector_eq', '{vector,vector}'),
	('vector_ne', '{vector,vector}'),
	('vector_ge', '{vector,vector}'),
	('vector_gt', '{vector,vector}'),
	('vector_cmp', '{vector,vector}'),
	('vector_accum', '{"double precision[]",vector}'),
	('vector_combine', '{"double precision[]","double precision[]"}'),
	('vector_avg', '{"double precision[]"}'),
	('vector_sum', '{"double precision[]"}');

-- 38 functions x 4 properties = 152 tests
SELECT has_function(name, args) FROM vector_functions;
SELECT volatility_is(name, args, 'immutable') FROM vector_functions;
SELECT is_strict(name, args) FROM vector_functions;
SELECT is((SELECT proparallel FROM pg_proc
           WHERE oid = to_regprocedure(format('%I(%s)', name, array_to_string(args, ',')))),
          's', format('%s(%s) should be PARALLEL SAFE', name, array_to_string(args, ', ')))
FROM vector_functions;

-- Type, operator class (4)
SELECT has_type('vector');
SELECT has_opclass('vector_ops');
SELECT is((SELECT opcdefault FROM pg_opclass WHERE opcname = 'vector_ops'
           AND opcmethod = (SELECT oid FROM pg_am WHERE amname = 'btree')),
          true, 'vector_ops is the default btree operator class');
SELECT is((SELECT typstorage FROM pg_type WHERE oid = 'vector'::regtype), 'e',
          'vector uses EXTERNAL storage like pgvector');

-- Operators (14)
SELECT has_operator('vector', op, 'vector', result)
FROM (VALUES ('<->', 'double precision'), ('<#>', 'double precision'),
             ('<=>', 'double precision'), ('<+>', 'double precision'),
             ('+', 'vector'), ('-', 'vector'), ('*', 'vector'), ('||', 'vector'),
             ('<', 'boolean'), ('<=', 'boolean'), ('=', 'boolean'), ('<>', 'boolean'),
             ('>=', 'boolean'), ('>', 'boolean')) t(op, result);

-- Casts and their contexts (12)
SELECT has_cast(src, dst, fn) FROM (VALUES
	('vector', 'vector', 'vector'),
	('vector', 'real[]', 'vector_to_float4'),
	('integer[]', 'vector', 'array_to_vector'),
	('real[]', 'vector', 'array_to_vector'),
	('double precision[]', 'vector', 'array_to_vector'),
	('numeric[]', 'vector', 'array_to_vector')) t(src, dst, fn);
SELECT cast_context_is(src, dst, ctx) FROM (VALUES
	('vector', 'vector', 'implicit'),
	('vector', 'real[]', 'implicit'),
	('integer[]', 'vector', 'assignment'),
	('real[]', 'vector', 'assignment'),
	('double precision[]', 'vector', 'assignment'),
	('numeric[]', 'vector', 'assignment')) t(src, dst, ctx);

-- Aggregates (6)
SELECT is_aggregate('avg', ARRAY['vector']);
SELECT is_aggregate('sum', ARRAY['vector']);
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'avg(vector)'::regprocedure), 's',
          'avg(vector) should be PARALLEL SAFE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'sum(vector)'::regprocedure), 's',
          'sum(vector) should be PARALLEL SAFE');
SELECT is((SELECT aggcombinefn::text FROM pg_aggregate WHERE aggfnoid = 'avg(vector)'::regprocedure),
          'vector_combine', 'avg(vector) has a combine function');
SELECT is((SELECT aggcombinefn::text FROM pg_aggregate WHERE aggfnoid = 'sum(vector)'::regprocedure),
          'vector_combine', 'sum(vector) has a combine function');

-- Behaviour (26)
SELECT is('[1,2,3]'::vector::text, '[1,2,3]', 'text round trip');
SELECT is(' [ 1 , 2 ] '::vector::text, '[1,2]', 'whitespace is tolerated');
SELECT is('[0.1,0.33333334,3.4028235e38]'::vector::text, '[0.1,0.33333334,3.4028235e+38]',
          'shortest round-trip float output');
SELECT is(vector_send('[1,2,3]'), '\x000300003f8000004000000040400000'::bytea,
          'binary form: int16 dim, int16 unused, big-endian float4');
SELECT is('[0,0]'::vector <-> '[3,4]', 5::float8, '<-> is the Euclidean distance');
SELECT is(l2_squared_distance('[0,0]', '[3,4]'), 25::float8, 'l2_squared_distance');
SELECT is('[1,2]'::vector <#> '[3,4]', -11::float8, '<#> is the negative inner product');
SELECT is(inner_product('[1,2]', '[3,4]'), 11::float8, 'inner_product');
SELECT is('[1,0]'::vector <=> '[0,1]', 1::float8, '<=> is the cosine distance');
SELECT is(cosine_similarity('[1,0]', '[-1,0]'), -1::float8, 'cosine_similarity');
SELECT is('[1,2]'::vector <+> '[4,-2]', 7::float8, '<+> is the L1 distance');
SELECT is('[0,0]'::vector <=> '[1,1]', 'NaN'::float8, 'cosine distance with a zero vector is NaN');
SELECT is(l2_normalize('[0,0]')::text, '[0,0]', 'l2_normalize of the zero vector is the zero vector');
SELECT is(l2_normalize('[3,4]')::text, '[0.6,0.8]', 'l2_normalize');
SELECT is(vector_norm('[3,4]'), 5::float8, 'vector_norm');
SELECT is(vector_dims('[1,2,3]'), 3, 'vector_dims');
SELECT is(subvector('[1,2,3,4]', 2, 2)::text, '[2,3]', 'subvector');
SELECT is(('[1,2]'::vector + '[3,4]')::text, '[4,6]', '+ is element-wise');
SELECT is(('[1,2]'::vector - '[3,4]')::text, '[-2,-2]', '- is element-wise');
SELECT is(('[1,2]'::vector * '[3,4]')::text, '[3,8]', '* is element-wise');
SELECT is(('[1,2]'::vector || '[3]')::text, '[1,2,3]', '|| concatenates');
SELECT is(vector_cmp('[1,2]', '[1,2,0]'), -1, 'a prefix sorts first');
SELECT results_eq($$SELECT v::text FROM (VALUES ('[2]'::vector), ('[1,5]'), ('[1,2]')) t(v) ORDER BY v$$,
                  ARRAY['[1,2]', '[1,5]', '[2]'], 'ORDER BY uses the btree operator class');
SELECT is((SELECT avg(v)::text FROM (VALUES ('[1,2]'::vector), ('[3,4]')) t(v)), '[2,3]', 'avg(vector)');
SELECT is((SELECT sum(v)::text FROM (VALUES ('[1,2]'::vector), ('[3,4]')) t(v)), '[4,6]', 'sum(vector)');
SELECT is(('{1,2}'::real[]::vector)::real[], '{1,2}'::real[], 'array casts round trip');

-- Errors in text input (12)
SELECT throws_ok($$SELECT '[1,2'::vector$$, '22P02', NULL, 'unterminated literal: 22P02');
SELECT throws_ok($$SELECT '[1,,2]'::vector$$, '22P02', NULL, 'empty element: 22P02');
SELECT throws_ok($$SELECT '[]'::vector$$, '22P02', NULL, 'no element: 22P02');
SELECT throws_ok($$SELECT '[1,2] x'::vector$$, '22P02', NULL, 'junk after ]: 22P02');
SELECT throws_ok($$SELECT ''::vector$$, '22P02', NULL, 'empty string: 22P02');
SELECT throws_ok($$SELECT '1,2]'::vector$$, '22P02', NULL, 'missing [: 22P02');
SELECT throws_ok($$SELECT '[NaN]'::vector$$, '22023', 'NaN not allowed in vector', 'NaN: 22023');
SELECT throws_ok($$SELECT '[Infinity]'::vector$$, '22023', 'infinite value not allowed in vector',
                 'Infinity: 22023');
SELECT throws_ok($$SELECT '[1e39]'::vector$$, '22003', '"1e39" is out of range for type vector',
                 'out of float range: 22003');
SELECT throws_ok($$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$$, '54000',
                 'vector cannot have more than 16000 dimensions', '16001 dimensions: 54000');
SELECT throws_ok($$SELECT '[1,2]'::vector(3)$$, '22000', 'expected 3 dimensions, not 2',
                 'typmod violation: 22000');
SELECT throws_ok($$SELECT '[1,2,3]'::vector::vector(2)$$, '22000', 'expected 2 dimensions, not 3',
                 'length coercion: 22000');

-- Errors in type modifiers (3)
SELECT throws_ok($$CREATE TEMP TABLE t0 (v vector(0))$$, '22023',
                 'dimensions for type vector must be at least 1', 'vector(0): 22023');
SELECT throws_ok($$CREATE TEMP TABLE t0 (v vector(16001))$$, '22023',
                 'dimensions for type vector cannot exceed 16000', 'vector(16001): 22023');
SELECT throws_ok($$CREATE TEMP TABLE t0 (v vector(2, 3))$$, '22023', 'invalid type modifier',
                 'two modifiers: 22023');

-- Errors in operators and functions (12)
SELECT throws_ok($$SELECT '[1,2]'::vector <-> '[1,2,3]'$$, '22000',
                 'different vector dimensions 2 and 3', 'dimension mismatch in <->: 22000');
SELECT throws_ok($$SELECT '[1,2]'::vector <=> '[1]'$$, '22000', NULL, 'dimension mismatch in <=>: 22000');
SELECT throws_ok($$SELECT '[1,2]'::vector + '[1]'$$, '22000', NULL, 'dimension mismatch in +: 22000');
SELECT throws_ok($$SELECT '[3e38]'::vector + '[3e38]'$$, '22003', 'value out of range: overflow',
                 'overflow in +: 22003');
SELECT throws_ok($$SELECT '[-3e38]'::vector - '[3e38]'$$, '22003', NULL, 'overflow in -: 22003');
SELECT throws_ok($$SELECT '[1e20]'::vector * '[1e20]'$$, '22003', NULL, 'overflow in *: 22003');
SELECT throws_ok($$SELECT '[1e-30]'::vector * '[1e-30]'$$, '22003', 'value out of range: underflow',
                 'underflow in *: 22003');
SELECT throws_ok($$SELECT array_fill(1, ARRAY[16000])::vector || '[1]'$$, '54000', NULL,
                 '|| beyond 16000 dimensions: 54000');
SELECT throws_ok($$SELECT subvector('[1,2,3]', 4, 1)$$, '22023',
                 'subvector must have at least 1 dimension', 'subvector past the end: 22023');
SELECT throws_ok($$SELECT subvector('[1,2,3]', 1, 0)$$, '22023', NULL, 'subvector of count 0: 22023');
SELECT throws_ok($$SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)$$, '22003', NULL,
                 'sum beyond the float range: 22003');
SELECT throws_ok($$SELECT avg(v) FROM (VALUES ('[1]'::vector), ('[1,2]')) t(v)$$, '22000', NULL,
                 'avg over mixed dimensions: 22000');

-- Errors in array casts (6)
SELECT throws_ok($$SELECT '{1,NULL}'::integer[]::vector$$, '22004', 'array must not contain nulls',
                 'NULL element: 22004');
SELECT throws_ok($$SELECT '{{1},{2}}'::real[]::vector$$, '22000', 'array must be 1-D', '2-D array: 22000');
SELECT throws_ok($$SELECT '{}'::real[]::vector$$, '22000', 'vector must have at least 1 dimension',
                 'empty array: 22000');
SELECT throws_ok($$SELECT '{NaN}'::real[]::vector$$, '22023', NULL, 'NaN element: 22023');
SELECT throws_ok($$SELECT '{1e300}'::float8[]::vector$$, '22003', NULL, 'float8 out of float range: 22003');
SELECT throws_ok($$SELECT '{1,2}'::real[]::vector(3)$$, '22000', NULL, 'array typmod violation: 22000');

-- Binary input through binary COPY (vector_recv); a bytea field's bytes in a
-- binary COPY file are its raw contents, so they reach the receive function.
CREATE FUNCTION pg_temp.binary_copy_file(msg bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/embed_vector_recv_pgtap.bin';
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', msg, f);
	RETURN f;
END $$;
CREATE TEMP TABLE recv_target (v vector);
CREATE TEMP TABLE recv_target3 (v vector(3));

-- (11)
SELECT lives_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                       pg_temp.binary_copy_file(vector_send('[1,-2.5,3]'))), 'binary COPY of a valid vector');
SELECT is((SELECT v::text FROM recv_target), '[1,-2.5,3]', 'binary round trip');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\x0000000000000000')), '22P03', 'invalid external vector',
                 'binary dim 0: 22P03');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\xffff0000')), '22P03', NULL, 'binary dim -1: 22P03');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\x3e810000')), '54000', NULL, 'binary dim 16001: 54000');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\x000100013f800000')), '22P03', NULL, 'binary unused != 0: 22P03');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\x000100007fc00000')), '22023', NULL, 'binary NaN: 22023');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\x000100007f800000')), '22023', NULL, 'binary Infinity: 22023');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\x000300003f800000')), '22P03', NULL, 'binary short data: 22P03');
SELECT throws_ok(format('COPY recv_target FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file('\x0001')), '22P03', NULL, 'binary short header: 22P03');
SELECT throws_ok(format('COPY recv_target3 FROM %L (FORMAT binary)',
                        pg_temp.binary_copy_file(vector_send('[1,2]'))), '22000', NULL, 'binary typmod violation: 22000');

-- Aggregate state validation (2)
SELECT throws_ok($$SELECT vector_avg('{{1,2}}')$$, '22023', 'invalid vector aggregate state',
                 'malformed aggregate state: 22023');
SELECT throws_ok($$SELECT vector_accum('{1,1,2}', '[1]')$$, '22000', NULL,
                 'state of other dimensions: 22000');

SELECT * FROM finish();
ROLLBACK;
