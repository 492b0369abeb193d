-- embed(), embed_tokenize(), embed_tokens() and embed_models() on the test
-- models of the architectures beside BERT (test/models, written by
-- tools/make_test_models.py):
--   embed-test-gpt2        a bare GPT2Model folder: causal, byte-level BPE
--                          (vocab.json + merges.txt), no special tokens, no
--                          modules.json (mean pooling, no normalisation)
--   embed-test-roberta     RoBERTa: tokenizer.json (<s> ... </s>), positions
--                          after pad_token_id, mean pooling + Normalize
--   embed-test-distilbert  DistilBERT: WordPiece, no token types, CLS pooling
-- Vectors are never printed: they are compared with a tolerance.

-- errors as SQLSTATE, message, detail and hint
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  state text; message text; detail text; hint text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
    detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN concat_ws(E'\n', state || ': ' || message, 'DETAIL: ' || nullif(detail, ''),
                   'HINT: ' || nullif(hint, ''));
END $$;

-- whether two vectors agree to rounding: every element within 1e-6 of the
-- vector's norm (at least 1), a few float32 steps of its largest elements
CREATE FUNCTION pg_temp.close(a vector, b vector) RETURNS boolean LANGUAGE sql AS $$
  SELECT max(abs(x)) <= 1e-6 * greatest(vector_norm(b), 1) FROM unnest((a - b)::real[]) x
$$;

CREATE TEMP TABLE family (model text PRIMARY KEY);
INSERT INTO family VALUES ('embed-test-gpt2'), ('embed-test-roberta'), ('embed-test-distilbert');

-- the catalogue (the broken test models' WARNINGs are silenced; sql/embed.sql checks them)
SET client_min_messages = error;
SELECT name, architecture, dims, layers, max_tokens, pooling, normalized
FROM embed_models() JOIN family ON name = model ORDER BY name;
RESET client_min_messages;

-- tokenization
-- GPT-2 adds no special tokens; "Ġ" (U+0120) spells the space a word starts with
SELECT * FROM embed_tokenize('The cat sat on the mat.', 'embed-test-gpt2');
-- every byte is a token of its own before merging: é is the two byte tokens "Ã" "©";
-- <|endoftext|> written in the text is the special token
SELECT string_agg(token, ' ' ORDER BY position) AS tokens, string_agg(id::text, ' ' ORDER BY position) AS ids
FROM embed_tokenize('héllo wörld<|endoftext|>', 'embed-test-gpt2');
-- RoBERTa: the same merges (ids after its four special tokens), <s> ... </s>,
-- and <mask> takes the white space before it
SELECT * FROM embed_tokenize('The cat sat on the mat.', 'embed-test-roberta');
SELECT string_agg(token, ' ' ORDER BY position) AS tokens FROM embed_tokenize('the cat <mask>', 'embed-test-roberta');
-- DistilBERT: lower-cased WordPiece, [CLS] ... [SEP]
SELECT * FROM embed_tokenize('The cat sat on the mat.', 'embed-test-distilbert');

-- dimensions and normalisation as configured: only RoBERTa has a Normalize module
SELECT model, vector_dims(embed('I love ice cream', model)) AS dims,
       abs(vector_norm(embed('I love ice cream', model)) - 1) < 1e-6 AS unit_norm
FROM family ORDER BY model;

-- per-token final hidden states: one row per token, as embed_tokenize shows them
SELECT model, count(*) AS tokens, bool_and(vector_dims(embedding) = 32) AS dims_32,
       count(*) = (SELECT count(*) FROM embed_tokenize('the cat sat on the mat', model)) AS same_as_tokenize,
       bool_and(s.token = t.token) AS same_tokens
FROM family, embed_tokens('the cat sat on the mat', model) s
  JOIN embed_tokenize('the cat sat on the mat', model) t USING (position)
GROUP BY model ORDER BY model;

-- pooling from the token states: the bare GPT-2 is the mean of its tokens'
-- states, RoBERTa the normalised mean, DistilBERT the first ([CLS]) state
SELECT pg_temp.close(embed('the cat sat on the mat', 'embed-test-gpt2'),
         (SELECT avg(embedding) FROM embed_tokens('the cat sat on the mat', 'embed-test-gpt2')))
         AS gpt2_mean_of_tokens,
       pg_temp.close(embed('the cat sat on the mat', 'embed-test-roberta'),
         l2_normalize((SELECT avg(embedding) FROM embed_tokens('the cat sat on the mat', 'embed-test-roberta'))))
         AS roberta_normalized_mean,
       embed('the cat sat on the mat', 'embed-test-distilbert') =
         (SELECT embedding FROM embed_tokens('the cat sat on the mat', 'embed-test-distilbert') WHERE position = 1)
         AS distilbert_cls;

-- GPT-2 is causal: each token sees only the tokens before it, so the states of
-- 'the cat sat' are those of the first tokens of 'the cat sat on the mat';
-- RoBERTa's tokens see the whole text, so its states of the shared tokens differ
WITH s AS (SELECT * FROM embed_tokens('the cat sat', 'embed-test-gpt2')),
     l AS (SELECT * FROM embed_tokens('the cat sat on the mat', 'embed-test-gpt2'))
SELECT count(*) AS shared_tokens, bool_and(s.token = l.token) AS same_tokens,
       bool_and(pg_temp.close(s.embedding, l.embedding)) AS same_states
FROM s JOIN l USING (position);
WITH s AS (SELECT * FROM embed_tokens('the cat sat', 'embed-test-roberta')),
     l AS (SELECT * FROM embed_tokens('the cat sat on the mat', 'embed-test-roberta'))
SELECT count(*) AS shared_positions, bool_and(s.embedding <-> l.embedding > 0.01) AS all_states_differ
FROM s JOIN l USING (position) WHERE s.token <> '</s>';

-- a batch agrees with the texts embedded one by one (to rounding: the batch is
-- one matrix product); NULL stays NULL; texts longer than the model are truncated
CREATE TEMP TABLE texts (i int, t text);
INSERT INTO texts VALUES (1, 'the cat sat on the mat'), (2, NULL), (3, 'Hello, world!'),
  (4, repeat('a dog runs in the park ', 30)), (5, 'x');
SELECT model, array_length(v, 1) AS n, v[2] IS NULL AS null_kept,
       (SELECT bool_and(pg_temp.close(v[i], embed(t, model))) FROM texts WHERE t IS NOT NULL) AS batch_equals_scalar
FROM family, LATERAL (SELECT embed(array_agg(t ORDER BY i), model) AS v FROM texts) b
ORDER BY model;

-- truncation at the model's max_tokens.  RoBERTa's positions start after
-- pad_token_id (1): 26 position embeddings leave 24 tokens, <s> and </s> included
SELECT count(*) AS tokens, min(token) FILTER (WHERE position = 1) AS first,
       min(token) FILTER (WHERE position = 24) AS last
FROM embed_tokenize(repeat('the cat ', 100), 'embed-test-roberta');
SELECT count(*) AS states, min(token) FILTER (WHERE position = 24) AS last
FROM embed_tokens(repeat('the cat ', 100), 'embed-test-roberta');
SELECT embed(repeat('the cat ', 100), 'embed-test-roberta') = embed(repeat('the cat ', 12), 'embed-test-roberta')
  AS truncated_equal;
-- GPT-2 and DistilBERT: 64 positions, no special tokens for GPT-2
SELECT model, count(*) AS tokens FROM family, embed_tokenize(repeat('the cat ', 100), model)
WHERE model <> 'embed-test-roberta' GROUP BY model ORDER BY model;
SELECT embed(repeat('the cat ', 100), 'embed-test-gpt2') = embed(repeat('the cat ', 40), 'embed-test-gpt2')
  AS gpt2_truncated_equal;

-- the empty text: the encoders embed their special tokens; GPT-2 has no token
-- to pool, so embed() refuses it (NULL is the way to skip a text)
SELECT vector_dims(embed('', 'embed-test-roberta')) AS roberta, vector_dims(embed('', 'embed-test-distilbert')) AS distilbert;
SELECT pg_temp.error_of($$SELECT embed('', 'embed-test-gpt2')$$);
SELECT pg_temp.error_of($$SELECT embed(ARRAY['a', NULL, ''], 'embed-test-gpt2')$$);
SELECT (SELECT count(*) FROM embed_tokenize('', 'embed-test-gpt2')) AS tokenize_rows,
       (SELECT count(*) FROM embed_tokens('', 'embed-test-gpt2')) AS tokens_rows;
SELECT embed(NULLIF('', ''), 'embed-test-gpt2') IS NULL AS null_skips,
       (embed(array_replace(ARRAY['a', NULL, ''], '', NULL), 'embed-test-gpt2'))[3] IS NULL AS null_element_skips;

-- the one-argument forms follow embed.model
SET embed.model = 'embed-test-gpt2';
SELECT embed('the cat') = embed('the cat', 'embed-test-gpt2') AS default_is_gpt2,
       (SELECT string_agg(token, ' ' ORDER BY position) FROM embed_tokenize('the cat')) AS tokens,
       (SELECT count(*) FROM embed_tokens('the cat')) AS states;
RESET embed.model;

-- the thread count does not change a bit
CREATE TEMP TABLE one_thread AS
  SELECT model, embed(repeat('the cat sat on the mat ', 4), model) AS v FROM family;
SET embed.threads = 3;
SELECT model, v = embed(repeat('the cat sat on the mat ', 4), model) AS same_with_3_threads
FROM one_thread ORDER BY model;
RESET embed.threads;
