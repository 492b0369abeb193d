/*
 * json.h: a small JSON reader for model folders (config.json,
 * tokenizer.json, modules.json, safetensors headers).
 *
 * embed_json_parse builds a read-only tree in one malloc'd arena; free it
 * with embed_json_free.  Strings are unescaped UTF-8 and NUL-terminated (a
 * string containing \u0000 keeps its true length in `len`).  Object members
 * keep file order; duplicate keys are kept and embed_json_get returns the
 * last one, as most JSON readers do.  Nesting depth is limited so hostile
 * input cannot exhaust the stack.
 */
#ifndef EMBED_JSON_H
#define EMBED_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum EmbedJsonType
{
	EMBED_JSON_NULL,
	EMBED_JSON_FALSE,
	EMBED_JSON_TRUE,
	EMBED_JSON_NUMBER,
	EMBED_JSON_STRING,
	EMBED_JSON_ARRAY,
	EMBED_JSON_OBJECT
} EmbedJsonType;

typedef struct EmbedJson EmbedJson;

struct EmbedJson
{
	EmbedJsonType type;
	double		number;			/* EMBED_JSON_NUMBER */
	bool		is_integer;		/* number had no fraction/exponent and fits int64 */
	int64_t		integer;		/* exact value when is_integer */
	const char *str;			/* EMBED_JSON_STRING: unescaped, NUL-terminated */
	size_t		len;			/* string length in bytes; or item count */
	EmbedJson  *items;			/* ARRAY: elements; OBJECT: member values */
	const char **keys;			/* OBJECT: member names (NUL-terminated) */
	size_t	   *key_lens;		/* OBJECT: member name lengths */
};

#define EMBED_JSON_MAX_DEPTH 128

/*
 * Parse len bytes of text.  Returns NULL on error with a message in err
 * (including the byte offset).  The whole input must be one JSON value,
 * optionally surrounded by white space.
 */
EmbedJson  *embed_json_parse(const char *text, size_t len, char *err, size_t errlen);
void		embed_json_free(EmbedJson *root);

/* Member `key` of an object, or NULL (also when obj is not an object). */
const EmbedJson *embed_json_get(const EmbedJson *obj, const char *key);

/* Typed accessors: return false when absent or of another type. */
bool		embed_json_get_int(const EmbedJson *obj, const char *key, int64_t *out);
bool		embed_json_get_double(const EmbedJson *obj, const char *key, double *out);
bool		embed_json_get_bool(const EmbedJson *obj, const char *key, bool *out);
const char *embed_json_get_string(const EmbedJson *obj, const char *key);

/*
 * A boolean member with a default: *out = dflt when absent or null, the
 * value when true/false; returns false (present with another type) only
 * when the member is neither.
 */
bool		embed_json_get_flag(const EmbedJson *obj, const char *key, bool dflt, bool *out);

/* Read a whole file into a malloc'd, NUL-terminated buffer (max_bytes cap). */
char	   *embed_read_file(const char *path, size_t max_bytes, size_t *len_out,
							char *err, size_t errlen);

#endif
