/*
 * train_data.h: training pairs, tokenised once, and the batch sampler.
 *
 * Every source (one pairs/<source>.tsv file: anchor TAB positive [TAB hard
 * negative]) keeps its pairs in a shuffled order and a cursor.  A batch is
 * drawn from a single source, chosen at random with the sources' weights,
 * because a text can be a positive in several sources and would become a
 * false negative in a mixed batch.  The sampler's whole state (random
 * state, each source's epoch and cursor) is a few integers, so a checkpoint
 * restores the exact data position; each source's order in an epoch is a
 * pure function of (seed, source, epoch).
 */
#ifndef EMBED_TRAIN_DATA_H
#define EMBED_TRAIN_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

#define EMBED_TRAIN_MAX_SOURCES 64

typedef struct EmbedTrainSource
{
	char		name[64];
	double		weight;			/* sampling weight (0: never drawn) */
	int			npairs;
	int32_t    *anchor,
			   *positive,
			   *negative;		/* text indices; negative -1 when the pair has none */
	int32_t    *order;			/* [npairs] current epoch's permutation */
	int64_t		epoch;
	int64_t		cursor;
} EmbedTrainSource;

typedef struct EmbedTrainData
{
	int			max_len;		/* tokens per text, [CLS] and [SEP] included */
	int			nsources;
	EmbedTrainSource sources[EMBED_TRAIN_MAX_SOURCES];
	/* texts: ids[text_off[t] .. text_off[t] + text_len[t]) */
	int64_t		ntexts,
				cap_texts;
	int64_t    *text_off;
	int32_t    *text_len;
	uint64_t   *text_hash;		/* FNV-1a of the ids: equal texts, equal hashes */
	int32_t    *ids;
	int64_t		nids,
				cap_ids;
	uint64_t	seed;
	uint64_t	rng;
} EmbedTrainData;

/* One batch: 2B + nneg texts (anchors, positives, hard negatives). */
typedef struct EmbedTrainBatch
{
	int			source;
	int			B;
	int			nneg;
	int			nseq;
	int			ntok;
	int32_t    *ids;			/* [ntok] packed */
	int32_t    *lengths;		/* [nseq] */
	uint64_t   *hashes;			/* [nseq] */
} EmbedTrainBatch;

EmbedTrainData *embed_train_data_new(int max_len, uint64_t seed);
void		embed_train_data_free(EmbedTrainData *d);

/*
 * Tokenise a pairs file into a new source named name.  Returns false with
 * a message in err (I/O, too many sources, out of memory).
 */
bool		embed_train_data_add_source(EmbedTrainData *d, const EmbedTokenizer *tok,
										const char *path, const char *name, double weight,
										char *err, size_t errlen);

/*
 * Tokenise one text and append it; returns its index, -1 on out-of-memory,
 * -2 when the tokenizer refuses the text (nothing is stored then).
 */
int64_t		embed_train_data_add_text(EmbedTrainData *d, const EmbedTokenizer *tok,
									  const char *text, size_t len);

/* Set each source's permutation for its current epoch (after restoring a state). */
void		embed_train_data_reset_orders(EmbedTrainData *d);

/*
 * Draw the next batch of B pairs (B <= the smallest drawn source's pairs)
 * into batch, whose arrays must hold 3B texts of max_len tokens.
 */
void		embed_train_data_next(EmbedTrainData *d, int B, EmbedTrainBatch *batch);

EmbedTrainBatch *embed_train_batch_new(int B, int max_len);
void		embed_train_batch_free(EmbedTrainBatch *b);

#endif
