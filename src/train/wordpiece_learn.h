/*
 * wordpiece_learn.h: learn a WordPiece vocabulary (vocab.txt) from raw text.
 *
 * Usage: create a learner, feed it text (embed_wpl_add_text, any number of
 * times; each call is normalised and pre-tokenised the BERT way), then
 * embed_wpl_learn() and read the vocabulary back in id order.
 *
 * The vocabulary layout is
 *     0 [PAD]  1 [UNK]  2 [CLS]  3 [SEP]  4 [MASK]
 *     the alphabet: every character seen at least min_char_count times,
 *     bare ("a") in code point order, then continued ("##a") in code point order
 *     the merged tokens, in the order they were learned
 * so that any word made only of alphabet characters tokenises without [UNK].
 *
 * Scoring (see wordpiece_learn.c for the algorithm):
 *   EMBED_WPL_SCORE_FREQUENCY   merge the most frequent adjacent pair, as
 *                               Hugging Face's WordPieceTrainer does (it is
 *                               its BPE trainer with a "##" continuation prefix);
 *   EMBED_WPL_SCORE_LIKELIHOOD  merge the pair with the highest
 *                               count(ab) / (count(a) * count(b)), the
 *                               likelihood criterion of the original WordPiece.
 * Ties are broken by byte order of the left token, then of the right token,
 * so the result does not depend on input order or hash layout.
 */
#ifndef EMBED_WORDPIECE_LEARN_H
#define EMBED_WORDPIECE_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMBED_WPL_PREFIX "##"
#define EMBED_WPL_N_SPECIAL 5
#define EMBED_WPL_MAX_WORD_CHARS 100	/* longer words are [UNK] in BERT */

typedef enum EmbedWplScore
{
	EMBED_WPL_SCORE_FREQUENCY,
	EMBED_WPL_SCORE_LIKELIHOOD
} EmbedWplScore;

typedef struct EmbedWplOptions
{
	size_t		vocab_size;		/* target size, special tokens included */
	int64_t		min_char_count; /* alphabet: characters seen at least this often */
	int64_t		min_pair_count; /* stop when the best pair occurs less often */
	EmbedWplScore score;
	bool		lowercase;		/* BERT uncased: lower-case and strip accents */
	bool		verbose;		/* progress on stderr */
} EmbedWplOptions;

typedef struct EmbedWplStats
{
	int64_t		words_total;	/* pre-tokenised words fed */
	size_t		words_unique;
	int64_t		words_skipped;	/* too long, or containing a rare character */
	size_t		alphabet_size;	/* distinct characters kept */
	size_t		merges;			/* merges performed */
} EmbedWplStats;

typedef struct EmbedWplLearner EmbedWplLearner;

/* The special tokens, in id order. */
extern const char *const embed_wpl_special_tokens[EMBED_WPL_N_SPECIAL];

/* Defaults: 30522 tokens, min_char_count 2, min_pair_count 2, frequency, uncased. */
void		embed_wpl_default_options(EmbedWplOptions *opts);

EmbedWplLearner *embed_wpl_create(const EmbedWplOptions *opts);
void		embed_wpl_free(EmbedWplLearner *lr);

/*
 * Normalise and pre-tokenise len bytes of UTF-8 text and count its words.
 * Invalid UTF-8 bytes are dropped.  Returns false on out-of-memory.
 */
bool		embed_wpl_add_text(EmbedWplLearner *lr, const char *text, size_t len);

/* Count one already pre-tokenised word `count` times (no normalisation). */
bool		embed_wpl_add_word(EmbedWplLearner *lr, const char *word, size_t len,
							   int64_t count);

/* Learn the vocabulary.  Returns false with a message in err on failure. */
bool		embed_wpl_learn(EmbedWplLearner *lr, char *err, size_t errlen);

/* After learning: the vocabulary in id order (valid until embed_wpl_free). */
size_t		embed_wpl_vocab_size(const EmbedWplLearner *lr);
const char *embed_wpl_vocab_token(const EmbedWplLearner *lr, size_t id);

/* After learning: the merges in order, as left and right token strings. */
size_t		embed_wpl_merge_count(const EmbedWplLearner *lr);
void		embed_wpl_merge_pair(const EmbedWplLearner *lr, size_t i,
								 const char **left, const char **right);

void		embed_wpl_stats(const EmbedWplLearner *lr, EmbedWplStats *stats);

/* Write the vocabulary, one token a line.  Returns false with err set. */
bool		embed_wpl_write_vocab(const EmbedWplLearner *lr, const char *path,
								  char *err, size_t errlen);

/*
 * BERT BasicTokenizer rules on len bytes of UTF-8: drop control characters
 * and U+FFFD, white space splits, CJK ideographs and punctuation become
 * words of their own, and (when lowercase) lower-case + strip accents.
 * Calls fn(word, word_len, arg) for each word; returns false if fn did.
 */
typedef bool (*EmbedWplWordFn) (const char *word, size_t len, void *arg);
bool		embed_wpl_pretokenize(const char *text, size_t len, bool lowercase,
								  EmbedWplWordFn fn, void *arg);

/*
 * A loaded vocabulary with greedy longest-match-first WordPiece tokenisation
 * of single pre-tokenised words (the BERT algorithm), used to measure
 * coverage of a learned vocabulary.
 */
typedef struct EmbedWplVocab EmbedWplVocab;

EmbedWplVocab *embed_wpl_vocab_load(const char *path, char *err, size_t errlen);
EmbedWplVocab *embed_wpl_vocab_from_learner(const EmbedWplLearner *lr);
void		embed_wpl_vocab_free(EmbedWplVocab *v);

/* Id of a token, or -1. */
int32_t		embed_wpl_vocab_lookup(const EmbedWplVocab *v, const char *tok, size_t len);

/*
 * Tokenise one word: writes up to max_ids ids and returns how many pieces
 * the word has (1 with id [UNK] when it cannot be tokenised).
 */
size_t		embed_wpl_tokenize_word(const EmbedWplVocab *v, const char *word, size_t len,
									int32_t *ids, size_t max_ids);

#endif
