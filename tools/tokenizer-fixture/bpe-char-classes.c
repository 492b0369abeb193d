/*
 * bpe-char-classes.c: prints the class_overrides table of
 * src/engine/bpe.c, the code points whose class in GPT-2's pattern (letter,
 * number, white space, other) differs between Hugging Face tokenizers
 * (test/fixtures/tokenizer_gpt2_classes.tsv, written by generate-bpe.mjs
 * from the library itself) and this system's utf8proc.
 *
 *   cc -O2 -o /tmp/bpe-char-classes bpe-char-classes.c -lutf8proc
 *   /tmp/bpe-char-classes < ../../test/fixtures/tokenizer_gpt2_classes.tsv
 *
 * (npm run bpe-char-classes does both.)  Replace the table's entries with
 * the output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

/* The class bpe.c gives cp without its overrides. */
static char
utf8proc_class(unsigned cp)
{
	utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t) cp);

	if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 ||
		cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP)
		return 'S';
	if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO)
		return 'L';
	if (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO)
		return 'N';
	return 'O';
}

static const char *
class_name(char c)
{
	switch (c)
	{
		case 'L':
			return "BPE_LETTER";
		case 'N':
			return "BPE_NUMBER";
		case 'S':
			return "BPE_SPACE";
		default:
			return "BPE_OTHER";
	}
}

int
main(void)
{
	char		line[256];
	char		out[128];
	int			col = 0;
	unsigned	run_first = 0,
				run_last = 0;
	char		run_class = 0;

	printf("/* utf8proc %s (Unicode %s) */\n", utf8proc_version(), utf8proc_unicode_version());
	while (fgets(line, sizeof(line), stdin))
	{
		unsigned	first,
					last,
					cp;
		char		cls;

		if (line[0] == '#' || sscanf(line, "%x %x %c", &first, &last, &cls) != 3)
			continue;
		for (cp = first; cp <= last; cp++)
		{
			if (cp >= 0xD800 && cp <= 0xDFFF)
				continue;
			if (utf8proc_class(cp) == cls)
				continue;
			if (run_class == cls && run_last + 1 == cp)
			{
				run_last = cp;
				continue;
			}
			if (run_class)
			{
				int			n = snprintf(out, sizeof(out), "{0x%04X, 0x%04X, %s},", run_first, run_last,
										 class_name(run_class));

				if (col > 0 && col + n + 1 > 96)
				{
					printf("\n");
					col = 0;
				}
				col += printf("%s%s", col ? " " : "\t", out) + (col ? 0 : 3);
			}
			run_first = run_last = cp;
			run_class = cls;
		}
	}
	if (run_class)
		printf("%s{0x%04X, 0x%04X, %s},", col ? " " : "\t", run_first, run_last, class_name(run_class));
	printf("\n");
	return 0;
}
