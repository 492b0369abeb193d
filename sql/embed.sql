-- embed(), embed_tokenize(), embed_tokens() and embed_models() on the small
-- random-weight test models (found through embed.models_path).
SET embed.model = 'embed-test-tiny';

-- errors are shown as SQLSTATE, message, detail and hint, with the models
-- folder (which differs between installations) replaced by <models>
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  state text; message text; detail text; hint text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
    detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN concat_ws(E'\n', state || ': ' || message,
    'DETAIL: ' || regexp_replace(regexp_replace(nullif(detail, ''),
                    '[^ "(]*/(embed-test-[a-z]+)', '<models>/\1', 'g'),
                    'embed.models_path \("[^"]*"\)', 'embed.models_path (...)'),
    'HINT: ' || regexp_replace(nullif(hint, ''), '(installed models): .*embed-test-tiny.*', '\1: (list)', 'i'));
END $$;

-- the installed test models, as the catalogue function shows them (the
-- broken ones are listed with NULLs and a WARNING, silenced here; their
-- errors are checked below)
SET client_min_messages = error;
SELECT name, architecture, dims, layers, max_tokens, pooling, normalized, params, bytes, length(sha256) AS sha_len,
       path LIKE '%/' || name AS path_ends_with_name
FROM embed_models() WHERE name LIKE 'embed-test-%'
  AND name NOT IN ('embed-test-corrupt', 'embed-test-mismatch', 'embed-test-roberta-plain', 'embed-test-noroom')
ORDER BY name;
SELECT name, dims IS NULL AND architecture IS NULL AS broken FROM embed_models()
WHERE name IN ('embed-test-corrupt', 'embed-test-mismatch', 'embed-test-roberta-plain', 'embed-test-noroom')
ORDER BY name;
RESET client_min_messages;

-- dimensions and normalisation
SELECT vector_dims(embed('I love ice cream')) AS dims,
       round(vector_norm(embed('I love ice cream'))::numeric, 5) AS norm;
SELECT vector_dims(embed('I love ice cream', 'embed-test-cls')) AS cls_dims,
       vector_norm(embed('I love ice cream', 'embed-test-cls')) > 1.5 AS cls_not_normalized;

-- deterministic: the same text gives the same bits, and so does the same array;
-- an element of an array agrees with the text embedded alone to rounding
-- (the batch is computed as one matrix product, whose rounding depends on its size)
SELECT embed('the quick brown fox') = embed('the quick brown fox') AS same_twice;
SELECT embed(ARRAY['a dog runs in the park', 'ice cream', NULL, '', 'the stock market fell sharply today'])
     = embed(ARRAY['a dog runs in the park', 'ice cream', NULL, '', 'the stock market fell sharply today'])
  AS same_array_twice;
WITH batch AS (
  SELECT embed(ARRAY['a dog runs in the park', 'ice cream', NULL, '', 'the stock market fell sharply today']) AS v
)
SELECT (v[1] <-> embed('a dog runs in the park')) < 1e-5 AS first_close,
       (v[2] <-> embed('ice cream')) < 1e-5 AS second_close,
       v[3] IS NULL AS null_kept,
       (v[4] <-> embed('')) < 1e-5 AS empty_close,
       (v[5] <-> embed('the stock market fell sharply today')) < 1e-5 AS fifth_close,
       array_length(v, 1) AS n
FROM batch;
SELECT embed('{}'::text[]) AS empty_array;
SELECT array_lower(embed('[0:1]={"a","b"}'::text[]), 1) AS lower_bound_kept;

-- the default model and the explicit name agree; different texts differ
SELECT embed('hello world') = embed('hello world', 'embed-test-tiny') AS default_is_tiny;
SELECT embed('hello world') <> embed('hello there') AS texts_differ;

-- NULL in, NULL out
SELECT embed(NULL::text) IS NULL AS null_text, embed(NULL::text, 'embed-test-tiny') IS NULL AS null_text2,
       embed('x', NULL) IS NULL AS null_model;

-- tokenization: [CLS] text [SEP], lower-cased, punctuation split, WordPiece pieces
SELECT * FROM embed_tokenize('Hello, World! Eating cakes.');
SELECT * FROM embed_tokenize('', 'embed-test-tiny');
-- truncation to the model's 16 tokens, [SEP] kept last
SELECT count(*) AS n, max(position) AS last, (array_agg(token ORDER BY position DESC))[1] AS last_token
FROM embed_tokenize(repeat('dog ', 100));
-- a long text embeds like its truncated form
SELECT embed(repeat('dog ', 100)) = embed(repeat('dog ', 14)) AS truncated_equal;
-- characters outside the vocabulary become [UNK]
SELECT token, id FROM embed_tokenize('ж') WHERE position = 2;

-- per-token final hidden states
SELECT position, token, vector_dims(embedding) AS dims
FROM embed_tokens('ice cream') ORDER BY position;
SELECT count(DISTINCT embedding) AS distinct_states FROM embed_tokens('a dog and a dog');

-- embeddings are IMMUTABLE with an explicit model: usable in generated columns and indexes
CREATE TABLE embed_docs (id int PRIMARY KEY, body text,
  v vector GENERATED ALWAYS AS (embed(body, 'embed-test-tiny')) STORED);
INSERT INTO embed_docs (id, body) VALUES (1, 'i love ice cream'), (2, 'the stock market fell'),
  (3, 'a dog runs in the park'), (4, NULL);
SELECT id, v IS NULL AS no_vector FROM embed_docs ORDER BY id;
SELECT id FROM embed_docs WHERE v IS NOT NULL ORDER BY v <=> embed('i love ice cream', 'embed-test-tiny') LIMIT 1;
CREATE INDEX embed_docs_expr ON embed_docs ((vector_dims(embed(body, 'embed-test-tiny'))));
DROP TABLE embed_docs;

-- errors
SELECT pg_temp.error_of($$SELECT embed('x', 'no-such-model')$$);
SELECT pg_temp.error_of($$SELECT embed('x', '../etc')$$);
SELECT pg_temp.error_of($$SELECT embed('x', '')$$);
SELECT pg_temp.error_of($$SELECT embed('x', 'embed-test-corrupt')$$);
SELECT pg_temp.error_of($$SELECT embed('x', 'embed-test-mismatch')$$);
SELECT pg_temp.error_of($$SELECT embed('x', 'embed-test-roberta-plain')$$);
SELECT pg_temp.error_of($$SELECT embed('x', 'embed-test-noroom')$$);
SELECT pg_temp.error_of($$SELECT embed(ARRAY[ARRAY['a']], 'embed-test-tiny')$$);
SET embed.model = '';
SELECT pg_temp.error_of($$SELECT embed('x')$$);
RESET embed.model;
SET embed.threads = 0;
SET embed.threads = 65;
-- the thread count does not change a bit (texts filling the model's 16 tokens;
-- a larger model is checked by test/c/test_determinism.c)
CREATE TEMP TABLE one_thread AS
  SELECT embed(repeat('threads do not change results ', 3), 'embed-test-tiny') AS v,
         embed(ARRAY[repeat('threads do not change results ', 3), 'a dog runs in the park',
                     repeat('ice cream ', 20)], 'embed-test-tiny') AS a;
SET embed.threads = 2;
SELECT v = embed(repeat('threads do not change results ', 3), 'embed-test-tiny') AS same_with_2_threads,
       a = embed(ARRAY[repeat('threads do not change results ', 3), 'a dog runs in the park',
                       repeat('ice cream ', 20)], 'embed-test-tiny') AS array_same_with_2_threads
FROM one_thread;
SET embed.threads = 3;
SELECT v = embed(repeat('threads do not change results ', 3), 'embed-test-tiny') AS same_with_3_threads
FROM one_thread;
RESET embed.threads;
SET embed.models_path = 'relative/path';

-- the pin recorded for each model used
SELECT name, length(sha256) AS sha_len FROM embed_model_pins WHERE name LIKE 'embed-test-%' ORDER BY name;
