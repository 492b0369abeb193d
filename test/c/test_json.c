/*
 * test_json.c: the JSON reader accepts valid documents, keeps exact
 * integers, unescapes strings, and rejects malformed or hostile input.
 */
#include <string.h>

#include "json.h"
#include "tap.h"

/* Parse a NUL-terminated literal. */
static EmbedJson *
parse(const char *s, char *err, size_t errlen)
{
	return embed_json_parse(s, strlen(s), err, errlen);
}

/* Whether s is rejected. */
static int
rejects(const char *s)
{
	char		err[256];
	EmbedJson  *j = parse(s, err, sizeof(err));

	if (j)
	{
		embed_json_free(j);
		return 0;
	}
	return err[0] != '\0';
}

int
main(void)
{
	char		err[256];
	EmbedJson  *j;
	int64_t		i64;
	double		d;
	bool		b;
	const EmbedJson *arr;

	j = parse(" {\"hidden_size\": 384, \"eps\": 1e-12, \"big\": 9007199254740993,"
			  " \"neg\": -7, \"ok\": true, \"name\": \"bert\\u00e9\\n\\\"q\\\"\","
			  " \"list\": [1, [2, {}], null, false], \"dup\": 1, \"dup\": 2,"
			  " \"pair\": \"\\ud83d\\ude00\", \"lone\": \"\\ud800x\"} ", err, sizeof(err));
	ok(j != NULL, "valid document parses (%s)", j ? "" : err);
	if (j == NULL)
		return tap_done();
	ok(embed_json_get_int(j, "hidden_size", &i64) && i64 == 384, "integer member");
	ok(embed_json_get_double(j, "eps", &d) && d == 1e-12, "exponent number");
	ok(!embed_json_get_int(j, "eps", &i64), "fractional number is not an integer");
	ok(embed_json_get_int(j, "big", &i64) && i64 == 9007199254740993LL,
	   "integers beyond 2^53 stay exact");
	ok(embed_json_get_int(j, "neg", &i64) && i64 == -7, "negative integer");
	ok(embed_json_get_bool(j, "ok", &b) && b, "boolean");
	ok(strcmp(embed_json_get_string(j, "name"), "bert\xc3\xa9\n\"q\"") == 0, "escapes decoded");
	arr = embed_json_get(j, "list");
	ok(arr && arr->type == EMBED_JSON_ARRAY && arr->len == 4, "array of 4");
	ok(arr && arr->items[1].type == EMBED_JSON_ARRAY && arr->items[1].len == 2 &&
	   arr->items[1].items[1].type == EMBED_JSON_OBJECT && arr->items[1].items[1].len == 0,
	   "nested array and empty object");
	ok(arr && arr->items[2].type == EMBED_JSON_NULL && arr->items[3].type == EMBED_JSON_FALSE,
	   "null and false");
	ok(embed_json_get_int(j, "dup", &i64) && i64 == 2, "duplicate key: last wins");
	ok(strcmp(embed_json_get_string(j, "pair"), "\xf0\x9f\x98\x80") == 0, "surrogate pair");
	ok(strcmp(embed_json_get_string(j, "lone"), "\xef\xbf\xbdx") == 0, "lone surrogate -> U+FFFD");
	ok(embed_json_get(j, "missing") == NULL, "missing member");
	ok(embed_json_get_string(j, "hidden_size") == NULL, "type mismatch is absent");
	embed_json_free(j);

	/* a string with an embedded NUL keeps its length */
	j = parse("\"a\\u0000b\"", err, sizeof(err));
	ok(j && j->type == EMBED_JSON_STRING && j->len == 3 && j->str[1] == '\0', "embedded NUL");
	embed_json_free(j);

	/* input need not be NUL-terminated */
	j = embed_json_parse("[1,2]garbage", 5, err, sizeof(err));
	ok(j && j->len == 2, "length-delimited input");
	embed_json_free(j);

	ok(rejects(""), "empty input rejected");
	ok(rejects("{"), "unterminated object rejected");
	ok(rejects("[1,]"), "trailing comma rejected");
	ok(rejects("{\"a\" 1}"), "missing colon rejected");
	ok(rejects("{1: 2}"), "non-string key rejected");
	ok(rejects("\"abc"), "unterminated string rejected");
	ok(rejects("\"a\\x\""), "bad escape rejected");
	ok(rejects("\"a\\u12\""), "short \\u escape rejected");
	ok(rejects("\"a\tb\""), "raw control character rejected");
	ok(rejects("01"), "leading zero rejected");
	ok(rejects("-"), "lone minus rejected");
	ok(rejects("1."), "missing fraction rejected");
	ok(rejects("1e"), "missing exponent rejected");
	ok(rejects("tru"), "truncated literal rejected");
	ok(rejects("[1] 2"), "trailing value rejected");
	ok(rejects("nul"), "bad literal rejected");

	{
		char		deep[EMBED_JSON_MAX_DEPTH * 2 + 8];
		int			n = EMBED_JSON_MAX_DEPTH + 1;

		memset(deep, '[', n);
		memset(deep + n, ']', n);
		deep[2 * n] = '\0';
		ok(rejects(deep), "nesting beyond the limit rejected");
		n = EMBED_JSON_MAX_DEPTH;
		j = embed_json_parse(deep + 1, 2 * n, err, sizeof(err));
		ok(j != NULL, "nesting at the limit accepted");
		embed_json_free(j);
	}

	{
		/* a large array exercises arena growth */
		size_t		n = 200000;
		char	   *big = malloc(n * 2 + 2);
		size_t		k = 0;

		big[k++] = '[';
		for (size_t i = 0; i < n; i++)
		{
			big[k++] = '7';
			big[k++] = ',';
		}
		big[k - 1] = ']';
		j = embed_json_parse(big, k, err, sizeof(err));
		ok(j && j->len == n && j->items[n - 1].integer == 7, "200000-element array");
		embed_json_free(j);
		free(big);
	}
	return tap_done();
}
