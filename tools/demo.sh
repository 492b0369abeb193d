#!/usr/bin/env bash
# Set up embed on this machine and show what it does (run as root):
#
#   sudo bash tools/demo.sh
#
# Installs the build dependencies (Debian packages), builds and installs the
# extension with its default model, starts a throwaway PostgreSQL server in a
# temporary directory, embeds a few sentences, runs a nearest-neighbour query
# through an HNSW index, and stops the server again.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh

embed_install_deps
make -s -j2
make -s install >/dev/null
trap embed_stop_server EXIT
embed_start_server

psql -X -v ON_ERROR_STOP=1 -d postgres <<'SQL'
CREATE EXTENSION embed;
\echo '--- the installed models'
SELECT name, dims, layers, max_tokens, pooling, params FROM embed_models();

\echo '--- one embedding (first 6 of its dimensions)'
SELECT vector_dims(embed('I love ice cream')) AS dims,
       subvector(embed('I love ice cream'), 1, 6) AS first_values;

\echo '--- similar sentences are close, unrelated ones far (cosine distance)'
SELECT round((embed('I love ice cream') <=> embed('I enjoy eating ice cream'))::numeric, 3) AS similar,
       round((embed('I love ice cream') <=> embed('The stock market fell sharply'))::numeric, 3) AS unrelated;

\echo '--- semantic search: a table, an HNSW index, a nearest-neighbour query'
CREATE TABLE docs (id serial PRIMARY KEY, body text NOT NULL,
                   embedding vector GENERATED ALWAYS AS (embed(body, 'embed-small-en')) STORED);
INSERT INTO docs (body) VALUES
  ('Vanilla ice cream is my favourite dessert'),
  ('The central bank raised interest rates again'),
  ('Shares dropped after the earnings report'),
  ('My dog loves running on the beach'),
  ('A recipe for chocolate cake with frosting'),
  ('The train to the airport leaves every ten minutes'),
  ('Kittens sleep most of the day'),
  ('Stir the soup slowly and add salt to taste');
CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops);
SET enable_seqscan = off;  -- eight rows: make the planner show the index anyway
-- a generic plan keeps embed($1) unevaluated, so EXPLAIN shows the query, not the folded vector
SET plan_cache_mode = force_generic_plan;
PREPARE nearest(text) AS
  SELECT body FROM docs ORDER BY embedding <=> embed($1, 'embed-small-en') LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE nearest('frozen sweet treats');
SELECT body, round((embedding <=> embed('frozen sweet treats', 'embed-small-en'))::numeric, 3) AS distance
FROM docs ORDER BY embedding <=> embed('frozen sweet treats', 'embed-small-en') LIMIT 3;
SELECT body, round((embedding <=> embed('stock prices fell', 'embed-small-en'))::numeric, 3) AS distance
FROM docs ORDER BY embedding <=> embed('stock prices fell', 'embed-small-en') LIMIT 3;
SQL
