-- Embeddings computed in the backend by the C transformer.

-- Each model name used in this database is pinned to the SHA-256 of its
-- weights the first time it is used, so a model file replaced under the same
-- name is refused instead of silently mixing embeddings from two models.
CREATE TABLE @extschema@.embed_model_pins (
	name          text PRIMARY KEY,
	sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	file_identity text NOT NULL,
	pinned_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.embed_model_pins IS
	'SHA-256 of the weights each model name had when it was first used in this database';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.embed_model_pins', '');
REVOKE ALL ON @extschema@.embed_model_pins FROM PUBLIC;
GRANT SELECT ON @extschema@.embed_model_pins TO PUBLIC;

-- embed(text) uses the model named by embed.model, so it is only STABLE;
-- embed(text, model) is IMMUTABLE: the model's weights are pinned by hash.
CREATE FUNCTION @extschema@.embed(input text) RETURNS @extschema@.vector
	AS 'MODULE_PATHNAME', 'embed_text_default'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 10000;
CREATE FUNCTION @extschema@.embed(input text, model text) RETURNS @extschema@.vector
	AS 'MODULE_PATHNAME', 'embed_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10000;
CREATE FUNCTION @extschema@.embed(inputs text[]) RETURNS @extschema@.vector[]
	AS 'MODULE_PATHNAME', 'embed_text_array_default'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 10000;
CREATE FUNCTION @extschema@.embed(inputs text[], model text) RETURNS @extschema@.vector[]
	AS 'MODULE_PATHNAME', 'embed_text_array'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10000;

CREATE FUNCTION @extschema@.embed_tokenize(input text,
		OUT "position" integer, OUT token text, OUT id integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'embed_tokenize_default'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 32;
CREATE FUNCTION @extschema@.embed_tokenize(input text, model text,
		OUT "position" integer, OUT token text, OUT id integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'embed_tokenize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 32;

CREATE FUNCTION @extschema@.embed_tokens(input text,
		OUT "position" integer, OUT token text, OUT embedding @extschema@.vector)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'embed_tokens_default'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 32 COST 10000;
CREATE FUNCTION @extschema@.embed_tokens(input text, model text,
		OUT "position" integer, OUT token text, OUT embedding @extschema@.vector)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'embed_tokens'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 32 COST 10000;

CREATE FUNCTION @extschema@.embed_models(
		OUT name text, OUT dims integer, OUT layers integer, OUT max_tokens integer,
		OUT pooling text, OUT normalized boolean, OUT params bigint, OUT bytes bigint,
		OUT sha256 text, OUT path text, OUT architecture text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'embed_models'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED ROWS 4;

-- Forget a model's pin after its weights were deliberately replaced.
CREATE FUNCTION @extschema@.embed_unpin_model(model text) RETURNS boolean
	LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
	BEGIN ATOMIC
		DELETE FROM @extschema@.embed_model_pins WHERE name = model RETURNING true;
	END;
REVOKE ALL ON FUNCTION @extschema@.embed_unpin_model(text) FROM PUBLIC;
