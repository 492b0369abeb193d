/*
 * train_io.h: checkpoints and the exported model folder.
 *
 * A checkpoint holds everything a resumed run needs to continue exactly
 * where it stopped: the model configuration, the step, the parameters, both
 * AdamW moments and the sampler's state (random state, each source's epoch
 * and cursor).  It is written to a temporary file, flushed to disk and
 * renamed over the previous one, so a crash leaves either the old or the
 * new checkpoint, never a torn one.
 */
#ifndef EMBED_TRAIN_IO_H
#define EMBED_TRAIN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "train_data.h"
#include "train_model.h"

bool		embed_train_checkpoint_save(const char *path, const EmbedTrainModel *m, int64_t step,
										const EmbedTrainData *d, char *err, size_t errlen);

/*
 * Restore into m (whose configuration must match) and d (whose sources must
 * have the same names and sizes, in the same order).  Returns false with a
 * message in err.
 */
bool		embed_train_checkpoint_load(const char *path, EmbedTrainModel *m, int64_t *step,
										EmbedTrainData *d, char *err, size_t errlen);

/*
 * Write a complete sentence-transformers folder: config.json,
 * model.safetensors, vocab.txt and tokenizer_config.json (copied from
 * vocab_dir), special_tokens_map.json, modules.json (Transformer, mean
 * Pooling, Normalize), 1_Pooling/config.json, 2_Normalize/,
 * sentence_bert_config.json and config_sentence_transformers.json.
 */
bool		embed_train_export_folder(const EmbedTrainModel *m, const char *vocab_dir, const char *dir,
									  int max_seq_length, char *err, size_t errlen);

#endif
