-- The API contract of the embedding functions: signatures, volatility,
-- strictness, parallel safety, GUCs, and each user-facing error's SQLSTATE.
-- Needs the test models of test/models in embed.models_path.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS embed;
LOAD 'embed';  -- the GUCs exist once the library is loaded
SELECT plan(57);

SELECT has_function('embed', ARRAY['text']);
SELECT has_function('embed', ARRAY['text', 'text']);
SELECT has_function('embed', ARRAY['text[]']);
SELECT has_function('embed', ARRAY['text[]', 'text']);
SELECT has_function('embed_tokenize', ARRAY['text']);
SELECT has_function('embed_tokenize', ARRAY['text', 'text']);
SELECT has_function('embed_tokens', ARRAY['text']);
SELECT has_function('embed_tokens', ARRAY['text', 'text']);
SELECT has_function('embed_models', ARRAY[]::text[]);
SELECT has_function('embed_unpin_model', ARRAY['text']);

SELECT function_returns('embed', ARRAY['text'], 'vector');
SELECT function_returns('embed', ARRAY['text[]', 'text'], 'vector[]');

-- the result columns (name and type, in order) of the set-returning functions
CREATE FUNCTION pg_temp.out_columns(fn text, nargs int) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(n || ' ' || format_type(t, NULL) ORDER BY i)
  FROM pg_proc p, unnest(p.proargnames, p.proallargtypes, p.proargmodes) WITH ORDINALITY AS a(n, t, m, i)
  WHERE p.proname = fn AND p.pronargs = nargs AND m = 'o'
    AND p.pronamespace = (SELECT extnamespace FROM pg_extension WHERE extname = 'embed')
$$;
SELECT is(pg_temp.out_columns('embed_models', 0),
  ARRAY['name text', 'dims integer', 'layers integer', 'max_tokens integer', 'pooling text',
        'normalized boolean', 'params bigint', 'bytes bigint', 'sha256 text', 'path text', 'architecture text'],
  'embed_models() columns, architecture last');
SELECT is(pg_temp.out_columns('embed_tokenize', 2), ARRAY['position integer', 'token text', 'id integer'],
  'embed_tokenize(text, text) columns');
SELECT is(pg_temp.out_columns('embed_tokens', 2), ARRAY['position integer', 'token text', 'embedding vector'],
  'embed_tokens(text, text) columns');

-- the default-model forms depend on embed.model, so they are only STABLE;
-- with a model name the result is pinned to the weights' hash: IMMUTABLE
SELECT volatility_is('embed', ARRAY['text'], 'stable');
SELECT volatility_is('embed', ARRAY['text', 'text'], 'immutable');
SELECT volatility_is('embed', ARRAY['text[]'], 'stable');
SELECT volatility_is('embed', ARRAY['text[]', 'text'], 'immutable');
SELECT volatility_is('embed_tokenize', ARRAY['text', 'text'], 'immutable');
SELECT volatility_is('embed_tokens', ARRAY['text', 'text'], 'immutable');
SELECT volatility_is('embed_models', ARRAY[]::text[], 'volatile');

SELECT is_strict('embed', ARRAY['text']);
SELECT is_strict('embed', ARRAY['text', 'text']);
SELECT is_strict('embed', ARRAY['text[]', 'text']);
SELECT is_strict('embed_tokenize', ARRAY['text', 'text']);
SELECT is_strict('embed_tokens', ARRAY['text', 'text']);

SELECT is(
  (SELECT array_agg(DISTINCT p.proparallel::text) FROM pg_proc p
   WHERE p.proname IN ('embed', 'embed_tokenize', 'embed_tokens')
     AND p.pronamespace = (SELECT extnamespace FROM pg_extension WHERE extname = 'embed')),
  ARRAY['s'], 'embed, embed_tokenize and embed_tokens are PARALLEL SAFE');
SELECT is(
  (SELECT proparallel::text FROM pg_proc WHERE proname = 'embed_models'),
  'r', 'embed_models is PARALLEL RESTRICTED (it reads the file system and may write pins)');

SELECT has_table('embed_model_pins');
SELECT ok(
  (SELECT 'embed_model_pins'::regclass::oid = ANY (extconfig) FROM pg_extension WHERE extname = 'embed'),
  'embed_model_pins is dumped by pg_dump');

-- GUCs
SELECT is(current_setting('embed.threads'), '1', 'embed.threads defaults to 1');
SELECT is((SELECT context FROM pg_settings WHERE name = 'embed.models_path'), 'superuser',
  'embed.models_path can only be set by a superuser');
SELECT is((SELECT context FROM pg_settings WHERE name = 'embed.model'), 'user',
  'embed.model can be set by any user');
SELECT throws_ok($$SET embed.threads = 0$$, '22023', NULL, 'embed.threads below 1 is refused');
SELECT throws_ok($$SET embed.no_such_setting = 1$$, '42602', NULL, 'the embed. prefix is reserved');

-- errors and their SQLSTATEs
SELECT throws_ok($$SELECT embed('x', 'no-such-model')$$, '42704', 'model "no-such-model" is not installed',
  'an unknown model is undefined_object');
SELECT throws_ok($$SELECT embed('x', '../etc')$$, '22023', NULL, 'a model name with a path is refused');
SELECT throws_ok($$SELECT embed('x', '')$$, '22023', NULL, 'an empty model name is refused');
SELECT throws_ok($$SELECT embed('x', repeat('m', 200))$$, '22023', NULL, 'an over-long model name is refused');
SELECT throws_ok($$SELECT embed('x', 'embed-test-corrupt')$$, 'XX001', NULL, 'a truncated weights file is data_corrupted');
SELECT throws_ok($$SELECT embed('x', 'embed-test-mismatch')$$, '22023', NULL,
  'weights whose shapes do not match config.json are refused');
SELECT throws_ok($$SELECT embed(ARRAY[ARRAY['a','b'],ARRAY['c','d']], 'embed-test-tiny')$$, '2202E', NULL,
  'a two-dimensional array is refused');
SELECT throws_ok($$SET LOCAL embed.model = ''; SELECT embed('x')$$, '22023', NULL,
  'an empty embed.model is refused when used');

-- results
SELECT is(vector_dims(embed('x', 'embed-test-tiny')), 32, 'embed-test-tiny gives 32 dimensions');
SELECT ok(abs(vector_norm(embed('x', 'embed-test-tiny')) - 1) < 1e-5, 'normalized models give unit vectors');
SELECT is(embed(NULL::text, 'embed-test-tiny'), NULL, 'NULL text gives NULL');
SELECT is((SELECT count(*)::int FROM embed_tokenize('', 'embed-test-tiny')), 2, 'the empty string is [CLS] [SEP]');
SELECT is((SELECT max(position) FROM embed_tokenize(repeat('a ', 1000), 'embed-test-tiny')), 16,
  'long text is truncated to max_tokens');

-- the other architectures (embed_models() warns about the broken test models: silenced)
SET LOCAL client_min_messages = error;
SELECT set_eq($$SELECT name, architecture FROM embed_models()
               WHERE name IN ('embed-test-tiny', 'embed-test-gpt2', 'embed-test-roberta', 'embed-test-distilbert')$$,
  $$VALUES ('embed-test-tiny', 'bert'), ('embed-test-gpt2', 'gpt2'), ('embed-test-roberta', 'roberta'),
           ('embed-test-distilbert', 'distilbert')$$,
  'embed_models() names each model''s architecture');
SELECT is((SELECT max_tokens FROM embed_models() WHERE name = 'embed-test-roberta'), 24,
  'RoBERTa''s max_tokens: 26 positions less pad_token_id + 1');
RESET client_min_messages;
SELECT is((SELECT count(*)::int FROM embed_tokenize(repeat('a ', 1000), 'embed-test-roberta')), 24,
  'RoBERTa truncates to its usable positions');
SELECT is(vector_dims(embed('x', 'embed-test-gpt2')), 32, 'GPT-2 embeds a text');
SELECT throws_ok($$SELECT embed('', 'embed-test-gpt2')$$, '22023',
  'cannot embed a text without tokens with model "embed-test-gpt2"',
  'GPT-2 refuses the empty text (no special tokens, nothing to pool)');
SELECT throws_ok($$SELECT embed(ARRAY['x', ''], 'embed-test-gpt2')$$, '22023', NULL,
  'GPT-2 refuses an empty text in an array');
SELECT is((SELECT count(*)::int FROM embed_tokens('', 'embed-test-gpt2')), 0,
  'embed_tokens of the empty text with GPT-2 has no rows');
SELECT ok(abs(vector_norm(embed('x', 'embed-test-roberta')) - 1) < 1e-5
          AND abs(vector_norm(embed('x', 'embed-test-distilbert')) - 1) > 0.01,
  'RoBERTa''s Normalize module is applied, DistilBERT has none');

SELECT * FROM finish();
ROLLBACK;
