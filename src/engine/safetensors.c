/*
 * safetensors.c: mmap-based .safetensors reader with full validation.
 *
 * Design notes:
 * - The file is mapped once, read-only and shared, so the weights live in
 *   the page cache and cost each process only page-table entries.  The map
 *   covers the whole file; nothing is copied here.
 * - Every number in the header is checked before it is used to form a
 *   pointer: the header length against the file size (and a 100 MB cap),
 *   each tensor's offsets against the data area, and its byte count against
 *   shape x dtype size computed with overflow checks.  A hostile file can
 *   only produce an error, never an out-of-bounds read.  (A file truncated
 *   by someone else *after* it was mapped can still raise SIGBUS on access;
 *   model files are expected to be replaced, not rewritten in place.)
 * - The JSON tree is freed after validation; the tensor table keeps its
 *   own copy of the names, sorted for binary search.
 */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"

struct EmbedSafetensors
{
	void	   *map;			/* whole file, PROT_READ, MAP_SHARED */
	size_t		map_len;
	const uint8_t *data;		/* start of the data area */
	uint64_t	data_len;
	int			count;
	EmbedTensor *tensors;		/* sorted by name */
	char	   *names;			/* storage for the tensor names */
};

static const struct
{
	const char *name;
	EmbedDtype	dtype;
	size_t		size;
}			dtype_table[] = {
	{"BOOL", EMBED_DTYPE_BOOL, 1},
	{"U8", EMBED_DTYPE_U8, 1},
	{"I8", EMBED_DTYPE_I8, 1},
	{"F8_E5M2", EMBED_DTYPE_F8_E5M2, 1},
	{"F8_E4M3", EMBED_DTYPE_F8_E4M3, 1},
	{"I16", EMBED_DTYPE_I16, 2},
	{"U16", EMBED_DTYPE_U16, 2},
	{"F16", EMBED_DTYPE_F16, 2},
	{"BF16", EMBED_DTYPE_BF16, 2},
	{"I32", EMBED_DTYPE_I32, 4},
	{"U32", EMBED_DTYPE_U32, 4},
	{"F32", EMBED_DTYPE_F32, 4},
	{"F64", EMBED_DTYPE_F64, 8},
	{"I64", EMBED_DTYPE_I64, 8},
	{"U64", EMBED_DTYPE_U64, 8},
};

#define DTYPE_COUNT (sizeof(dtype_table) / sizeof(dtype_table[0]))

/* Short lower-case name of a status. */
const char *
embed_status_name(EmbedStatus status)
{
	switch (status)
	{
		case EMBED_OK:
			return "ok";
		case EMBED_ERR_IO:
			return "io";
		case EMBED_ERR_CORRUPT:
			return "corrupt";
		case EMBED_ERR_CONFIG:
			return "config";
		case EMBED_ERR_UNSUPPORTED:
			return "unsupported";
		case EMBED_ERR_NOMEM:
			return "nomem";
		case EMBED_ERR_INPUT:
			return "input";
	}
	return "unknown";
}

/* Bytes per element of a dtype (0 if unknown). */
size_t
embed_dtype_size(EmbedDtype dtype)
{
	for (size_t i = 0; i < DTYPE_COUNT; i++)
		if (dtype_table[i].dtype == dtype)
			return dtype_table[i].size;
	return 0;
}

/* A dtype as spelt in safetensors headers. */
const char *
embed_dtype_name(EmbedDtype dtype)
{
	for (size_t i = 0; i < DTYPE_COUNT; i++)
		if (dtype_table[i].dtype == dtype)
			return dtype_table[i].name;
	return "?";
}

/* Whether the tensor data is aligned to its element size. */
bool
embed_tensor_is_aligned(const EmbedTensor *t)
{
	return ((uintptr_t) t->data % embed_dtype_size(t->dtype)) == 0;
}

/* Format a shape as "[a, b, c]". */
void
embed_format_shape(const int64_t *shape, int ndim, char *buf, size_t buflen)
{
	size_t		used = 0;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	used += snprintf(buf + used, buflen - used, "[");
	for (int i = 0; i < ndim && used < buflen; i++)
		used += snprintf(buf + used, buflen - used, "%s%lld", i ? ", " : "", (long long) shape[i]);
	if (used < buflen)
		snprintf(buf + used, buflen - used, "]");
}

/* Look a dtype name up; false when unknown. */
static bool
parse_dtype(const char *name, EmbedDtype *out)
{
	for (size_t i = 0; i < DTYPE_COUNT; i++)
		if (strcmp(dtype_table[i].name, name) == 0)
		{
			*out = dtype_table[i].dtype;
			return true;
		}
	return false;
}

/* Read a JSON value as a non-negative integer. */
static bool
json_uint(const EmbedJson *v, uint64_t *out)
{
	if (v == NULL || v->type != EMBED_JSON_NUMBER || !v->is_integer || v->integer < 0)
		return false;
	*out = (uint64_t) v->integer;
	return true;
}

/* Sort helper: tensors by name. */
static int
compare_by_name(const void *a, const void *b)
{
	return strcmp(((const EmbedTensor *) a)->name, ((const EmbedTensor *) b)->name);
}

/* Sort helper: tensor pointers by begin offset, then end. */
static int
compare_by_offset(const void *a, const void *b)
{
	const EmbedTensor *x = *(const EmbedTensor *const *) a;
	const EmbedTensor *y = *(const EmbedTensor *const *) b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/*
 * Validate one header entry and fill *t (name already set).  Returns
 * EMBED_OK or an error with the message in err.
 */
static EmbedStatus
parse_entry(const char *path, const EmbedJson *entry, uint64_t data_len,
			EmbedTensor *t, char *err, size_t errlen)
{
	const char *dtype_name;
	const EmbedJson *shape;
	const EmbedJson *offsets;
	uint64_t	numel = 1;
	uint64_t	nbytes;
	uint64_t	begin,
				end;

	if (entry->type != EMBED_JSON_OBJECT)
	{
		snprintf(err, errlen, "\"%s\": header entry \"%s\" is not a JSON object", path, t->name);
		return EMBED_ERR_CORRUPT;
	}
	dtype_name = embed_json_get_string(entry, "dtype");
	if (dtype_name == NULL)
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\" has no \"dtype\" string", path, t->name);
		return EMBED_ERR_CORRUPT;
	}
	if (!parse_dtype(dtype_name, &t->dtype))
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\" has unknown dtype \"%.32s\"", path, t->name, dtype_name);
		return EMBED_ERR_UNSUPPORTED;
	}

	shape = embed_json_get(entry, "shape");
	if (shape == NULL || shape->type != EMBED_JSON_ARRAY)
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\" has no \"shape\" array", path, t->name);
		return EMBED_ERR_CORRUPT;
	}
	if (shape->len > EMBED_SAFETENSORS_MAX_DIMS)
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\" has %zu dimensions (at most %d are supported)",
				 path, t->name, shape->len, EMBED_SAFETENSORS_MAX_DIMS);
		return EMBED_ERR_CORRUPT;
	}
	t->ndim = (int) shape->len;
	for (int i = 0; i < t->ndim; i++)
	{
		uint64_t	dim;

		if (!json_uint(&shape->items[i], &dim) || dim > INT64_MAX)
		{
			snprintf(err, errlen, "\"%s\": tensor \"%s\": shape entry %d is not a non-negative integer",
					 path, t->name, i);
			return EMBED_ERR_CORRUPT;
		}
		t->shape[i] = (int64_t) dim;
		if (__builtin_mul_overflow(numel, dim, &numel) || numel > INT64_MAX)
		{
			snprintf(err, errlen, "\"%s\": tensor \"%s\": the element count of its shape overflows",
					 path, t->name);
			return EMBED_ERR_CORRUPT;
		}
	}
	t->numel = (int64_t) numel;
	if (__builtin_mul_overflow(numel, (uint64_t) embed_dtype_size(t->dtype), &nbytes))
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\": its byte size overflows", path, t->name);
		return EMBED_ERR_CORRUPT;
	}

	offsets = embed_json_get(entry, "data_offsets");
	if (offsets == NULL || offsets->type != EMBED_JSON_ARRAY || offsets->len != 2 ||
		!json_uint(&offsets->items[0], &begin) || !json_uint(&offsets->items[1], &end))
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\": \"data_offsets\" is not a pair of non-negative integers",
				 path, t->name);
		return EMBED_ERR_CORRUPT;
	}
	if (begin > end)
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\": data_offsets [%llu, %llu] begin after end",
				 path, t->name, (unsigned long long) begin, (unsigned long long) end);
		return EMBED_ERR_CORRUPT;
	}
	if (end > data_len)
	{
		snprintf(err, errlen, "\"%s\": tensor \"%s\": data_offsets [%llu, %llu] run past the end of the file "
				 "(data area is %llu bytes; the file may be truncated)",
				 path, t->name, (unsigned long long) begin, (unsigned long long) end,
				 (unsigned long long) data_len);
		return EMBED_ERR_CORRUPT;
	}
	if (end - begin != nbytes)
	{
		char		shape_buf[160];

		embed_format_shape(t->shape, t->ndim, shape_buf, sizeof(shape_buf));
		snprintf(err, errlen, "\"%s\": tensor \"%s\": data_offsets span %llu bytes but %s %s needs %llu",
				 path, t->name, (unsigned long long) (end - begin), dtype_name, shape_buf,
				 (unsigned long long) nbytes);
		return EMBED_ERR_CORRUPT;
	}
	t->begin = begin;
	t->end = end;
	return EMBED_OK;
}

/* Build the tensor table from the parsed header; checks names, overlaps. */
static EmbedStatus
build_table(EmbedSafetensors *st, const char *path, const EmbedJson *root,
			char *err, size_t errlen)
{
	size_t		count = 0;
	size_t		names_bytes = 0;
	size_t		pos = 0;
	int			k = 0;
	EmbedTensor **by_offset;
	EmbedStatus status;

	if (root->type != EMBED_JSON_OBJECT)
	{
		snprintf(err, errlen, "\"%s\": the safetensors header is not a JSON object", path);
		return EMBED_ERR_CORRUPT;
	}
	for (size_t i = 0; i < root->len; i++)
	{
		if (strlen(root->keys[i]) != root->key_lens[i])
		{
			snprintf(err, errlen, "\"%s\": a tensor name contains a NUL character", path);
			return EMBED_ERR_CORRUPT;
		}
		if (strcmp(root->keys[i], "__metadata__") == 0)
		{
			if (root->items[i].type != EMBED_JSON_OBJECT)
			{
				snprintf(err, errlen, "\"%s\": \"__metadata__\" is not a JSON object", path);
				return EMBED_ERR_CORRUPT;
			}
			continue;
		}
		count++;
		names_bytes += root->key_lens[i] + 1;
	}
	if (count > INT32_MAX / 2)
	{
		snprintf(err, errlen, "\"%s\": too many tensors", path);
		return EMBED_ERR_CORRUPT;
	}

	st->tensors = calloc(count ? count : 1, sizeof(EmbedTensor));
	st->names = malloc(names_bytes ? names_bytes : 1);
	if (st->tensors == NULL || st->names == NULL)
	{
		snprintf(err, errlen, "out of memory reading the header of \"%s\"", path);
		return EMBED_ERR_NOMEM;
	}
	for (size_t i = 0; i < root->len; i++)
	{
		EmbedTensor *t;

		if (strcmp(root->keys[i], "__metadata__") == 0)
			continue;
		t = &st->tensors[k++];
		memcpy(st->names + pos, root->keys[i], root->key_lens[i] + 1);
		t->name = st->names + pos;
		pos += root->key_lens[i] + 1;
		status = parse_entry(path, &root->items[i], st->data_len, t, err, errlen);
		if (status != EMBED_OK)
			return status;
		t->data = st->data + t->begin;
	}
	st->count = (int) count;

	qsort(st->tensors, count, sizeof(EmbedTensor), compare_by_name);
	for (size_t i = 1; i < count; i++)
		if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
		{
			snprintf(err, errlen, "\"%s\": tensor \"%s\" appears twice in the header", path, st->tensors[i].name);
			return EMBED_ERR_CORRUPT;
		}

	by_offset = malloc((count ? count : 1) * sizeof(EmbedTensor *));
	if (by_offset == NULL)
	{
		snprintf(err, errlen, "out of memory reading the header of \"%s\"", path);
		return EMBED_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++)
		by_offset[i] = &st->tensors[i];
	qsort(by_offset, count, sizeof(EmbedTensor *), compare_by_offset);
	status = EMBED_OK;
	{
		const EmbedTensor *prev = NULL;

		for (size_t i = 0; i < count; i++)
		{
			const EmbedTensor *t = by_offset[i];

			if (t->begin == t->end)
				continue;		/* empty tensors occupy no bytes */
			if (prev != NULL && t->begin < prev->end)
			{
				snprintf(err, errlen, "\"%s\": tensors \"%s\" and \"%s\" overlap in the data area",
						 path, prev->name, t->name);
				status = EMBED_ERR_CORRUPT;
				break;
			}
			prev = t;
		}
	}
	free(by_offset);
	return status;
}

/* Map the file at path and validate its header and every tensor entry. */
EmbedStatus
embed_safetensors_open(const char *path, EmbedSafetensors **out, char *err, size_t errlen)
{
	EmbedSafetensors *st;
	struct stat sb;
	int			fd;
	const uint8_t *bytes;
	uint64_t	header_len = 0;
	EmbedJson  *root;
	char		json_err[256];
	EmbedStatus status;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		snprintf(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return EMBED_ERR_IO;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
	{
		snprintf(err, errlen, "\"%s\" is not a regular file", path);
		close(fd);
		return EMBED_ERR_IO;
	}
	if (sb.st_size < 8)
	{
		snprintf(err, errlen, "\"%s\" is %lld bytes, too short for a safetensors file (8-byte header length)",
				 path, (long long) sb.st_size);
		close(fd);
		return EMBED_ERR_CORRUPT;
	}
	if ((uint64_t) sb.st_size > SIZE_MAX)
	{
		snprintf(err, errlen, "\"%s\" is too large to map", path);
		close(fd);
		return EMBED_ERR_UNSUPPORTED;
	}

	st = calloc(1, sizeof(EmbedSafetensors));
	if (st == NULL)
	{
		snprintf(err, errlen, "out of memory opening \"%s\"", path);
		close(fd);
		return EMBED_ERR_NOMEM;
	}
	st->map_len = (size_t) sb.st_size;
	st->map = mmap(NULL, st->map_len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (st->map == MAP_FAILED)
	{
		int			saved = errno;

		st->map = NULL;
		embed_safetensors_close(st);
		snprintf(err, errlen, "could not map \"%s\": %s", path, strerror(saved));
		return saved == ENOMEM ? EMBED_ERR_NOMEM : EMBED_ERR_IO;
	}

	bytes = st->map;
	for (int i = 7; i >= 0; i--)
		header_len = (header_len << 8) | bytes[i];
	if (header_len > EMBED_SAFETENSORS_MAX_HEADER)
	{
		snprintf(err, errlen, "\"%s\": header length %llu exceeds the %llu-byte limit (not a safetensors file?)",
				 path, (unsigned long long) header_len, (unsigned long long) EMBED_SAFETENSORS_MAX_HEADER);
		embed_safetensors_close(st);
		return EMBED_ERR_CORRUPT;
	}
	if (header_len > st->map_len - 8)
	{
		snprintf(err, errlen, "\"%s\": header length %llu runs past the end of the %zu-byte file (truncated?)",
				 path, (unsigned long long) header_len, st->map_len);
		embed_safetensors_close(st);
		return EMBED_ERR_CORRUPT;
	}
	st->data = bytes + 8 + header_len;
	st->data_len = st->map_len - 8 - header_len;

	root = embed_json_parse((const char *) bytes + 8, (size_t) header_len, json_err, sizeof(json_err));
	if (root == NULL)
	{
		snprintf(err, errlen, "\"%s\": the safetensors header is not valid JSON: %s", path, json_err);
		embed_safetensors_close(st);
		return EMBED_ERR_CORRUPT;
	}
	status = build_table(st, path, root, err, errlen);
	embed_json_free(root);
	if (status != EMBED_OK)
	{
		embed_safetensors_close(st);
		return status;
	}
	*out = st;
	return EMBED_OK;
}

/* Unmap and free (NULL is allowed). */
void
embed_safetensors_close(EmbedSafetensors *st)
{
	if (st == NULL)
		return;
	if (st->map != NULL)
		munmap(st->map, st->map_len);
	free(st->tensors);
	free(st->names);
	free(st);
}

/* Number of tensors in the file. */
int
embed_safetensors_count(const EmbedSafetensors *st)
{
	return st->count;
}

/* The i-th tensor in name order, or NULL. */
const EmbedTensor *
embed_safetensors_tensor(const EmbedSafetensors *st, int i)
{
	if (i < 0 || i >= st->count)
		return NULL;
	return &st->tensors[i];
}

/* Binary search by exact name. */
const EmbedTensor *
embed_safetensors_find(const EmbedSafetensors *st, const char *name)
{
	int			lo = 0,
				hi = st->count - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = strcmp(st->tensors[mid].name, name);

		if (c == 0)
			return &st->tensors[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The whole mapped file. */
const void *
embed_safetensors_file_data(const EmbedSafetensors *st, size_t *len)
{
	*len = st->map_len;
	return st->map;
}
