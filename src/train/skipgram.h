/*
 * skipgram.h: skip-gram with negative sampling (word2vec) over WordPiece
 * ids, used to initialise the word-embedding matrix of the encoder with
 * lexical semantics before contrastive training.
 *
 * The corpus is tokenised with the model's own tokenizer (no special
 * tokens), so every vocabulary entry, "##" pieces included, gets a vector
 * from the contexts it occurs in.  Training is single-threaded and fully
 * determined by the seed.
 */
#ifndef EMBED_SKIPGRAM_H
#define EMBED_SKIPGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct EmbedSkipgramOptions
{
	int			dim;			/* vector size (the encoder's hidden size) */
	int			window;			/* maximum context distance (5) */
	int			negatives;		/* negative samples per pair (5) */
	int			epochs;			/* passes over the corpus (1) */
	double		lr;				/* initial learning rate, decays linearly (0.025) */
	double		subsample;		/* frequent-token subsampling threshold (1e-4) */
	uint64_t	seed;
	bool		verbose;
} EmbedSkipgramOptions;

void		embed_skipgram_default_options(EmbedSkipgramOptions *o);

/*
 * Train on ids: a stream of token ids where -1 separates lines (contexts
 * never cross a separator).  Writes the input vectors, centred (the mean
 * vector weighted by token frequency is subtracted) and scaled to unit
 * average norm per component, to out[vocab * dim].  Returns false on
 * out-of-memory.
 */
bool		embed_skipgram_train(const int32_t *ids, size_t n_ids, int vocab,
								 const EmbedSkipgramOptions *o, float *out);

/*
 * Vector files: "EMBSG001", int32 vocab, int32 dim, then vocab * dim
 * float32, little-endian.  Write goes through a temporary file and a rename.
 * Read returns a malloc'd matrix, or NULL with a message in err.
 */
bool		embed_skipgram_write(const char *path, const float *vectors, int vocab, int dim);
float	   *embed_skipgram_read(const char *path, int *vocab, int *dim, char *err, size_t errlen);

#endif
