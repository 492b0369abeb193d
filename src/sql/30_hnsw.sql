-- The hnsw index access method over vector, with pgvector's operator class
-- names so that existing DDL works unchanged:
--   CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)
--     WITH (m = 16, ef_construction = 64);
--
-- Support function 1 is the distance the index orders by (for L2 the
-- squared distance, which orders the same way); support function 2, when
-- present, is the norm: vectors are normalised before they are stored and
-- zero vectors are not indexed.

CREATE FUNCTION @extschema@.embed_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'embed_hnsw_handler' LANGUAGE C;

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER @extschema@.embed_hnsw_handler;
COMMENT ON ACCESS METHOD hnsw IS 'hierarchical navigable small world graph for nearest-neighbour search on vector';

CREATE OPERATOR CLASS @extschema@.vector_l2_ops
	FOR TYPE @extschema@.vector USING hnsw AS
	OPERATOR 1 @extschema@.<-> (@extschema@.vector, @extschema@.vector) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 @extschema@.l2_squared_distance(@extschema@.vector, @extschema@.vector);

CREATE OPERATOR CLASS @extschema@.vector_ip_ops
	FOR TYPE @extschema@.vector USING hnsw AS
	OPERATOR 1 @extschema@.<#> (@extschema@.vector, @extschema@.vector) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 @extschema@.vector_negative_inner_product(@extschema@.vector, @extschema@.vector);

CREATE OPERATOR CLASS @extschema@.vector_cosine_ops
	FOR TYPE @extschema@.vector USING hnsw AS
	OPERATOR 1 @extschema@.<=> (@extschema@.vector, @extschema@.vector) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 @extschema@.cosine_distance(@extschema@.vector, @extschema@.vector),
	FUNCTION 2 @extschema@.vector_norm(@extschema@.vector);

CREATE OPERATOR CLASS @extschema@.vector_l1_ops
	FOR TYPE @extschema@.vector USING hnsw AS
	OPERATOR 1 @extschema@.<+> (@extschema@.vector, @extschema@.vector) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 @extschema@.l1_distance(@extschema@.vector, @extschema@.vector);

-- Structural check of an hnsw index, like amcheck's: raises index_corrupted
-- (XX002) on any inconsistency.  Takes AccessShareLock only (as amcheck does).
CREATE FUNCTION @extschema@.embed_hnsw_check(index regclass, heapallindexed boolean DEFAULT false)
	RETURNS void
	AS 'MODULE_PATHNAME', 'embed_hnsw_check' LANGUAGE C STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.embed_hnsw_check(regclass, boolean) IS
	'check the structure of an hnsw index; with heapallindexed, also that every visible heap row is indexed';
REVOKE ALL ON FUNCTION @extschema@.embed_hnsw_check(regclass, boolean) FROM PUBLIC;
