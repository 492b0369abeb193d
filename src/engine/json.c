/*
 * json.c: a small, strict JSON reader (RFC 8259) for model folders.
 *
 * Design: one recursive-descent pass builds the tree.  Every node, string and
 * member table lives in an arena of malloc'd blocks owned by a JsonDocument
 * whose first member is the root, so embed_json_free(root) releases it all.
 * Array and object children are gathered in a temporary growable buffer and
 * copied into the arena once their count is known.  Depth is capped at
 * EMBED_JSON_MAX_DEPTH; every size computation is overflow-checked; the input
 * need not be NUL-terminated.
 */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct ArenaBlock
{
	struct ArenaBlock *next;
	size_t		used;
	size_t		size;
	/* data follows, 16-byte aligned */
} ArenaBlock;

typedef struct JsonDocument
{
	EmbedJson	root;			/* must stay first: embed_json_free casts back */
	ArenaBlock *blocks;
} JsonDocument;

typedef struct Parser
{
	const char *text;
	size_t		len;
	size_t		pos;
	JsonDocument *doc;
	char	   *err;
	size_t		errlen;
	bool		failed;
} Parser;

#define ARENA_HEADER_SIZE ((sizeof(ArenaBlock) + 15) & ~(size_t) 15)
#define ARENA_MIN_BLOCK (64 * 1024)

static bool parse_value(Parser *p, EmbedJson *out, int depth);

/* Record the first error with the byte offset where it happened. */
__attribute__((format(printf, 2, 3)))
static void
parse_error(Parser *p, const char *fmt, ...)
{
	va_list		ap;
	size_t		n;

	if (p->failed)
		return;
	p->failed = true;
	if (p->err == NULL || p->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	n = strlen(p->err);
	if (n < p->errlen)
		snprintf(p->err + n, p->errlen - n, " at byte %zu", p->pos);
}

/* Allocate size bytes (16-aligned) from the document's arena; NULL on OOM. */
static void *
arena_alloc(Parser *p, size_t size)
{
	ArenaBlock *block = p->doc->blocks;
	size_t		aligned;
	void	   *ptr;

	if (size > SIZE_MAX - 15)
		return NULL;
	aligned = (size + 15) & ~(size_t) 15;
	if (block == NULL || block->size - block->used < aligned)
	{
		size_t		data_size = aligned > ARENA_MIN_BLOCK ? aligned : ARENA_MIN_BLOCK;

		if (data_size > SIZE_MAX - ARENA_HEADER_SIZE)
			return NULL;
		block = malloc(ARENA_HEADER_SIZE + data_size);
		if (block == NULL)
			return NULL;
		block->next = p->doc->blocks;
		block->used = 0;
		block->size = data_size;
		p->doc->blocks = block;
	}
	ptr = (char *) block + ARENA_HEADER_SIZE + block->used;
	block->used += aligned;
	return ptr;
}

/* Skip JSON white space. */
static void
skip_space(Parser *p)
{
	while (p->pos < p->len)
	{
		char		c = p->text[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

/* Consume the literal word (true, false, null) or fail. */
static bool
expect_word(Parser *p, const char *word)
{
	size_t		n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
	{
		parse_error(p, "invalid literal");
		return false;
	}
	p->pos += n;
	return true;
}

/* Value of one hex digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read the 4 hex digits of a \u escape starting at p->pos. */
static bool
read_hex4(Parser *p, uint32_t *out)
{
	uint32_t	v = 0;

	if (p->len - p->pos < 4)
	{
		parse_error(p, "truncated \\u escape");
		return false;
	}
	for (int i = 0; i < 4; i++)
	{
		int			h = hex_value(p->text[p->pos + i]);

		if (h < 0)
		{
			parse_error(p, "invalid \\u escape");
			return false;
		}
		v = (v << 4) | (uint32_t) h;
	}
	p->pos += 4;
	*out = v;
	return true;
}

/* Append code point cp as UTF-8 at dst; returns bytes written. */
static size_t
put_utf8(char *dst, uint32_t cp)
{
	if (cp < 0x80)
	{
		dst[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		dst[0] = (char) (0xC0 | (cp >> 6));
		dst[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		dst[0] = (char) (0xE0 | (cp >> 12));
		dst[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	dst[0] = (char) (0xF0 | (cp >> 18));
	dst[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	dst[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	dst[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Parse a string starting at the opening quote into arena memory.  The
 * unescaped form is never longer than the escaped one, so the span up to the
 * closing quote bounds the allocation.  Lone surrogates become U+FFFD.
 */
static bool
parse_string(Parser *p, const char **out, size_t *out_len)
{
	size_t		start = ++p->pos;	/* skip the opening quote */
	size_t		end = start;
	char	   *buf;
	size_t		n = 0;

	/* find the closing quote to size the buffer */
	while (end < p->len && p->text[end] != '"')
		end += (p->text[end] == '\\' && end + 1 < p->len) ? 2 : 1;
	if (end >= p->len)
	{
		parse_error(p, "unterminated string");
		return false;
	}
	buf = arena_alloc(p, end - start + 1);
	if (buf == NULL)
	{
		parse_error(p, "out of memory");
		return false;
	}
	while (p->pos < end)
	{
		unsigned char c = (unsigned char) p->text[p->pos];

		if (c < 0x20)
		{
			parse_error(p, "control character in string");
			return false;
		}
		if (c != '\\')
		{
			buf[n++] = (char) c;
			p->pos++;
			continue;
		}
		p->pos++;
		switch (p->text[p->pos++])
		{
			case '"':
				buf[n++] = '"';
				break;
			case '\\':
				buf[n++] = '\\';
				break;
			case '/':
				buf[n++] = '/';
				break;
			case 'b':
				buf[n++] = '\b';
				break;
			case 'f':
				buf[n++] = '\f';
				break;
			case 'n':
				buf[n++] = '\n';
				break;
			case 'r':
				buf[n++] = '\r';
				break;
			case 't':
				buf[n++] = '\t';
				break;
			case 'u':
				{
					uint32_t	cp;

					if (!read_hex4(p, &cp))
						return false;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						uint32_t	low;

						if (end - p->pos >= 6 && p->text[p->pos] == '\\' &&
							p->text[p->pos + 1] == 'u')
						{
							size_t		save = p->pos;

							p->pos += 2;
							if (!read_hex4(p, &low))
								return false;
							if (low >= 0xDC00 && low <= 0xDFFF)
								cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
							else
							{
								p->pos = save;
								cp = 0xFFFD;
							}
						}
						else
							cp = 0xFFFD;
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
						cp = 0xFFFD;
					n += put_utf8(buf + n, cp);
					break;
				}
			default:
				p->pos--;
				parse_error(p, "invalid escape in string");
				return false;
		}
	}
	buf[n] = '\0';
	p->pos = end + 1;			/* skip the closing quote */
	*out = buf;
	*out_len = n;
	return true;
}

/* Parse a number per the JSON grammar; keep an exact int64 when possible. */
static bool
parse_number(Parser *p, EmbedJson *out)
{
	size_t		start = p->pos;
	bool		integral = true;
	char		tmp[400];
	char	   *endp;

	if (p->pos < p->len && p->text[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->len || p->text[p->pos] < '0' || p->text[p->pos] > '9')
	{
		parse_error(p, "invalid number");
		return false;
	}
	if (p->text[p->pos] == '0')
		p->pos++;
	else
		while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
			p->pos++;
	if (p->pos < p->len && p->text[p->pos] == '.')
	{
		integral = false;
		p->pos++;
		if (p->pos >= p->len || p->text[p->pos] < '0' || p->text[p->pos] > '9')
		{
			parse_error(p, "invalid number");
			return false;
		}
		while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E'))
	{
		integral = false;
		p->pos++;
		if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || p->text[p->pos] < '0' || p->text[p->pos] > '9')
		{
			parse_error(p, "invalid number");
			return false;
		}
		while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos - start >= sizeof(tmp))
	{
		parse_error(p, "number too long");
		return false;
	}
	memcpy(tmp, p->text + start, p->pos - start);
	tmp[p->pos - start] = '\0';

	out->type = EMBED_JSON_NUMBER;
	out->number = strtod(tmp, NULL);
	out->is_integer = false;
	if (integral)
	{
		long long	v;

		errno = 0;
		v = strtoll(tmp, &endp, 10);
		if (errno == 0 && *endp == '\0')
		{
			out->is_integer = true;
			out->integer = (int64_t) v;
		}
	}
	return true;
}

/* Growable temporary buffer for the children of one array or object. */
typedef struct ChildBuffer
{
	EmbedJson  *values;
	const char **keys;
	size_t	   *key_lens;
	size_t		count;
	size_t		capacity;
} ChildBuffer;

/* Make room for one more child; false on OOM. */
static bool
child_buffer_grow(ChildBuffer *buf, bool with_keys)
{
	size_t		cap;
	void	   *nv;

	if (buf->count < buf->capacity)
		return true;
	cap = buf->capacity ? buf->capacity * 2 : 8;
	if (cap > SIZE_MAX / sizeof(EmbedJson))
		return false;
	nv = realloc(buf->values, cap * sizeof(EmbedJson));
	if (nv == NULL)
		return false;
	buf->values = nv;
	if (with_keys)
	{
		nv = realloc(buf->keys, cap * sizeof(char *));
		if (nv == NULL)
			return false;
		buf->keys = nv;
		nv = realloc(buf->key_lens, cap * sizeof(size_t));
		if (nv == NULL)
			return false;
		buf->key_lens = nv;
	}
	buf->capacity = cap;
	return true;
}

/* Copy the gathered children into the arena and attach them to out. */
static bool
child_buffer_finish(Parser *p, ChildBuffer *buf, EmbedJson *out, bool with_keys)
{
	out->len = buf->count;
	out->items = NULL;
	out->keys = NULL;
	out->key_lens = NULL;
	if (buf->count == 0)
		return true;
	out->items = arena_alloc(p, buf->count * sizeof(EmbedJson));
	if (out->items == NULL)
		goto oom;
	memcpy(out->items, buf->values, buf->count * sizeof(EmbedJson));
	if (with_keys)
	{
		out->keys = arena_alloc(p, buf->count * sizeof(char *));
		out->key_lens = arena_alloc(p, buf->count * sizeof(size_t));
		if (out->keys == NULL || out->key_lens == NULL)
			goto oom;
		memcpy(out->keys, buf->keys, buf->count * sizeof(char *));
		memcpy(out->key_lens, buf->key_lens, buf->count * sizeof(size_t));
	}
	return true;
oom:
	parse_error(p, "out of memory");
	return false;
}

/* Parse an array or an object (the opening bracket is at p->pos). */
static bool
parse_container(Parser *p, EmbedJson *out, int depth, bool is_object)
{
	ChildBuffer buf = {0};
	char		close = is_object ? '}' : ']';
	bool		result = false;

	if (depth >= EMBED_JSON_MAX_DEPTH)
	{
		parse_error(p, "nesting deeper than %d", EMBED_JSON_MAX_DEPTH);
		return false;
	}
	out->type = is_object ? EMBED_JSON_OBJECT : EMBED_JSON_ARRAY;
	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->text[p->pos] == close)
	{
		p->pos++;
		return child_buffer_finish(p, &buf, out, is_object);
	}
	for (;;)
	{
		if (!child_buffer_grow(&buf, is_object))
		{
			parse_error(p, "out of memory");
			goto done;
		}
		skip_space(p);
		if (is_object)
		{
			if (p->pos >= p->len || p->text[p->pos] != '"')
			{
				parse_error(p, "expected member name");
				goto done;
			}
			if (!parse_string(p, &buf.keys[buf.count], &buf.key_lens[buf.count]))
				goto done;
			skip_space(p);
			if (p->pos >= p->len || p->text[p->pos] != ':')
			{
				parse_error(p, "expected ':'");
				goto done;
			}
			p->pos++;
		}
		if (!parse_value(p, &buf.values[buf.count], depth + 1))
			goto done;
		buf.count++;
		skip_space(p);
		if (p->pos < p->len && p->text[p->pos] == ',')
		{
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->text[p->pos] == close)
		{
			p->pos++;
			break;
		}
		parse_error(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
		goto done;
	}
	result = child_buffer_finish(p, &buf, out, is_object);
done:
	free(buf.values);
	free(buf.keys);
	free(buf.key_lens);
	return result;
}

/* Parse any value at p->pos (after optional white space). */
static bool
parse_value(Parser *p, EmbedJson *out, int depth)
{
	memset(out, 0, sizeof(*out));
	skip_space(p);
	if (p->pos >= p->len)
	{
		parse_error(p, "unexpected end of input");
		return false;
	}
	switch (p->text[p->pos])
	{
		case '{':
			return parse_container(p, out, depth, true);
		case '[':
			return parse_container(p, out, depth, false);
		case '"':
			out->type = EMBED_JSON_STRING;
			return parse_string(p, &out->str, &out->len);
		case 't':
			out->type = EMBED_JSON_TRUE;
			return expect_word(p, "true");
		case 'f':
			out->type = EMBED_JSON_FALSE;
			return expect_word(p, "false");
		case 'n':
			out->type = EMBED_JSON_NULL;
			return expect_word(p, "null");
		default:
			return parse_number(p, out);
	}
}

EmbedJson *
embed_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	Parser		p = {0};
	JsonDocument *doc;

	if (err && errlen)
		err[0] = '\0';
	doc = calloc(1, sizeof(JsonDocument));
	if (doc == NULL)
	{
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p.text = text;
	p.len = len;
	p.doc = doc;
	p.err = err;
	p.errlen = errlen;
	if (parse_value(&p, &doc->root, 0))
	{
		skip_space(&p);
		if (p.pos != p.len)
			parse_error(&p, "unexpected data after the JSON value");
	}
	if (p.failed)
	{
		embed_json_free(&doc->root);
		return NULL;
	}
	return &doc->root;
}

void
embed_json_free(EmbedJson *root)
{
	JsonDocument *doc = (JsonDocument *) root;
	ArenaBlock *block;

	if (doc == NULL)
		return;
	block = doc->blocks;
	while (block)
	{
		ArenaBlock *next = block->next;

		free(block);
		block = next;
	}
	free(doc);
}

const EmbedJson *
embed_json_get(const EmbedJson *obj, const char *key)
{
	if (obj == NULL || obj->type != EMBED_JSON_OBJECT)
		return NULL;
	for (size_t i = obj->len; i-- > 0;)
		if (strcmp(obj->keys[i], key) == 0 && strlen(key) == obj->key_lens[i])
			return &obj->items[i];
	return NULL;
}

bool
embed_json_get_int(const EmbedJson *obj, const char *key, int64_t *out)
{
	const EmbedJson *v = embed_json_get(obj, key);

	if (v == NULL || v->type != EMBED_JSON_NUMBER || !v->is_integer)
		return false;
	*out = v->integer;
	return true;
}

bool
embed_json_get_double(const EmbedJson *obj, const char *key, double *out)
{
	const EmbedJson *v = embed_json_get(obj, key);

	if (v == NULL || v->type != EMBED_JSON_NUMBER)
		return false;
	*out = v->number;
	return true;
}

bool
embed_json_get_bool(const EmbedJson *obj, const char *key, bool *out)
{
	const EmbedJson *v = embed_json_get(obj, key);

	if (v == NULL || (v->type != EMBED_JSON_TRUE && v->type != EMBED_JSON_FALSE))
		return false;
	*out = v->type == EMBED_JSON_TRUE;
	return true;
}

bool
embed_json_get_flag(const EmbedJson *obj, const char *key, bool dflt, bool *out)
{
	const EmbedJson *v = embed_json_get(obj, key);

	*out = dflt;
	if (v == NULL || v->type == EMBED_JSON_NULL)
		return true;
	return embed_json_get_bool(obj, key, out);
}

const char *
embed_json_get_string(const EmbedJson *obj, const char *key)
{
	const EmbedJson *v = embed_json_get(obj, key);

	if (v == NULL || v->type != EMBED_JSON_STRING)
		return NULL;
	return v->str;
}

char *
embed_read_file(const char *path, size_t max_bytes, size_t *len_out,
				char *err, size_t errlen)
{
	FILE	   *f;
	struct stat st;
	char	   *buf;
	size_t		size;

	f = fopen(path, "rb");
	if (f == NULL)
	{
		snprintf(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
	{
		snprintf(err, errlen, "\"%s\" is not a regular file", path);
		fclose(f);
		return NULL;
	}
	if ((uint64_t) st.st_size > max_bytes)
	{
		snprintf(err, errlen, "\"%s\" is %lld bytes, more than the limit of %zu",
				 path, (long long) st.st_size, max_bytes);
		fclose(f);
		return NULL;
	}
	size = (size_t) st.st_size;
	buf = malloc(size + 1);
	if (buf == NULL)
	{
		snprintf(err, errlen, "out of memory reading \"%s\"", path);
		fclose(f);
		return NULL;
	}
	if (size > 0 && fread(buf, 1, size, f) != size)
	{
		snprintf(err, errlen, "could not read \"%s\"", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[size] = '\0';
	if (len_out)
		*len_out = size;
	return buf;
}
