-- The shipped default model embed-small-en: installed by make install, used
-- when no model is named, and its embeddings mean something.
LOAD 'embed';
SHOW embed.model;
SET client_min_messages = error;  -- other installed models are not this test's business
SELECT name, dims, layers, max_tokens, pooling, normalized FROM embed_models() WHERE name = 'embed-small-en';
RESET client_min_messages;
SELECT vector_dims(embed('I love ice cream')) AS dims,
       round(vector_norm(embed('I love ice cream'))::numeric, 4) AS norm;
-- similar sentences are clearly closer than unrelated ones
WITH d AS (
  SELECT embed('I love ice cream') <=> embed('I enjoy eating ice cream') AS near_pair,
         embed('I love ice cream') <=> embed('The stock market fell sharply') AS far_pair
)
SELECT near_pair < 0.5 AS similar_close, far_pair > 0.6 AS unrelated_far, far_pair - near_pair > 0.3 AS clearly_apart
FROM d;
-- nearest neighbours of a query among a few documents
CREATE TEMP TABLE docs (id int, body text);
INSERT INTO docs VALUES
  (1, 'Vanilla ice cream is my favourite dessert'),
  (2, 'The central bank raised interest rates again'),
  (3, 'Shares dropped after the earnings report'),
  (4, 'My dog loves running on the beach'),
  (5, 'Kittens sleep most of the day');
SELECT id FROM docs ORDER BY embed(body) <=> embed('stock prices fell') LIMIT 2;
SELECT id FROM docs ORDER BY embed(body) <=> embed('a sweet frozen treat') LIMIT 1;
SELECT id FROM docs ORDER BY embed(body) <=> embed('puppies playing outside') LIMIT 1;
