/*
 * embed_sql.c: the SQL functions embed(), embed_tokenize(), embed_tokens()
 * and embed_models(), for every architecture the engine runs (BERT,
 * RoBERTa, DistilBERT, GPT-2).
 *
 * Text goes through the model's tokenizer (truncated to the model's
 * max_tokens, special tokens included), then through the engine's forward
 * pass in batches: an array is sorted by token count and cut into batches of
 * at most EMBED_BATCH_SIZE texts, each padded to its longest member, so that
 * padding stays small (a causal model's tokens never see the padding after
 * them; an encoder masks it).  All buffers of the forward pass are palloc'd
 * by the caller and the engine calls back between layers for
 * CHECK_FOR_INTERRUPTS(), so a cancel or statement_timeout takes effect
 * within one layer and leaks nothing.  The tokenizer, which allocates its
 * own buffers for a long word, is polled differently: the poll runs
 * CHECK_FOR_INTERRUPTS() and keeps the error it raises, the tokenizer frees
 * its buffers and returns, and the error is raised again.
 *
 * A text that gives no token at all (the empty string with a model that
 * adds no special tokens, such as GPT-2) has no embedding: embed() refuses
 * it with invalid_parameter_value and a hint to pass NULL instead, while
 * embed_tokenize() and embed_tokens() return no rows.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "forward.h"
#include "embed_model.h"
#include "embed_vector.h"

#define EMBED_BATCH_SIZE 32

PG_FUNCTION_INFO_V1(embed_text_default);
PG_FUNCTION_INFO_V1(embed_text);
PG_FUNCTION_INFO_V1(embed_text_array_default);
PG_FUNCTION_INFO_V1(embed_text_array);
PG_FUNCTION_INFO_V1(embed_tokenize_default);
PG_FUNCTION_INFO_V1(embed_tokenize);
PG_FUNCTION_INFO_V1(embed_tokens_default);
PG_FUNCTION_INFO_V1(embed_tokens);
PG_FUNCTION_INFO_V1(embed_models);

/* A tokenized text. */
typedef struct TokenizedText
{
	int32_t    *ids;
	int			count;
	int			index;			/* position in the caller's input */
} TokenizedText;

/* The tokenizer's interrupt poll: where to keep the error it caught. */
typedef struct InterruptPoll
{
	MemoryContext context;
	ErrorData  *error;
} InterruptPoll;

/* Between-layer callback of the forward pass. */
static void
embed_check_interrupts(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/* The extension's schema: the one the called function lives in. */
static Oid
extension_schema(FunctionCallInfo fcinfo)
{
	return get_func_namespace(fcinfo->flinfo->fn_oid);
}

/* The model named by argument argno, or the default model when argno < 0. */
static EmbedLoadedModel *
model_argument(FunctionCallInfo fcinfo, int argno)
{
	const char *name;

	if (argno >= 0)
		name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	else
		name = embed_default_model_name();
	return embed_get_model(name, extension_schema(fcinfo), true);
}

/*
 * Tokenizer poll: CHECK_FOR_INTERRUPTS(), whose error is kept (the
 * tokenizer must free its buffers before the error unwinds the stack) and
 * makes the tokenizer stop.
 */
static bool
tokenizer_interrupt(void *arg)
{
	InterruptPoll *poll = arg;

	if (!INTERRUPTS_PENDING_CONDITION())
		return false;
	PG_TRY();
	{
		CHECK_FOR_INTERRUPTS();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(poll->context);
		poll->error = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	return poll->error != NULL;
}

/* Tokenize one text into palloc'd ids, truncated to the model's max_tokens. */
static TokenizedText
tokenize_text(EmbedLoadedModel *m, text *input)
{
	const EmbedModelInfo *info = embed_model_info(m->model);
	TokenizedText result;
	InterruptPoll poll = {CurrentMemoryContext, NULL};
	bool		truncated;
	char		err[512];

	result.ids = palloc(sizeof(int32_t) * info->max_tokens);
	result.index = 0;
	result.count = embed_tokenizer_encode_interruptible(m->tokenizer, VARDATA_ANY(input),
														VARSIZE_ANY_EXHDR(input), result.ids,
														info->max_tokens, &truncated,
														tokenizer_interrupt, &poll,
														err, sizeof(err));
	if (poll.error)
		ReThrowError(poll.error);
	if (result.count < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("could not tokenize text for model \"%s\"", m->name),
				 errdetail("%s", err)));
	return result;
}

/*
 * Run the forward pass over texts[0..n) (n <= EMBED_BATCH_SIZE), padded to
 * the longest; returns the palloc'd final hidden states [n * seq * hidden]
 * and the padded length in *seq_out.  lengths receives each text's count.
 */
static float *
forward_batch(EmbedLoadedModel *m, TokenizedText *texts, int n, int32_t *lengths, int *seq_out)
{
	const EmbedModelInfo *info = embed_model_info(m->model);
	int			seq = 1;
	int32_t    *ids;
	EmbedThreadPool *pool;
	size_t		workspace_bytes;
	size_t		hidden_floats;
	void	   *workspace;
	float	   *hidden;
	char		err[512];
	EmbedStatus status;

	for (int i = 0; i < n; i++)
		seq = Max(seq, texts[i].count);
	ids = palloc0(mul_size(mul_size(n, seq), sizeof(int32_t)));
	for (int i = 0; i < n; i++)
	{
		memcpy(ids + (size_t) i * seq, texts[i].ids, sizeof(int32_t) * texts[i].count);
		lengths[i] = texts[i].count;
	}
	pool = embed_thread_pool();
	if (!embed_forward_workspace_size(m->model, n, seq, embed_thread_pool_threads(pool), &workspace_bytes))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of %d texts of %d tokens is too large for model \"%s\"", n, seq, m->name)));
	hidden_floats = mul_size(mul_size(n, seq), info->hidden);
	workspace = MemoryContextAllocHuge(CurrentMemoryContext, Max(workspace_bytes, 1));
	hidden = MemoryContextAllocHuge(CurrentMemoryContext, mul_size(hidden_floats, sizeof(float)));

	err[0] = '\0';
	status = embed_forward(m->model, pool, ids, NULL, lengths, n, seq, hidden, workspace,
								embed_check_interrupts, NULL, err, sizeof(err));
	if (status != EMBED_OK)
		embed_report_engine_error(status, m->name, err);
	pfree(workspace);
	pfree(ids);
	*seq_out = seq;
	return hidden;
}

/*
 * Refuse a text without tokens: it has nothing to pool.  element is the
 * text's 1-based position in an array, or 0 for a single text.
 */
static void
check_has_tokens(EmbedLoadedModel *m, const TokenizedText *tt, int element)
{
	if (tt->count > 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot embed a text without tokens with model \"%s\"", m->name),
			 element > 0
			 ? errdetail("Element %d of the array is empty (or holds only characters the tokenizer drops), and the model adds no special tokens around a text.", element)
			 : errdetail("The text is empty (or holds only characters the tokenizer drops), and the model adds no special tokens around a text."),
			 element > 0
			 ? errhint("Pass NULL elements instead, which give NULL, for example embed(array_replace(texts, '', NULL), ...).")
			 : errhint("Pass NULL instead, which gives NULL, for example embed(NULLIF(body, ''), ...).")));
}

/* A new vector holding the floats src[0..dim). */
static EmbedVector *
vector_from_floats(const float *src, int dim)
{
	EmbedVector *v = embed_vector_new(dim);

	memcpy(v->x, src, sizeof(float) * dim);
	return v;
}

/* Embed one text with model m. */
static EmbedVector *
embed_one(EmbedLoadedModel *m, text *input)
{
	const EmbedModelInfo *info = embed_model_info(m->model);
	TokenizedText tt = tokenize_text(m, input);
	int32_t		length;
	int			seq;
	float	   *hidden;
	float	   *pooled = palloc(sizeof(float) * info->hidden);

	check_has_tokens(m, &tt, 0);
	hidden = forward_batch(m, &tt, 1, &length, &seq);
	embed_model_pool(m->model, hidden, &length, 1, seq, pooled);
	return vector_from_floats(pooled, info->hidden);
}

Datum
embed_text_default(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(embed_one(model_argument(fcinfo, -1), PG_GETARG_TEXT_PP(0)));
}

Datum
embed_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(embed_one(model_argument(fcinfo, 1), PG_GETARG_TEXT_PP(0)));
}

/* Order tokenized texts by token count. */
static int
compare_by_count(const void *a, const void *b)
{
	const TokenizedText *x = a;
	const TokenizedText *y = b;

	if (x->count != y->count)
		return x->count < y->count ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

/* Embed every element of a text[] (NULL elements give NULL). */
static Datum
embed_array(FunctionCallInfo fcinfo, EmbedLoadedModel *m)
{
	ArrayType  *input = PG_GETARG_ARRAYTYPE_P(0);
	const EmbedModelInfo *info = embed_model_info(m->model);
	Oid			vector_array_type = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			vector_type = get_element_type(vector_array_type);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	Datum	   *out;
	bool	   *out_nulls;
	TokenizedText *texts;
	int			ntexts = 0;
	float	   *pooled;
	MemoryContext batch_context;
	ArrayType  *result;

	if (!OidIsValid(vector_type))
		elog(ERROR, "could not determine the result type of embed(text[])");
	if (ARR_NDIM(input) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("embed() takes a one-dimensional array of texts")));
	deconstruct_array(input, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);

	out = palloc0(sizeof(Datum) * Max(nelems, 1));
	out_nulls = palloc(sizeof(bool) * Max(nelems, 1));
	texts = palloc(sizeof(TokenizedText) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		out_nulls[i] = nulls[i];
		if (nulls[i])
			continue;
		CHECK_FOR_INTERRUPTS();
		texts[ntexts] = tokenize_text(m, DatumGetTextPP(elems[i]));
		texts[ntexts].index = i;
		check_has_tokens(m, &texts[ntexts], i + 1);
		ntexts++;
	}
	qsort(texts, ntexts, sizeof(TokenizedText), compare_by_count);

	pooled = palloc(mul_size(sizeof(float), info->hidden) * EMBED_BATCH_SIZE);
	batch_context = AllocSetContextCreate(CurrentMemoryContext, "embed batch", ALLOCSET_DEFAULT_SIZES);
	for (int start = 0; start < ntexts; start += EMBED_BATCH_SIZE)
	{
		int			n = Min(EMBED_BATCH_SIZE, ntexts - start);
		int32_t		lengths[EMBED_BATCH_SIZE];
		int			seq;
		float	   *hidden;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(batch_context);
		hidden = forward_batch(m, texts + start, n, lengths, &seq);
		embed_model_pool(m->model, hidden, lengths, n, seq, pooled);
		MemoryContextSwitchTo(old);
		for (int i = 0; i < n; i++)
			out[texts[start + i].index] =
				PointerGetDatum(vector_from_floats(pooled + (size_t) i * info->hidden, info->hidden));
		MemoryContextReset(batch_context);
	}
	MemoryContextDelete(batch_context);

	get_typlenbyvalalign(vector_type, &typlen, &typbyval, &typalign);
	if (nelems == 0)
		result = construct_empty_array(vector_type);
	else
	{
		int			dims[1] = {nelems};
		int			lbs[1] = {ARR_NDIM(input) == 1 ? ARR_LBOUND(input)[0] : 1};

		result = construct_md_array(out, out_nulls, 1, dims, lbs, vector_type, typlen, typbyval, typalign);
	}
	PG_RETURN_ARRAYTYPE_P(result);
}

Datum
embed_text_array_default(PG_FUNCTION_ARGS)
{
	return embed_array(fcinfo, model_argument(fcinfo, -1));
}

Datum
embed_text_array(PG_FUNCTION_ARGS)
{
	return embed_array(fcinfo, model_argument(fcinfo, 1));
}

/* The token string of id, or NULL when the vocabulary has none. */
static Datum
token_datum(EmbedLoadedModel *m, int32_t id, bool *isnull)
{
	const char *token = embed_tokenizer_id_to_token(m->tokenizer, id);

	*isnull = token == NULL;
	return token ? CStringGetTextDatum(token) : (Datum) 0;
}

/* Rows (position, token, id) of the tokenized text. */
static Datum
tokenize_rows(FunctionCallInfo fcinfo, EmbedLoadedModel *m)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TokenizedText tt = tokenize_text(m, PG_GETARG_TEXT_PP(0));

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < tt.count; i++)
	{
		Datum		values[3];
		bool		isnull[3] = {false, false, false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = token_datum(m, tt.ids[i], &isnull[1]);
		values[2] = Int32GetDatum(tt.ids[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}

Datum
embed_tokenize_default(PG_FUNCTION_ARGS)
{
	return tokenize_rows(fcinfo, model_argument(fcinfo, -1));
}

Datum
embed_tokenize(PG_FUNCTION_ARGS)
{
	return tokenize_rows(fcinfo, model_argument(fcinfo, 1));
}

/*
 * Rows (position, token, embedding) with each token's final hidden state
 * (none for a text without tokens).
 */
static Datum
token_state_rows(FunctionCallInfo fcinfo, EmbedLoadedModel *m)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const EmbedModelInfo *info = embed_model_info(m->model);
	TokenizedText tt = tokenize_text(m, PG_GETARG_TEXT_PP(0));
	int32_t		length;
	int			seq;
	float	   *hidden = NULL;

	if (tt.count > 0)
		hidden = forward_batch(m, &tt, 1, &length, &seq);
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < tt.count; i++)
	{
		Datum		values[3];
		bool		isnull[3] = {false, false, false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = token_datum(m, tt.ids[i], &isnull[1]);
		values[2] = PointerGetDatum(vector_from_floats(hidden + (size_t) i * info->hidden, info->hidden));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}

Datum
embed_tokens_default(PG_FUNCTION_ARGS)
{
	return token_state_rows(fcinfo, model_argument(fcinfo, -1));
}

Datum
embed_tokens(PG_FUNCTION_ARGS)
{
	return token_state_rows(fcinfo, model_argument(fcinfo, 1));
}

/* Name of a pooling mode as shown by embed_models(). */
static const char *
pooling_name(EmbedPooling pooling)
{
	switch (pooling)
	{
		case EMBED_POOL_MEAN:
			return "mean";
		case EMBED_POOL_CLS:
			return "cls";
		case EMBED_POOL_MAX:
			return "max";
	}
	return "unknown";
}

/*
 * One row per installed model.  A model that fails to load is still listed,
 * with its path and NULL elsewhere, and its error is reported as a WARNING.
 */
Datum
embed_models(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			schema = extension_schema(fcinfo);
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, embed_installed_models())
	{
		EmbedModelLocation *loc = lfirst(lc);
		Datum		values[11];
		bool		isnull[11];

		memset(isnull, true, sizeof(isnull));
		values[0] = CStringGetTextDatum(loc->name);
		isnull[0] = false;
		values[9] = CStringGetTextDatum(loc->dir);
		isnull[9] = false;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(caller_context);
		PG_TRY();
		{
			EmbedLoadedModel *m = embed_get_model(loc->name, schema, false);
			const EmbedModelInfo *info = embed_model_info(m->model);

			values[1] = Int32GetDatum(info->hidden);
			values[2] = Int32GetDatum(info->layers);
			values[3] = Int32GetDatum(info->max_tokens);
			values[4] = CStringGetTextDatum(pooling_name(info->pooling));
			values[5] = BoolGetDatum(info->normalize);
			values[6] = Int64GetDatum(info->params);
			values[7] = Int64GetDatum(info->weights_bytes);
			values[8] = CStringGetTextDatum(m->sha256);
			values[10] = CStringGetTextDatum(embed_architecture_name(info->arch));
			for (int i = 1; i <= 10; i++)
				isnull[i] = false;
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(caller_context);
			CurrentResourceOwner = caller_owner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(caller_context);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(caller_context);
			CurrentResourceOwner = caller_owner;
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("%s", edata->message),
					 edata->detail ? errdetail("%s", edata->detail) : 0));
			FreeErrorData(edata);
		}
		PG_END_TRY();
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
