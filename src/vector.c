/*
 * vector.c: the `vector` type, compatible with pgvector's SQL surface.
 *
 * Design notes
 * ------------
 * Layout, text form and binary form are pgvector's (see embed_vector.h), so
 * pgvector client adapters work unchanged: text is "[1,2,3]" with shortest
 * round-trip float output; binary is int16 dim, int16 unused (0), then dim
 * big-endian float4.
 *
 * Every way in (text, binary, arrays, aggregates' final functions) enforces
 * the same invariants: 1 <= dim <= EMBED_VECTOR_MAX_DIM, unused == 0, every
 * element finite.  The distance operators rely on them and call the kernels
 * of engine/distance.c, which the HNSW index shares.
 *
 * SQLSTATEs:
 *   22P02 malformed text (including "[]")      22P03 malformed binary input
 *   22003 value out of float range / overflow  22000 dimension mismatch
 *   54000 more than EMBED_VECTOR_MAX_DIM dims  22023 NaN or infinite element,
 *         invalid type modifier, empty subvector range, bad aggregate state
 *   22004 NULL array element
 *
 * Aggregates keep their transition state in a float8[] {count, sum_1, ...,
 * sum_dim}, updated in place when called as an aggregate, like float8_accum.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

#include "distance.h"
#include "embed_vector.h"

#define STATE_DIMS(a)	(ARR_DIMS(a)[0] - 1)

/* ---------------------------------------------------------------------
 * Invariants and allocation
 * ---------------------------------------------------------------------
 */

/* Raise the dimension-count errors shared by every constructor. */
static void
check_dim(int64 dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	if (dim > EMBED_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions", EMBED_VECTOR_MAX_DIM)));
}

/* Raise 22000 when a value does not have the dimensions its typmod asks. */
static void
check_expected_dim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/* Raise 22023 for NaN or infinite elements. */
static inline void
check_element(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("NaN not allowed in vector")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("infinite value not allowed in vector")));
}

/* Raise 22003 when an arithmetic result left the float range. */
static void
check_overflow(const float *x, int dim)
{
	for (int i = 0; i < dim; i++)
		if (isinf(x[i]))
			float_overflow_error();
}

/* Bytes of a vector of dim dimensions, overflow-checked. */
static Size
vector_size(int dim)
{
	return add_size(offsetof(EmbedVector, x), mul_size(sizeof(float), (Size) dim));
}

/* Allocate a zeroed vector of dim dimensions. */
EmbedVector *
embed_vector_new(int dim)
{
	EmbedVector *result;
	Size		size;

	check_dim(dim);
	size = vector_size(dim);
	result = (EmbedVector *) palloc0(size);
	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/* Raise 22000 when two operands' dimensions differ. */
void
embed_vector_check_same_dims(const EmbedVector *a, const EmbedVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

/* ---------------------------------------------------------------------
 * Text and binary I/O, type modifier
 * ---------------------------------------------------------------------
 */

/* The whitespace array_in accepts. */
static inline bool
vector_isspace(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Raise 22P02 for a malformed literal, with an optional detail. */
static void
invalid_vector_text(const char *lit, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type vector: \"%s\"", lit),
			 detail ? errdetail_internal("%s", detail) : 0));
}

/* Upper bound on the number of elements of a literal: commas + 1, capped. */
static int
element_capacity(const char *pt)
{
	int			commas = 0;

	for (; *pt; pt++)
		if (*pt == ',' && ++commas >= EMBED_VECTOR_MAX_DIM)
			break;
	return commas + 1 > EMBED_VECTOR_MAX_DIM ? EMBED_VECTOR_MAX_DIM : commas + 1;
}

PG_FUNCTION_INFO_V1(embed_vector_in);
/* Parse "[x1, x2, ...]"; whitespace is allowed around every token. */
Datum
embed_vector_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	char	   *pt = lit;
	EmbedVector *result;
	int			capacity;
	int			dim = 0;

	while (vector_isspace(*pt))
		pt++;
	if (*pt != '[')
		invalid_vector_text(lit, "Vector contents must start with \"[\".");
	pt++;
	while (vector_isspace(*pt))
		pt++;
	if (*pt == ']')
		invalid_vector_text(lit, "A vector must have at least 1 dimension.");

	capacity = element_capacity(pt);
	result = (EmbedVector *) palloc0(vector_size(capacity));

	for (;;)
	{
		char	   *end;
		float		val;

		if (dim == EMBED_VECTOR_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("vector cannot have more than %d dimensions", EMBED_VECTOR_MAX_DIM)));
		while (vector_isspace(*pt))
			pt++;
		if (*pt == '\0')
			invalid_vector_text(lit, NULL);

		/* strtof like float4in avoids double rounding; LC_NUMERIC is C */
		errno = 0;
		val = strtof(pt, &end);
		if (end == pt)
			invalid_vector_text(lit, NULL);
		if (errno == ERANGE && isinf(val))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type vector", pnstrdup(pt, end - pt))));
		check_element(val);
		Assert(dim < capacity);
		result->x[dim++] = val;

		pt = end;
		while (vector_isspace(*pt))
			pt++;
		if (*pt == ',')
			pt++;
		else if (*pt == ']')
		{
			pt++;
			break;
		}
		else
			invalid_vector_text(lit, NULL);
	}

	while (vector_isspace(*pt))
		pt++;
	if (*pt != '\0')
		invalid_vector_text(lit, "Junk after closing right brace.");

	check_expected_dim(typmod, dim);
	SET_VARSIZE(result, vector_size(dim));
	result->dim = dim;
	PG_RETURN_EMBED_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(embed_vector_out);
/* Print "[x1,x2,...]" with the shortest decimal that reads back exactly. */
Datum
embed_vector_out(PG_FUNCTION_ARGS)
{
	EmbedVector *vec = PG_GETARG_EMBED_VECTOR_P(0);
	char	   *buf;
	char	   *ptr;

	/* each element takes at most FLOAT_SHORTEST_DECIMAL_LEN - 1 chars + ',' */
	buf = palloc(add_size(mul_size(FLOAT_SHORTEST_DECIMAL_LEN, vec->dim), 2));
	ptr = buf;
	*ptr++ = '[';
	for (int i = 0; i < vec->dim; i++)
	{
		if (i > 0)
			*ptr++ = ',';
		ptr += float_to_shortest_decimal_bufn(vec->x[i], ptr);
	}
	*ptr++ = ']';
	*ptr = '\0';

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(embed_vector_typmod_in);
/* vector(n): 1 <= n <= EMBED_VECTOR_MAX_DIM. */
Datum
embed_vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type vector takes one modifier, the number of dimensions.")));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be at least 1")));
	if (*tl > EMBED_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d", EMBED_VECTOR_MAX_DIM)));
	PG_RETURN_INT32(*tl);
}

PG_FUNCTION_INFO_V1(embed_vector_typmod_out);
/* Print the type modifier as "(n)". */
Datum
embed_vector_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	PG_RETURN_CSTRING(typmod >= 0 ? psprintf("(%d)", typmod) : pstrdup(""));
}

/* Raise 22P03 for binary input that is not a well-formed vector. */
static void
invalid_vector_binary(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid external vector"),
			 errdetail_internal("%s", detail)));
}

PG_FUNCTION_INFO_V1(embed_vector_recv);
/* Read the binary form, enforcing the same invariants as the text form. */
Datum
embed_vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	EmbedVector *result;
	int16		dim;
	int16		unused;

	if (buf->len - buf->cursor < 2 * (int) sizeof(int16))
		invalid_vector_binary("The message is shorter than the 4-byte header.");
	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));

	if (dim < 1)
		invalid_vector_binary(psprintf("The header declares dim = %d; a vector has at least 1 dimension.", dim));
	check_dim(dim);
	if (unused != 0)
		invalid_vector_binary(psprintf("The unused header field is %d, not 0.", unused));
	if (buf->len - buf->cursor < (int) sizeof(float4) * dim)
		invalid_vector_binary(psprintf("The header declares dim = %d but %d data bytes follow (%d needed).",
									   dim, buf->len - buf->cursor, (int) sizeof(float4) * dim));
	check_expected_dim(typmod, dim);

	result = embed_vector_new(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = pq_getmsgfloat4(buf);
		check_element(result->x[i]);
	}
	PG_RETURN_EMBED_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(embed_vector_send);
/* Write the binary form: int16 dim, int16 unused, big-endian float4s. */
Datum
embed_vector_send(PG_FUNCTION_ARGS)
{
	EmbedVector *vec = PG_GETARG_EMBED_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, (uint16) vec->dim);
	pq_sendint16(&buf, (uint16) vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendfloat4(&buf, vec->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(embed_vector_coerce);
/* Length-coercion cast vector -> vector(n): check the dimensions. */
Datum
embed_vector_coerce(PG_FUNCTION_ARGS)
{
	EmbedVector *vec = PG_GETARG_EMBED_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	check_expected_dim(typmod, vec->dim);
	PG_RETURN_EMBED_VECTOR_P(vec);
}

/* ---------------------------------------------------------------------
 * Casts to and from arrays
 * ---------------------------------------------------------------------
 */

/* Narrow a double to float, raising 22003 when it is out of float range. */
static float
double_to_float(double d)
{
	if (isfinite(d) && fabs(d) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%g\" is out of range for type vector", d)));
	return (float) d;
}

PG_FUNCTION_INFO_V1(embed_vector_from_array);
/* integer[], real[], double precision[] or numeric[] -> vector. */
Datum
embed_vector_from_array(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	EmbedVector *result;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			nelems;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));
	check_dim(ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array)));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, NULL, &nelems);
	check_expected_dim(typmod, nelems);

	result = embed_vector_new(nelems);
	for (int i = 0; i < nelems; i++)
	{
		switch (elemtype)
		{
			case INT4OID:
				result->x[i] = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				result->x[i] = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				result->x[i] = double_to_float(DatumGetFloat8(elems[i]));
				break;
			case NUMERICOID:
				/* numeric_float4 raises 22003 itself when out of range */
				result->x[i] = DatumGetFloat4(DirectFunctionCall1(numeric_float4, elems[i]));
				break;
			default:
				elog(ERROR, "unsupported array element type %u", elemtype);
		}
		check_element(result->x[i]);
	}
	pfree(elems);
	PG_RETURN_EMBED_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(embed_vector_to_float4);
/* vector -> real[]. */
Datum
embed_vector_to_float4(PG_FUNCTION_ARGS)
{
	EmbedVector *vec = PG_GETARG_EMBED_VECTOR_P(0);
	Datum	   *datums = palloc(mul_size(sizeof(Datum), vec->dim));
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float4GetDatum(vec->x[i]);
	result = construct_array(datums, vec->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(datums);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* ---------------------------------------------------------------------
 * Distances and norms
 * ---------------------------------------------------------------------
 */

/* The distances and similarities computed by distance_of_args(). */
typedef enum VectorDistance
{
	DISTANCE_L2,
	DISTANCE_L2_SQUARED,
	DISTANCE_INNER_PRODUCT,
	DISTANCE_NEGATIVE_INNER_PRODUCT,
	DISTANCE_COSINE,
	SIMILARITY_COSINE,
	DISTANCE_L1
} VectorDistance;

/* A distance between the two vector arguments, which must have the same dimensions. */
static double
distance_of_args(FunctionCallInfo fcinfo, VectorDistance which)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);
	EmbedVector *b = PG_GETARG_EMBED_VECTOR_P(1);

	embed_vector_check_same_dims(a, b);
	switch (which)
	{
		case DISTANCE_L2:
			return sqrt((double) embed_l2_squared_distance(a->x, b->x, a->dim));
		case DISTANCE_L2_SQUARED:
			return (double) embed_l2_squared_distance(a->x, b->x, a->dim);
		case DISTANCE_INNER_PRODUCT:
			return (double) embed_inner_product(a->x, b->x, a->dim);
		case DISTANCE_NEGATIVE_INNER_PRODUCT:
			return -(double) embed_inner_product(a->x, b->x, a->dim);
		case DISTANCE_COSINE:
			return embed_cosine_distance(a->x, b->x, a->dim);
		case SIMILARITY_COSINE:
			return embed_cosine_similarity(a->x, b->x, a->dim);
		case DISTANCE_L1:
			return (double) embed_l1_distance(a->x, b->x, a->dim);
	}
	pg_unreachable();
}

PG_FUNCTION_INFO_V1(embed_vector_l2_distance);
/* Euclidean distance: the <-> operator. */
Datum
embed_vector_l2_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(distance_of_args(fcinfo, DISTANCE_L2));
}

PG_FUNCTION_INFO_V1(embed_vector_l2_squared_distance);
/* Squared Euclidean distance (no sqrt), for index support. */
Datum
embed_vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(distance_of_args(fcinfo, DISTANCE_L2_SQUARED));
}

PG_FUNCTION_INFO_V1(embed_vector_inner_product);
/* Inner product. */
Datum
embed_vector_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(distance_of_args(fcinfo, DISTANCE_INNER_PRODUCT));
}

PG_FUNCTION_INFO_V1(embed_vector_negative_inner_product);
/* Negative inner product: the <#> operator (smaller is closer). */
Datum
embed_vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(distance_of_args(fcinfo, DISTANCE_NEGATIVE_INNER_PRODUCT));
}

PG_FUNCTION_INFO_V1(embed_vector_cosine_distance);
/* 1 - cosine similarity: the <=> operator; NaN if either vector is zero. */
Datum
embed_vector_cosine_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(distance_of_args(fcinfo, DISTANCE_COSINE));
}

PG_FUNCTION_INFO_V1(embed_vector_cosine_similarity);
/* Cosine similarity in [-1, 1]; NaN if either vector is zero. */
Datum
embed_vector_cosine_similarity(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(distance_of_args(fcinfo, SIMILARITY_COSINE));
}

PG_FUNCTION_INFO_V1(embed_vector_l1_distance);
/* Manhattan distance: the <+> operator. */
Datum
embed_vector_l1_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(distance_of_args(fcinfo, DISTANCE_L1));
}

PG_FUNCTION_INFO_V1(embed_vector_dims);
/* Number of dimensions. */
Datum
embed_vector_dims(PG_FUNCTION_ARGS)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);

	PG_RETURN_INT32(a->dim);
}

PG_FUNCTION_INFO_V1(embed_vector_norm);
/* Euclidean norm, accumulated in double. */
Datum
embed_vector_norm(PG_FUNCTION_ARGS)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);

	PG_RETURN_FLOAT8(sqrt(embed_squared_norm(a->x, a->dim)));
}

PG_FUNCTION_INFO_V1(embed_vector_l2_normalize);
/* Scale to unit Euclidean norm; the zero vector stays zero. */
Datum
embed_vector_l2_normalize(PG_FUNCTION_ARGS)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);
	EmbedVector *result = embed_vector_new(a->dim);
	double		norm = sqrt(embed_squared_norm(a->x, a->dim));

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
			result->x[i] = (float) (a->x[i] / norm);
		check_overflow(result->x, result->dim);
	}
	PG_RETURN_EMBED_VECTOR_P(result);
}

/* ---------------------------------------------------------------------
 * Element-wise arithmetic, concatenation, subvector
 * ---------------------------------------------------------------------
 */

/* The element-wise operations computed by elementwise_of_args(). */
typedef enum ElementwiseOp
{
	ELEMENTWISE_ADD,
	ELEMENTWISE_SUB,
	ELEMENTWISE_MUL
} ElementwiseOp;

/*
 * The two vector arguments (same dimensions) combined element by element;
 * overflow raises 22003, and so does a product that underflows to zero,
 * like float4mul.
 */
static EmbedVector *
elementwise_of_args(FunctionCallInfo fcinfo, ElementwiseOp op)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);
	EmbedVector *b = PG_GETARG_EMBED_VECTOR_P(1);
	EmbedVector *result;

	embed_vector_check_same_dims(a, b);
	result = embed_vector_new(a->dim);
	switch (op)
	{
		case ELEMENTWISE_ADD:
			for (int i = 0; i < a->dim; i++)
				result->x[i] = a->x[i] + b->x[i];
			break;
		case ELEMENTWISE_SUB:
			for (int i = 0; i < a->dim; i++)
				result->x[i] = a->x[i] - b->x[i];
			break;
		case ELEMENTWISE_MUL:
			for (int i = 0; i < a->dim; i++)
				result->x[i] = a->x[i] * b->x[i];
			break;
	}
	check_overflow(result->x, result->dim);
	if (op == ELEMENTWISE_MUL)
	{
		for (int i = 0; i < a->dim; i++)
			if (result->x[i] == 0 && a->x[i] != 0 && b->x[i] != 0)
				float_underflow_error();
	}
	return result;
}

PG_FUNCTION_INFO_V1(embed_vector_add);
/* Element-wise sum. */
Datum
embed_vector_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_EMBED_VECTOR_P(elementwise_of_args(fcinfo, ELEMENTWISE_ADD));
}

PG_FUNCTION_INFO_V1(embed_vector_sub);
/* Element-wise difference. */
Datum
embed_vector_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_EMBED_VECTOR_P(elementwise_of_args(fcinfo, ELEMENTWISE_SUB));
}

PG_FUNCTION_INFO_V1(embed_vector_mul);
/* Element-wise product; overflow and underflow raise 22003 like float4mul. */
Datum
embed_vector_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_EMBED_VECTOR_P(elementwise_of_args(fcinfo, ELEMENTWISE_MUL));
}

PG_FUNCTION_INFO_V1(embed_vector_concat);
/* a || b. */
Datum
embed_vector_concat(PG_FUNCTION_ARGS)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);
	EmbedVector *b = PG_GETARG_EMBED_VECTOR_P(1);
	EmbedVector *result;

	result = embed_vector_new(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_EMBED_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(embed_vector_subvector);
/*
 * Elements start .. start + count - 1 (1-based), clipped to the vector like
 * substring(); an empty selection raises 22023.
 */
Datum
embed_vector_subvector(PG_FUNCTION_ARGS)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int64		first = Max((int64) start, 1);
	int64		end = Min((int64) start + (int64) count, (int64) a->dim + 1);
	EmbedVector *result;

	if (end <= first)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subvector must have at least 1 dimension"),
				 errdetail("Start %d and count %d select no element of a vector of %d dimensions.",
						   start, count, a->dim)));
	result = embed_vector_new((int) (end - first));
	memcpy(result->x, a->x + (first - 1), sizeof(float) * result->dim);
	PG_RETURN_EMBED_VECTOR_P(result);
}

/* ---------------------------------------------------------------------
 * B-tree comparison
 * ---------------------------------------------------------------------
 */

/* Compare element by element, then by dimensions (like arrays). */
static int
vector_cmp_internal(const EmbedVector *a, const EmbedVector *b)
{
	int			dim = Min(a->dim, b->dim);

	for (int i = 0; i < dim; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return 0;
}

/* Compare the two arguments, freeing detoasted copies (sorts call this often). */
static int
compare_args(FunctionCallInfo fcinfo)
{
	EmbedVector *a = PG_GETARG_EMBED_VECTOR_P(0);
	EmbedVector *b = PG_GETARG_EMBED_VECTOR_P(1);
	int			cmp = vector_cmp_internal(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return cmp;
}

PG_FUNCTION_INFO_V1(embed_vector_cmp);
/* B-tree support function 1. */
Datum
embed_vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(compare_args(fcinfo));
}

PG_FUNCTION_INFO_V1(embed_vector_lt);
/* a < b */
Datum
embed_vector_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) < 0);
}

PG_FUNCTION_INFO_V1(embed_vector_le);
/* a <= b */
Datum
embed_vector_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) <= 0);
}

PG_FUNCTION_INFO_V1(embed_vector_eq);
/* a = b */
Datum
embed_vector_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) == 0);
}

PG_FUNCTION_INFO_V1(embed_vector_ne);
/* a <> b */
Datum
embed_vector_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) != 0);
}

PG_FUNCTION_INFO_V1(embed_vector_ge);
/* a >= b */
Datum
embed_vector_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) >= 0);
}

PG_FUNCTION_INFO_V1(embed_vector_gt);
/* a > b */
Datum
embed_vector_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) > 0);
}

/* ---------------------------------------------------------------------
 * Aggregates: avg(vector), sum(vector)
 * ---------------------------------------------------------------------
 */

/* Validate a {count, sums...} state array (callable from SQL, so 22023). */
static float8 *
check_state_array(ArrayType *state)
{
	if (ARR_NDIM(state) != 1 ||
		ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid vector aggregate state"),
				 errdetail("The state must be a one-dimensional float8 array without nulls.")));
	return (float8 *) ARR_DATA_PTR(state);
}

/* A new state array {count, sums[0..dim-1]}. */
static ArrayType *
make_state(float8 count, const float8 *sums, const float *x, int dim)
{
	Datum	   *datums = palloc(mul_size(sizeof(Datum), add_size(dim, 1)));
	ArrayType  *result;

	datums[0] = Float8GetDatum(count);
	for (int i = 0; i < dim; i++)
		datums[i + 1] = Float8GetDatum(sums ? sums[i] : (float8) x[i]);
	result = construct_array(datums, dim + 1, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(datums);
	return result;
}

/* Add src[0..dim-1] into dst, raising 22003 on overflow. */
static void
add_sums(float8 *dst, const float8 *src, const float *x, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		dst[i] += src ? src[i] : (float8) x[i];
		if (isinf(dst[i]))
			float_overflow_error();
	}
}

PG_FUNCTION_INFO_V1(embed_vector_accum);
/* Transition function: count one more vector and add it to the sums. */
Datum
embed_vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	EmbedVector *v = PG_GETARG_EMBED_VECTOR_P(1);
	float8	   *values = check_state_array(state);
	int			dim = STATE_DIMS(state);

	if (dim == 0)
		PG_RETURN_ARRAYTYPE_P(make_state(values[0] + 1, NULL, v->x, v->dim));
	check_expected_dim(dim, v->dim);

	/* Update in place when called as an aggregate, like float8_accum */
	if (!AggCheckCallContext(fcinfo, NULL))
	{
		state = make_state(values[0], values + 1, NULL, dim);
		values = (float8 *) ARR_DATA_PTR(state);
	}
	values[0] += 1;
	add_sums(values + 1, NULL, v->x, dim);
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(embed_vector_combine);
/* Combine function: merge two partial states. */
Datum
embed_vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	float8	   *values1 = check_state_array(state1);
	float8	   *values2 = check_state_array(state2);
	int			dim = STATE_DIMS(state1);

	if (values2[0] == 0)
		PG_RETURN_ARRAYTYPE_P(state1);
	if (values1[0] == 0)
		PG_RETURN_ARRAYTYPE_P(make_state(values2[0], values2 + 1, NULL, STATE_DIMS(state2)));
	check_expected_dim(dim, STATE_DIMS(state2));

	if (!AggCheckCallContext(fcinfo, NULL))
	{
		state1 = make_state(values1[0], values1 + 1, NULL, dim);
		values1 = (float8 *) ARR_DATA_PTR(state1);
	}
	values1[0] += values2[0];
	add_sums(values1 + 1, values2 + 1, NULL, dim);
	PG_RETURN_ARRAYTYPE_P(state1);
}

/* Final step of avg and sum: sums / divisor as a vector; NULL for no rows. */
static Datum
state_to_vector(FunctionCallInfo fcinfo, bool average)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	float8	   *values = check_state_array(state);
	float8		n = values[0];
	EmbedVector *result;

	if (n == 0)
		PG_RETURN_NULL();
	result = embed_vector_new(STATE_DIMS(state));
	for (int i = 0; i < result->dim; i++)
	{
		double		x = average ? values[i + 1] / n : values[i + 1];

		result->x[i] = double_to_float(x);
		check_element(result->x[i]);
	}
	PG_RETURN_EMBED_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(embed_vector_avg);
/* avg(vector) final function. */
Datum
embed_vector_avg(PG_FUNCTION_ARGS)
{
	return state_to_vector(fcinfo, true);
}

PG_FUNCTION_INFO_V1(embed_vector_sum);
/* sum(vector) final function; 22003 when a sum exceeds the float range. */
Datum
embed_vector_sum(PG_FUNCTION_ARGS)
{
	return state_to_vector(fcinfo, false);
}
