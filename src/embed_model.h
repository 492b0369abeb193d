/*
 * embed_model.h: models as seen by the SQL functions (per-backend cache).
 */
#ifndef EMBED_LOADED_MODEL_H
#define EMBED_LOADED_MODEL_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "model.h"
#include "sha256.h"
#include "threadpool.h"
#include "tokenizer.h"

/* One model loaded in this backend. */
typedef struct EmbedLoadedModel
{
	char	   *name;			/* folder name, as used in SQL */
	char	   *dir;			/* resolved folder */
	char	   *weights_path;	/* dir/model.safetensors */
	char	   *identity;		/* the weights file's identity when loaded */
	EmbedModel *model;			/* engine: config + mapped weights */
	EmbedTokenizer *tokenizer;	/* engine: vocabulary and rules */
	bool		pin_checked;	/* weights checked against embed_model_pins */
	bool		pinned;			/* a pin exists (found or written) */
	char		sha256[EMBED_SHA256_HEX_LEN];	/* hex digest of the weights */
} EmbedLoadedModel;

/* A model folder found in embed.models_path. */
typedef struct EmbedModelLocation
{
	char	   *name;
	char	   *dir;
} EmbedModelLocation;

extern char *embed_default_model;
extern char *embed_models_path;
extern int	embed_threads;

/*
 * The loaded, pin-checked model `name`; schema is the extension's schema.
 * With may_pin, a model without a pin is pinned when the transaction can write.
 */
EmbedLoadedModel *embed_get_model(const char *name, Oid schema, bool may_pin);
/* The value of embed.model (errors when empty). */
const char *embed_default_model_name(void);
/* Every model folder found in embed.models_path (first one wins per name). */
List	   *embed_installed_models(void);
/*
 * This backend's engine thread pool for embed.threads threads (NULL when
 * embed.threads is 1: the forward pass then runs on the backend's own
 * thread); re-created when embed.threads changed since the last call.
 */
EmbedThreadPool *embed_thread_pool(void);
/* ereport(ERROR) for an engine failure, with the SQLSTATE of its status. */
void		embed_report_engine_error(EmbedStatus status, const char *model,
									  const char *message) pg_attribute_noreturn();

#endif
