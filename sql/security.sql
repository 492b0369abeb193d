--
-- Extension script and objects under a hostile search_path
--
-- A role that may create objects plants functions and operators whose names
-- and argument types match the extension's, in a schema placed first on the
-- search_path, before and after CREATE EXTENSION.  Each raises an error if it
-- is ever called.  The extension's casts, aggregates, operators and operator
-- class must keep using their own functions, and a schema that already holds
-- one of the extension's functions must make CREATE EXTENSION fail instead of
-- being taken over.  This runs in a database of its own so that the
-- regression database keeps its extension.
--
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_embed_security WITH (FORCE);
DROP ROLE IF EXISTS regress_embed_hostile;
CREATE DATABASE regress_embed_security TEMPLATE template0;
CREATE ROLE regress_embed_hostile;
\c regress_embed_security
SET client_min_messages = warning;
CREATE SCHEMA hostile AUTHORIZATION regress_embed_hostile;
GRANT USAGE ON SCHEMA hostile TO PUBLIC;
CREATE SCHEMA taken AUTHORIZATION regress_embed_hostile;

-- 1. A function already in the target schema is not silently replaced.
SET ROLE regress_embed_hostile;
CREATE FUNCTION taken.vector_typmod_in(cstring[]) RETURNS integer
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_typmod_in called'; END $$;
RESET ROLE;
CREATE EXTENSION embed SCHEMA taken;
SELECT count(*) AS embed_installed FROM pg_extension WHERE extname = 'embed';

-- 2. Traps planted before the extension exists, first on the search_path.
SET ROLE regress_embed_hostile;
CREATE FUNCTION hostile.trap_any(anyelement, anyelement) RETURNS boolean
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile operator called'; END $$;
CREATE FUNCTION hostile.array_to_vector(anyarray, integer, boolean) RETURNS text
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile array_to_vector called'; END $$;
CREATE FUNCTION hostile.vector_accum(double precision[], anyelement) RETURNS double precision[]
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_accum called'; END $$;
CREATE FUNCTION hostile.vector_combine(double precision[], double precision[]) RETURNS double precision[]
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_combine called'; END $$;
CREATE FUNCTION hostile.vector_avg(double precision[]) RETURNS text
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_avg called'; END $$;
CREATE FUNCTION hostile.vector_typmod_in(cstring[]) RETURNS integer
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_typmod_in called'; END $$;
CREATE OPERATOR hostile.< (LEFTARG = anyelement, RIGHTARG = anyelement, FUNCTION = hostile.trap_any);
CREATE OPERATOR hostile.= (LEFTARG = anyelement, RIGHTARG = anyelement, FUNCTION = hostile.trap_any);
CREATE OPERATOR hostile.<-> (LEFTARG = anyelement, RIGHTARG = anyelement, FUNCTION = hostile.trap_any);
RESET ROLE;

SET search_path = hostile, public;
CREATE SCHEMA embed_target;
GRANT USAGE ON SCHEMA embed_target TO PUBLIC;
CREATE EXTENSION embed SCHEMA embed_target;
SELECT extname, extnamespace::regnamespace FROM pg_extension WHERE extname = 'embed';

-- 3. Traps with the exact signatures, planted after the extension exists.
SET ROLE regress_embed_hostile;
CREATE FUNCTION hostile.trap_vv(embed_target.vector, embed_target.vector) RETURNS boolean
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector operator called'; END $$;
CREATE FUNCTION hostile.trap_dist(embed_target.vector, embed_target.vector) RETURNS double precision
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile distance called'; END $$;
CREATE FUNCTION hostile.l2_distance(embed_target.vector, embed_target.vector) RETURNS double precision
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile l2_distance called'; END $$;
CREATE FUNCTION hostile.cosine_distance(embed_target.vector, embed_target.vector) RETURNS double precision
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile cosine_distance called'; END $$;
CREATE FUNCTION hostile.vector_cmp(embed_target.vector, embed_target.vector) RETURNS integer
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_cmp called'; END $$;
CREATE FUNCTION hostile.vector_accum(double precision[], embed_target.vector) RETURNS double precision[]
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_accum called'; END $$;
CREATE FUNCTION hostile.vector_sum(double precision[]) RETURNS embed_target.vector
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_sum called'; END $$;
CREATE FUNCTION hostile.vector_to_float4(embed_target.vector, integer, boolean) RETURNS real[]
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector_to_float4 called'; END $$;
CREATE FUNCTION hostile.vector(embed_target.vector, integer, boolean) RETURNS embed_target.vector
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile vector() called'; END $$;
CREATE OPERATOR hostile.< (LEFTARG = embed_target.vector, RIGHTARG = embed_target.vector, FUNCTION = hostile.trap_vv);
CREATE OPERATOR hostile.= (LEFTARG = embed_target.vector, RIGHTARG = embed_target.vector, FUNCTION = hostile.trap_vv);
CREATE OPERATOR hostile.> (LEFTARG = embed_target.vector, RIGHTARG = embed_target.vector, FUNCTION = hostile.trap_vv);
CREATE OPERATOR hostile.<-> (LEFTARG = embed_target.vector, RIGHTARG = embed_target.vector, FUNCTION = hostile.trap_dist);
CREATE OPERATOR hostile.<=> (LEFTARG = embed_target.vector, RIGHTARG = embed_target.vector, FUNCTION = hostile.trap_dist);
RESET ROLE;

-- 4. Use the extension with the hostile schema first on the search_path.
SET search_path = hostile, embed_target, public;
CREATE TABLE public.sec (v embed_target.vector(2));
INSERT INTO public.sec VALUES ('[3,1]'), ('[1,2]'), ('{2,2}'::integer[]), ('{1,2}'::real[]),
	('{0.5,4}'::double precision[]), ('{1,1}'::numeric[]);
SELECT v FROM public.sec ORDER BY v;
SELECT DISTINCT v FROM public.sec ORDER BY v;
SELECT v, count(*) FROM public.sec GROUP BY v ORDER BY v;
SELECT embed_target.avg(v), embed_target.sum(v) FROM public.sec;
SELECT v::real[] AS to_array, v::embed_target.vector(2) AS coerced FROM public.sec ORDER BY v LIMIT 2;
SELECT round((v OPERATOR(embed_target.<->) '[0,0]')::numeric, 6) AS l2,
       round((v OPERATOR(embed_target.<=>) '[1,0]')::numeric, 6) AS cos,
       v OPERATOR(embed_target.<#>) '[1,1]' AS neg_ip, v OPERATOR(embed_target.<+>) '[0,0]' AS l1,
       round(embed_target.cosine_similarity(v, '[1,0]')::numeric, 6) AS sim
FROM public.sec ORDER BY v LIMIT 3;
SELECT count(*) FROM public.sec WHERE v OPERATOR(embed_target.=) '[1,2]';
DELETE FROM public.sec WHERE ctid NOT IN (SELECT min(ctid) FROM public.sec GROUP BY v);
CREATE UNIQUE INDEX sec_v_idx ON public.sec (v);
SET enable_seqscan = off;
SELECT v FROM public.sec WHERE v OPERATOR(embed_target.>) '[1,1]' ORDER BY v;
RESET enable_seqscan;
-- the extension's own objects resolve to themselves: names as the catalog sees them
SELECT a.aggfnoid::regprocedure AS aggregate, a.aggtransfn::regprocedure AS transfn,
       a.aggfinalfn::regprocedure AS finalfn, a.aggcombinefn::regprocedure AS combinefn
FROM pg_aggregate a
WHERE a.aggfnoid IN ('embed_target.avg(embed_target.vector)'::regprocedure,
                     'embed_target.sum(embed_target.vector)'::regprocedure)
ORDER BY 1::text;

-- 5. Catalog check: every function the extension's objects reference lives
-- in the extension's schema or in pg_catalog.
SELECT kind, object, ref::regprocedure AS referenced_function
FROM (
	SELECT 'operator' AS kind, o.oid::regoperator::text AS object, r.ref
	FROM pg_operator o, LATERAL (VALUES (o.oprcode), (o.oprrest), (o.oprjoin)) r(ref)
	WHERE o.oid IN (SELECT objid FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed') AND classid = 'pg_operator'::regclass)
	UNION ALL
	SELECT 'aggregate', a.aggfnoid::regprocedure::text, r.ref
	FROM pg_aggregate a, LATERAL (VALUES (a.aggtransfn), (a.aggfinalfn), (a.aggcombinefn), (a.aggserialfn), (a.aggdeserialfn)) r(ref)
	WHERE a.aggfnoid IN (SELECT objid FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed') AND classid = 'pg_proc'::regclass)
	UNION ALL
	SELECT 'cast', c.castsource::regtype || ' -> ' || c.casttarget::regtype, c.castfunc
	FROM pg_cast c
	WHERE c.oid IN (SELECT objid FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed') AND classid = 'pg_cast'::regclass)
	UNION ALL
	SELECT 'type', t.oid::regtype::text, r.ref
	FROM pg_type t, LATERAL (VALUES (t.typinput), (t.typoutput), (t.typreceive), (t.typsend), (t.typmodin), (t.typmodout), (t.typanalyze)) r(ref)
	WHERE t.oid IN (SELECT objid FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed') AND classid = 'pg_type'::regclass)
	UNION ALL
	SELECT 'opfamily support', p.amproclefttype::regtype::text, p.amproc
	FROM pg_amproc p
	WHERE p.amprocfamily IN (SELECT f.oid FROM pg_opfamily f WHERE f.opfnamespace = 'embed_target'::regnamespace)
	UNION ALL
	SELECT 'opfamily operator', o.amopopr::regoperator::text, op.oprcode
	FROM pg_amop o JOIN pg_operator op ON op.oid = o.amopopr
	WHERE o.amopfamily IN (SELECT f.oid FROM pg_opfamily f WHERE f.opfnamespace = 'embed_target'::regnamespace)
) refs
JOIN pg_proc p ON p.oid = refs.ref
WHERE ref <> 0 AND p.pronamespace NOT IN ('embed_target'::regnamespace, 'pg_catalog'::regnamespace)
ORDER BY 1, 2;

-- SQL-language functions of the extension are bound at creation (BEGIN
-- ATOMIC) or pin their search_path; none is left to the caller's.
SELECT p.oid::regprocedure AS unpinned_sql_function
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
WHERE p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
  AND p.prosqlbody IS NULL
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
ORDER BY 1::text;

-- Clean up and return to the regression database.
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE regress_embed_security WITH (FORCE);
DROP ROLE regress_embed_hostile;
