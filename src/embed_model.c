/*
 * embed_model.c: finding, loading, caching and pinning models in a backend.
 *
 * Design notes
 * ------------
 * A model is a Hugging Face folder named like the model, found in one of the
 * folders listed in embed.models_path (':'-separated, "$sharedir" expands to
 * the installation's share directory; the default is
 * "$sharedir/embed/models", where `make install` puts the shipped models).
 *
 * Each backend keeps the models it has used in a small cache in
 * TopMemoryContext.  The weights are memory-mapped read-only by the engine,
 * so all backends share one copy through the page cache; what a backend
 * holds privately is the tokenizer's vocabulary and the cache entry.
 *
 * Identity: the first time a model name is used in a database, the SHA-256
 * of its weights file is recorded in embed_model_pins, together with the
 * file's identity (device, inode, size, mtime, ctime).  Later loads compare
 * the file's identity first and only re-hash when it changed; a different
 * hash is refused with an error telling how to re-embed.  This is what makes
 * embed(text, model) honestly IMMUTABLE: a name always means the same
 * weights in this database.  Pins are written as the extension's owner and
 * only where writing is possible (not in a parallel worker, a read-only
 * transaction or on a standby); elsewhere an existing pin is still checked.
 *
 * Threads: embed.threads is the size of the backend's engine thread pool,
 * created on first use (embed_thread_pool) and re-created when the setting
 * changes.  The engine forces OpenBLAS's process-wide thread count to 1 and
 * parallelises the forward pass itself, so results are bit-identical
 * whatever embed.threads is.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "embed_init.h"
#include "embed_model.h"
#include "sha256.h"

/* Name of the model used by embed(text); a folder name found in embed.models_path. */
char	   *embed_default_model = NULL;
/* ':'-separated folders holding one sub-folder per model. */
char	   *embed_models_path = NULL;
/* Threads one embedding call may use in this backend (the backend's own included). */
int			embed_threads = 1;

#define EMBED_MAX_CACHED_MODELS 16
#define EMBED_MODEL_NAME_MAX 128

static EmbedLoadedModel *model_cache[EMBED_MAX_CACHED_MODELS];
static int	model_cache_count = 0;

/* The engine's worker threads and the embed.threads value they were made for. */
static EmbedThreadPool *thread_pool = NULL;
static int	thread_pool_threads = 1;

/* embed.models_path: every entry is absolute or starts with $sharedir. */
static bool
check_models_path(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval ? *newval : "");
	char	   *saveptr = NULL;
	bool		valid = true;

	for (char *tok = strtok_r(copy, ":", &saveptr); tok; tok = strtok_r(NULL, ":", &saveptr))
	{
		if (*tok == '\0' || strncmp(tok, "$sharedir", 9) == 0 || is_absolute_path(tok))
			continue;
		GUC_check_errdetail("Entry \"%s\" is neither an absolute path nor starts with $sharedir.", tok);
		valid = false;
		break;
	}
	pfree(copy);
	return valid;
}

/* Register the embed.* GUCs. */
void
embed_model_init(void)
{
	DefineCustomStringVariable("embed.model",
							   "Model used by embed(text) when no model is named.",
							   NULL,
							   &embed_default_model,
							   "embed-small-en",
							   PGC_USERSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("embed.models_path",
							   "Folders searched for models, separated by ':'; $sharedir is the installation's share directory.",
							   NULL,
							   &embed_models_path,
							   "$sharedir/embed/models",
							   PGC_SUSET, 0,
							   check_models_path, NULL, NULL);
	DefineCustomIntVariable("embed.threads",
							"Threads used by one embedding call in this backend.",
							"Results do not depend on this setting.",
							&embed_threads,
							1, 1, 64,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("embed");
}

EmbedThreadPool *
embed_thread_pool(void)
{
	if (thread_pool_threads != embed_threads)
	{
		embed_thread_pool_destroy(thread_pool);
		thread_pool = NULL;
		thread_pool_threads = 1;
		if (embed_threads > 1)
		{
			thread_pool = embed_thread_pool_create(embed_threads);
			if (thread_pool == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("could not start %d threads for embed.threads: %m", embed_threads),
						 errhint("Lower embed.threads.")));
			thread_pool_threads = embed_threads;
		}
	}
	return thread_pool;
}

/* A model name is a folder name: letters, digits, '.', '_' and '-', not starting with '.'. */
static void
check_model_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > EMBED_MODEL_NAME_MAX || name[0] == '.' ||
		strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model name \"%s\"", name),
				 errdetail("A model name is a folder name of at most %d characters: letters, digits, \".\", \"_\" and \"-\", not starting with \".\".",
						   EMBED_MODEL_NAME_MAX)));
}

/* The folders of embed.models_path, with $sharedir expanded (palloc'd list of char *). */
static List *
models_path_folders(void)
{
	char		sharedir[MAXPGPATH];
	List	   *result = NIL;
	char	   *copy = pstrdup(embed_models_path ? embed_models_path : "");
	char	   *saveptr = NULL;

	get_share_path(my_exec_path, sharedir);
	for (char *tok = strtok_r(copy, ":", &saveptr); tok; tok = strtok_r(NULL, ":", &saveptr))
	{
		if (*tok == '\0')
			continue;
		if (strncmp(tok, "$sharedir", 9) == 0)
			result = lappend(result, psprintf("%s%s", sharedir, tok + 9));
		else
			result = lappend(result, pstrdup(tok));	/* absolute: see check_models_path */
	}
	return result;
}

/* Whether folder/name/config.json exists. */
static bool
folder_has_model(const char *folder, const char *name)
{
	struct stat st;
	char	   *config = psprintf("%s/%s/config.json", folder, name);
	bool		found = stat(config, &st) == 0 && S_ISREG(st.st_mode);

	pfree(config);
	return found;
}

/* list_sort comparator: by model name. */
static int
compare_locations(const ListCell *a, const ListCell *b)
{
	return strcmp(((EmbedModelLocation *) lfirst(a))->name, ((EmbedModelLocation *) lfirst(b))->name);
}

List *
embed_installed_models(void)
{
	List	   *names = NIL;
	ListCell   *lc;

	foreach(lc, models_path_folders())
	{
		const char *folder = lfirst(lc);
		DIR		   *dir = AllocateDir(folder);
		struct dirent *de;

		if (dir == NULL)
			continue;
		while ((de = ReadDirExtended(dir, folder, DEBUG1)) != NULL)
		{
			ListCell   *lc2;
			bool		seen = false;

			if (de->d_name[0] == '.' || !folder_has_model(folder, de->d_name))
				continue;
			foreach(lc2, names)
				if (strcmp(((EmbedModelLocation *) lfirst(lc2))->name, de->d_name) == 0)
					seen = true;
			if (!seen)
			{
				EmbedModelLocation *loc = palloc(sizeof(EmbedModelLocation));

				loc->name = pstrdup(de->d_name);
				loc->dir = psprintf("%s/%s", folder, de->d_name);
				names = lappend(names, loc);
			}
		}
		FreeDir(dir);
	}
	list_sort(names, compare_locations);
	return names;
}

/* Comma-separated names of the installed models, for hints. */
static char *
installed_model_names(void)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, embed_installed_models())
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", ((EmbedModelLocation *) lfirst(lc))->name);
	if (buf.len == 0)
		appendStringInfoString(&buf, "(none)");
	return buf.data;
}

/* The folder of model `name`: the first folder of embed.models_path that holds it. */
static char *
resolve_model_dir(const char *name)
{
	ListCell   *lc;

	foreach(lc, models_path_folders())
	{
		if (folder_has_model(lfirst(lc), name))
			return psprintf("%s/%s", (char *) lfirst(lc), name);
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" is not installed", name),
			 errdetail("No folder \"%s\" with a config.json was found in embed.models_path (\"%s\").",
					   name, embed_models_path),
			 errhint("Installed models: %s.", installed_model_names())));
	return NULL;				/* keep compiler quiet */
}

/* SQLSTATE for an engine status. */
static int
status_sqlstate(EmbedStatus status)
{
	switch (status)
	{
		case EMBED_ERR_IO:
			return ERRCODE_UNDEFINED_FILE;
		case EMBED_ERR_CORRUPT:
			return ERRCODE_DATA_CORRUPTED;
		case EMBED_ERR_CONFIG:
		case EMBED_ERR_INPUT:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case EMBED_ERR_UNSUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case EMBED_ERR_NOMEM:
			return ERRCODE_OUT_OF_MEMORY;
		case EMBED_OK:
			break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

void
embed_report_engine_error(EmbedStatus status, const char *model, const char *message)
{
	ereport(ERROR,
			(errcode(status_sqlstate(status)),
			 errmsg("could not use model \"%s\"", model),
			 errdetail("%s", message)));
}

/* "dev:ino:size:mtime_ns:ctime_ns" of a file, or NULL when it cannot be stat'ed. */
static char *
file_identity(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return NULL;
	return psprintf("%llu:%llu:%lld:%lld.%09ld:%lld.%09ld",
					(unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
					(long long) st.st_size,
					(long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
					(long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

/* SHA-256 of a file as hex, read in chunks so that cancel works. */
static void
hash_file(const char *path, char hex[EMBED_SHA256_HEX_LEN])
{
	const size_t chunk = 4 * 1024 * 1024;
	char	   *buf = palloc(chunk);
	EmbedSha256 ctx;
	uint8_t		digest[EMBED_SHA256_DIGEST_LEN];
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open \"%s\": %m", path)));
	embed_sha256_init(&ctx);
	for (;;)
	{
		ssize_t		n;

		CHECK_FOR_INTERRUPTS();
		n = read(fd, buf, chunk);
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read \"%s\": %m", path)));
		}
		if (n == 0)
			break;
		embed_sha256_update(&ctx, buf, (size_t) n);
	}
	CloseTransientFile(fd);
	embed_sha256_final(&ctx, digest);
	embed_sha256_digest_to_hex(digest, hex);
	pfree(buf);
}

/* Schema-qualified name of the pins table (the schema of the calling function). */
static char *
pins_table(Oid schema)
{
	return psprintf("%s.embed_model_pins",
					quote_identifier(get_namespace_name(schema)));
}

/* Whether this transaction may write a pin (not parallel, read-only or in recovery). */
static bool
pins_writable(void)
{
	return !IsInParallelMode() && !XactReadOnly && !RecoveryInProgress();
}

/* Owner of the pins table, that is the extension's owner. */
static Oid
pins_table_owner(Oid schema)
{
	Oid			relid = get_relname_relid("embed_model_pins", schema);
	HeapTuple	tuple;
	Oid			owner;

	if (!OidIsValid(relid))
		elog(ERROR, "table embed_model_pins not found in schema %u", schema);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * Check the model's weights against its pin, hashing only when needed, and
 * pin it when there is none and the database can be written.  Fills
 * m->sha256.
 */
static void
check_pin(EmbedLoadedModel *m, Oid schema, bool may_pin)
{
	char	   *identity = file_identity(m->weights_path);
	char	   *table = pins_table(schema);
	Oid			save_userid;
	int			save_sec_context;
	char	   *pinned_sha = NULL;
	char	   *pinned_identity = NULL;
	bool		can_write = may_pin && pins_writable();
	Datum		args[3];
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Oid			owner;

	if (identity == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat \"%s\": %m", m->weights_path)));

	/* Run the pin queries as the extension's owner: users need no rights on the table. */
	owner = pins_table_owner(schema);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		args[0] = CStringGetTextDatum(m->name);
		if (SPI_execute_with_args(psprintf("SELECT sha256, file_identity FROM %s WHERE name = $1", table),
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read %s", table);
		if (SPI_processed == 1)
		{
			pinned_sha = MemoryContextStrdup(TopTransactionContext,
											 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			pinned_identity = MemoryContextStrdup(TopTransactionContext,
												  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
		}

		m->pinned = pinned_sha != NULL;
		if (pinned_sha && strcmp(pinned_identity, identity) == 0)
			strlcpy(m->sha256, pinned_sha, sizeof(m->sha256));
		else
		{
			if (m->sha256[0] == '\0')
				hash_file(m->weights_path, m->sha256);
			if (pinned_sha && strcmp(pinned_sha, m->sha256) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the weights of model \"%s\" changed since it was first used in this database", m->name),
						 errdetail("The file \"%s\" has SHA-256 %s, but the model was pinned to %s.",
								   m->weights_path, m->sha256, pinned_sha),
						 errhint("Restore the original weights, or install the new ones under another name. "
								 "To accept the change, run SELECT embed_unpin_model('%s') as a superuser, then recompute every stored embedding of this model "
								 "(UPDATE the columns, REINDEX the indexes whose expressions call embed()).", m->name)));
			if (can_write)
			{
				args[1] = CStringGetTextDatum(m->sha256);
				args[2] = CStringGetTextDatum(identity);
				if (SPI_execute_with_args(psprintf("INSERT INTO %s (name, sha256, file_identity) VALUES ($1, $2, $3) "
												   "ON CONFLICT (name) DO UPDATE SET file_identity = EXCLUDED.file_identity "
												   "WHERE %s.sha256 = EXCLUDED.sha256",
												   table, table),
										  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
					elog(ERROR, "could not write %s", table);
				m->pinned = true;
			}
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	m->pin_checked = true;
}

/* Release a cache entry's engine objects. */
static void
free_loaded_model(EmbedLoadedModel *m)
{
	if (m->model)
		embed_model_free(m->model);
	if (m->tokenizer)
		embed_tokenizer_free(m->tokenizer);
	pfree(m->name);
	pfree(m->dir);
	pfree(m->weights_path);
	pfree(m->identity);
	pfree(m);
}

/* Load the engine objects of the model in dir into a new cache entry. */
static EmbedLoadedModel *
load_model(const char *name, const char *dir)
{
	char	   *weights_path = psprintf("%s/model.safetensors", dir);
	char	   *identity = file_identity(weights_path);
	EmbedLoadedModel *m;
	MemoryContext old;
	char		err[1024];
	EmbedStatus status;

	if (identity == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not use model \"%s\"", name),
				 errdetail("could not stat \"%s\": %m", weights_path)));

	old = MemoryContextSwitchTo(TopMemoryContext);
	m = palloc0(sizeof(EmbedLoadedModel));
	m->name = pstrdup(name);
	m->dir = pstrdup(dir);
	m->weights_path = pstrdup(weights_path);
	m->identity = pstrdup(identity);
	MemoryContextSwitchTo(old);

	err[0] = '\0';
	status = embed_model_load(dir, &m->model, err, sizeof(err));
	if (status == EMBED_OK)
	{
		m->tokenizer = embed_tokenizer_load(dir, err, sizeof(err));
		if (m->tokenizer == NULL)
			status = EMBED_ERR_CONFIG;
		else if (embed_tokenizer_vocab_size(m->tokenizer) > embed_model_info(m->model)->vocab_size)
		{
			snprintf(err, sizeof(err), "the tokenizer has %d tokens but config.json has vocab_size %d",
					 (int) embed_tokenizer_vocab_size(m->tokenizer), embed_model_info(m->model)->vocab_size);
			status = EMBED_ERR_CONFIG;
		}
		else if (embed_model_info(m->model)->arch == EMBED_ARCH_ROBERTA &&
				 embed_tokenizer_num_special_tokens(m->tokenizer) == 0)
		{
			/* transformers would pick RobertaTokenizer from config.json: refuse rather than differ */
			snprintf(err, sizeof(err), "the model is a RoBERTa but its tokenizer adds no <s> ... </s> around a text "
					 "(with vocab.json + merges.txt, tokenizer_config.json must say \"tokenizer_class\": \"RobertaTokenizer\")");
			status = EMBED_ERR_CONFIG;
		}
		else if (embed_model_info(m->model)->max_tokens <= embed_tokenizer_num_special_tokens(m->tokenizer))
		{
			snprintf(err, sizeof(err), "the model takes %d tokens, which leaves no room for text beside its %d special tokens",
					 embed_model_info(m->model)->max_tokens, embed_tokenizer_num_special_tokens(m->tokenizer));
			status = EMBED_ERR_CONFIG;
		}
	}
	if (status != EMBED_OK)
	{
		char	   *message = pstrdup(err);

		free_loaded_model(m);
		embed_report_engine_error(status, name, message);
	}
	return m;
}

EmbedLoadedModel *
embed_get_model(const char *name, Oid schema, bool may_pin)
{
	EmbedLoadedModel *m = NULL;
	int			slot;
	char	   *dir;

	check_model_name(name);
	dir = resolve_model_dir(name);

	for (slot = 0; slot < model_cache_count; slot++)
		if (strcmp(model_cache[slot]->name, name) == 0)
			break;
	if (slot < model_cache_count)
	{
		char	   *identity = file_identity(model_cache[slot]->weights_path);

		m = model_cache[slot];
		/* A moved path or a replaced file means a reload (and a new pin check). */
		if (strcmp(m->dir, dir) != 0 || identity == NULL || strcmp(identity, m->identity) != 0)
		{
			model_cache[slot] = model_cache[--model_cache_count];
			free_loaded_model(m);
			m = NULL;
		}
	}
	if (m == NULL)
	{
		if (model_cache_count == EMBED_MAX_CACHED_MODELS)
		{
			/* Evict the oldest entry. */
			free_loaded_model(model_cache[0]);
			memmove(model_cache, model_cache + 1, sizeof(model_cache[0]) * (EMBED_MAX_CACHED_MODELS - 1));
			model_cache_count--;
		}
		m = load_model(name, dir);
		model_cache[model_cache_count++] = m;
	}
	/* Check once per load; pin later if this is the first chance to write. */
	if (!m->pin_checked || (!m->pinned && may_pin && pins_writable()))
		check_pin(m, schema, may_pin);
	return m;
}

const char *
embed_default_model_name(void)
{
	if (embed_default_model == NULL || embed_default_model[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embed.model is empty"),
				 errhint("Set embed.model to one of the installed models: %s.", installed_model_names())));
	return embed_default_model;
}
