/*
 * make_model.c: writes a complete sentence-transformers model folder of the
 * all-MiniLM-L6-v2 shape (6 layers, 384 hidden, 12 heads, 1536 FFN, 30522
 * tokens, 512 positions; mean pooling + Normalize, 256 tokens max) with
 * random weights, for bench/memory/run.sh.
 *
 * usage: make_model DIR
 *
 * The vocabulary is [PAD] [unused0] [UNK] [CLS] [SEP] [MASK], ASCII letters,
 * digits and punctuation with their "##" continuations, then filler tokens
 * up to 30522 entries (the size of BERT's vocabulary, so that the tokenizer
 * costs what a real one does).  Weights: test/c/bert_writer.h, seed 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bert_writer.h"

#define VOCAB 30522

static const char *const modules_json =
"[\n"
"  {\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},\n"
"  {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},\n"
"  {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}\n"
"]\n";

static const char *const pooling_json =
"{\n  \"word_embedding_dimension\": 384,\n  \"pooling_mode_cls_token\": false,\n"
"  \"pooling_mode_mean_tokens\": true,\n  \"pooling_mode_max_tokens\": false,\n"
"  \"pooling_mode_mean_sqrt_len_tokens\": false\n}\n";

static const char *const tokenizer_json =
"{\n  \"do_lower_case\": true,\n  \"tokenizer_class\": \"BertTokenizer\",\n"
"  \"cls_token\": \"[CLS]\",\n  \"sep_token\": \"[SEP]\",\n  \"unk_token\": \"[UNK]\",\n"
"  \"pad_token\": \"[PAD]\",\n  \"mask_token\": \"[MASK]\",\n  \"model_max_length\": 512\n}\n";

/* vocab.txt as described above; malloc'd. */
static char *
vocabulary(void)
{
	BwBuf		b = {0};
	int			count = 0;

	bw_printf(&b, "[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
	count = 6;
	for (int c = 33; c < 127; c++)
	{
		if (c >= 'A' && c <= 'Z')
			continue;
		bw_printf(&b, "%c\n", c);
		count++;
	}
	for (int c = 33; c < 127; c++)
	{
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		{
			bw_printf(&b, "##%c\n", c);
			count++;
		}
	}
	while (count < VOCAB)
		bw_printf(&b, "filler%05d\n", count++);
	return b.s;
}

int
main(int argc, char **argv)
{
	BertSpec	spec = {.hidden = 384, .layers = 6, .heads = 12, .intermediate = 1536, .vocab = VOCAB,
	.max_positions = 512, .type_vocab = 2, .prefix = "", .with_pooler = true,
	.with_position_ids = true, .dtype = "F32"};
	char		path[4200];
	size_t		hlen;
	char	   *header = bw_header(&spec, 0, &hlen);
	char	   *vocab = vocabulary();
	const char *dir;
	bool		okay;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	okay = bw_write_safetensors(path, header, hlen, 1, NULL) &&
		bw_write_text(dir, "config.json", bw_config_json(&spec, "gelu", 1e-12)) &&
		bw_write_text(dir, "vocab.txt", vocab) &&
		bw_write_text(dir, "tokenizer_config.json", tokenizer_json) &&
		bw_write_text(dir, "modules.json", modules_json) &&
		bw_write_text(dir, "1_Pooling/config.json", pooling_json) &&
		bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 256, \"do_lower_case\": false}\n");
	if (!okay)
	{
		fprintf(stderr, "could not write the model into %s\n", dir);
		return 1;
	}
	free(header);
	free(vocab);
	return 0;
}
