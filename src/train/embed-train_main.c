/*
 * embed-train: train the sentence encoder on pairs files with a symmetric
 * InfoNCE loss (in-batch negatives, hard negatives where the data has
 * them), AdamW with linear warm-up and cosine decay, periodic held-out
 * evaluation, atomic checkpoints and resume, and export of a
 * sentence-transformers folder.
 *
 *   embed-train --pairs DIR --vocab-dir DIR --run-dir DIR --export DIR [options]
 *
 * The run directory receives checkpoint.bin, train.log (one line per
 * logged step: step, loss, batch accuracy, learning rate, gradient norm,
 * tokens per second, source) and eval.log (step, held-out accuracy@1, MRR).
 * --resume continues from run-dir/checkpoint.bin; it must be given the
 * same data, seed and model options, and --steps may be raised to train
 * longer (the schedule is a function of the step and --steps).
 */
#include "kernels.h"
#include "skipgram.h"
#include "tokenizer.h"
#include "train_data.h"
#include "train_io.h"
#include "train_model.h"

#include <cblas.h>
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct Options
{
	const char *pairs_dir;
	const char *vocab_dir;
	const char *run_dir;
	const char *export_dir;
	const char *init_embeddings;
	const char *heldout;		/* heldout.tsv (default pairs_dir/heldout.tsv when present) */
	const char *weights;		/* "source=multiplier,..." */
	EmbedTrainConfig cfg;
	int			batch;
	int			max_len;
	int64_t		steps;
	int			warmup;
	double		lr;
	double		min_lr_ratio;
	double		weight_decay;
	double		scale;
	double		clip;
	uint64_t	seed;
	int			threads;
	int			log_every;
	int			eval_every;
	int			checkpoint_every;
	double		time_limit_min;
	int64_t		stop_at;		/* stop (checkpoint, export) after this step; 0: --steps */
	int			export_seq_len;
	bool		resume;
} Options;

static volatile sig_atomic_t stop_requested = 0;

static void
on_signal(int sig)
{
	stop_requested = 1;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
usage(FILE *f)
{
	fprintf(f,
			"usage: embed-train --pairs DIR --vocab-dir DIR --run-dir DIR [--export DIR] [options]\n"
			"data:\n"
			"  --pairs DIR            folder of <source>.tsv pairs files (heldout.tsv is skipped)\n"
			"  --heldout FILE         held-out pairs for evaluation (default DIR/heldout.tsv)\n"
			"  --vocab-dir DIR        vocab.txt + tokenizer_config.json\n"
			"  --weights LIST         source=multiplier,... on top of sqrt(pairs) sampling\n"
			"  --max-len N            tokens per training text, [CLS]/[SEP] included (64)\n"
			"model:\n"
			"  --layers N (4)  --hidden N (256)  --heads N (4)  --intermediate N (1024)\n"
			"  --max-positions N (128)\n"
			"  --init-embeddings FILE skip-gram vectors (embed-skipgram) for the word embeddings\n"
			"optimisation:\n"
			"  --steps N (2000)  --batch N pairs (64)  --lr X (5e-4)  --warmup N (100)\n"
			"  --min-lr-ratio X (0.05)  --weight-decay X (0.01)  --scale X (20: 1/temperature)\n"
			"  --clip X (1.0)  --seed N (42)  --threads N (OpenBLAS threads, 2)\n"
			"run:\n"
			"  --run-dir DIR          checkpoint.bin, train.log, eval.log\n"
			"  --export DIR           write the model folder here at the end\n"
			"  --export-seq-len N     max_seq_length written to the folder (128)\n"
			"  --resume               continue from run-dir/checkpoint.bin\n"
			"  --log-every N (10)  --eval-every N (250)  --checkpoint-every N (250)\n"
			"  --time-limit MIN       stop (checkpoint + export) after this many minutes\n"
			"  --stop-at N            stop (checkpoint + export) after step N, schedule unchanged\n");
}

/* Multiplier of a source from "name=x,name=y" (1 when not listed). */
static double
source_multiplier(const char *list, const char *name)
{
	const char *p = list;
	size_t		n = strlen(name);

	while (p && *p)
	{
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return atof(p + n + 1);
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 1.0;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Load every pairs file of the folder in name order. */
static bool
load_sources(const Options *o, const EmbedTokenizer *tok, EmbedTrainData *d)
{
	DIR		   *dir = opendir(o->pairs_dir);
	struct dirent *e;
	char	   *names[EMBED_TRAIN_MAX_SOURCES];
	int			n = 0;
	char		err[512];

	if (dir == NULL)
	{
		fprintf(stderr, "embed-train: could not open \"%s\"\n", o->pairs_dir);
		return false;
	}
	while ((e = readdir(dir)) != NULL && n < EMBED_TRAIN_MAX_SOURCES)
	{
		size_t		len = strlen(e->d_name);

		if (len > 4 && strcmp(e->d_name + len - 4, ".tsv") == 0 && strcmp(e->d_name, "heldout.tsv") != 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(char *), compare_names);
	for (int i = 0; i < n; i++)
	{
		char		path[4096],
					name[64];
		EmbedTrainSource *s;

		snprintf(path, sizeof(path), "%s/%s", o->pairs_dir, names[i]);
		snprintf(name, sizeof(name), "%.*s", (int) strlen(names[i]) - 4, names[i]);
		if (!embed_train_data_add_source(d, tok, path, name, 0, err, sizeof(err)))
		{
			fprintf(stderr, "embed-train: %s\n", err);
			return false;
		}
		s = &d->sources[d->nsources - 1];
		s->weight = sqrt((double) s->npairs) * source_multiplier(o->weights, name);
		free(names[i]);
	}
	if (d->nsources == 0)
	{
		fprintf(stderr, "embed-train: no pairs files in \"%s\"\n", o->pairs_dir);
		return false;
	}
	return true;
}

/* Held-out set: anchors are texts [0, n), positives [n, 2n) of its own EmbedTrainData. */
static EmbedTrainData *
load_heldout(const char *path, const EmbedTokenizer *tok, int max_len, int *n)
{
	FILE	   *f = fopen(path, "r");
	EmbedTrainData *d;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	char	  **pos = NULL;
	int			count = 0,
				cap_pos = 0;

	if (f == NULL)
		return NULL;
	d = embed_train_data_new(max_len, 0);
	while (d && (len = getline(&line, &cap, f)) >= 0)
	{
		char	   *tab = strchr(line, '\t');
		char	   *end;

		if (tab == NULL)
			continue;
		*tab = '\0';
		end = tab + 1 + strcspn(tab + 1, "\t\r\n");
		*end = '\0';
		embed_train_data_add_text(d, tok, line, strlen(line));
		if (count == cap_pos)
		{
			cap_pos = cap_pos ? cap_pos * 2 : 1024;
			pos = realloc(pos, sizeof(char *) * cap_pos);
		}
		pos[count++] = strdup(tab + 1);
	}
	for (int i = 0; i < count; i++)
	{
		embed_train_data_add_text(d, tok, pos[i], strlen(pos[i]));
		free(pos[i]);
	}
	free(pos);
	free(line);
	fclose(f);
	if (d && d->ntexts != 2 * (int64_t) count)
	{
		/* a text was refused or memory ran out: anchors and positives would not line up */
		embed_train_data_free(d);
		return NULL;
	}
	*n = count;
	return d;
}

/* Embed texts [first, first + count) of d into out[count, H], in chunks that fit acts. */
static void
embed_texts(EmbedTrainModel *m, EmbedTrainActs *acts, const EmbedTrainData *d, int64_t first,
			int count, float *out)
{
	int			H = m->cfg.hidden;
	int32_t    *ids = malloc(sizeof(int32_t) * acts->cap_tok);
	int32_t    *lengths = malloc(sizeof(int32_t) * acts->cap_seq);
	int			done = 0;

	while (done < count)
	{
		int			nseq = 0,
					ntok = 0;

		while (done + nseq < count && nseq < acts->cap_seq)
		{
			int64_t		t = first + done + nseq;
			int			len = d->text_len[t];

			if (ntok + len > acts->cap_tok)
				break;
			memcpy(ids + ntok, d->ids + d->text_off[t], sizeof(int32_t) * len);
			lengths[nseq++] = len;
			ntok += len;
		}
		embed_train_forward(m, acts, ids, lengths, nseq);
		memcpy(out + (size_t) done * H, acts->out, sizeof(float) * (size_t) nseq * H);
		done += nseq;
	}
	free(ids);
	free(lengths);
}

/* Held-out retrieval: each anchor against all positives; accuracy@1 and MRR. */
static void
evaluate(EmbedTrainModel *m, EmbedTrainActs *acts, const EmbedTrainData *held, int n,
		 double *acc, double *mrr)
{
	int			H = m->cfg.hidden;
	float	   *A = malloc(sizeof(float) * (size_t) n * H);
	float	   *P = malloc(sizeof(float) * (size_t) n * H);
	float	   *S = malloc(sizeof(float) * (size_t) n * n);
	int			hits = 0;
	double		rr = 0;

	embed_texts(m, acts, held, 0, n, A);
	embed_texts(m, acts, held, n, n, P);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, H, 1.0f, A, H, P, H, 0.0f, S, n);
	for (int i = 0; i < n; i++)
	{
		const float *row = S + (size_t) i * n;
		int			rank = 1;

		for (int j = 0; j < n; j++)
			if (j != i && row[j] > row[i])
				rank++;
		hits += rank == 1;
		rr += 1.0 / rank;
	}
	*acc = (double) hits / n;
	*mrr = rr / n;
	free(A);
	free(P);
	free(S);
}

static double
learning_rate(const Options *o, int64_t step)
{
	double		progress;

	if (step <= o->warmup)
		return o->lr * (double) step / (double) (o->warmup > 0 ? o->warmup : 1);
	progress = (double) (step - o->warmup) / (double) (o->steps - o->warmup > 0 ? o->steps - o->warmup : 1);
	if (progress > 1)
		progress = 1;
	return o->lr * (o->min_lr_ratio + (1 - o->min_lr_ratio) * 0.5 * (1 + cos(M_PI * progress)));
}

static bool
save_checkpoint(const Options *o, const EmbedTrainModel *m, int64_t step, const EmbedTrainData *d)
{
	char		path[4096],
				err[512];

	snprintf(path, sizeof(path), "%s/checkpoint.bin", o->run_dir);
	if (!embed_train_checkpoint_save(path, m, step, d, err, sizeof(err)))
	{
		fprintf(stderr, "embed-train: %s\n", err);
		return false;
	}
	return true;
}

static bool
parse_options(int argc, char **argv, Options *o)
{
	static const struct option longopts[] = {
		{"pairs", required_argument, NULL, 1}, {"vocab-dir", required_argument, NULL, 2},
		{"run-dir", required_argument, NULL, 3}, {"export", required_argument, NULL, 4},
		{"init-embeddings", required_argument, NULL, 5}, {"heldout", required_argument, NULL, 6},
		{"weights", required_argument, NULL, 7}, {"layers", required_argument, NULL, 8},
		{"hidden", required_argument, NULL, 9}, {"heads", required_argument, NULL, 10},
		{"intermediate", required_argument, NULL, 11}, {"max-positions", required_argument, NULL, 12},
		{"batch", required_argument, NULL, 13}, {"max-len", required_argument, NULL, 14},
		{"steps", required_argument, NULL, 15}, {"warmup", required_argument, NULL, 16},
		{"lr", required_argument, NULL, 17}, {"min-lr-ratio", required_argument, NULL, 18},
		{"weight-decay", required_argument, NULL, 19}, {"scale", required_argument, NULL, 20},
		{"clip", required_argument, NULL, 21}, {"seed", required_argument, NULL, 22},
		{"threads", required_argument, NULL, 23}, {"log-every", required_argument, NULL, 24},
		{"eval-every", required_argument, NULL, 25}, {"checkpoint-every", required_argument, NULL, 26},
		{"time-limit", required_argument, NULL, 27}, {"export-seq-len", required_argument, NULL, 28},
		{"resume", no_argument, NULL, 29}, {"stop-at", required_argument, NULL, 30},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	memset(o, 0, sizeof(*o));
	o->cfg = (EmbedTrainConfig) {.hidden = 256, .layers = 4, .heads = 4, .intermediate = 1024,
	.max_positions = 128, .type_vocab = 2, .ln_eps = 1e-12f};
	o->batch = 64;
	o->max_len = 64;
	o->steps = 2000;
	o->warmup = 100;
	o->lr = 5e-4;
	o->min_lr_ratio = 0.05;
	o->weight_decay = 0.01;
	o->scale = 20;
	o->clip = 1.0;
	o->seed = 42;
	o->threads = 2;
	o->log_every = 10;
	o->eval_every = 250;
	o->checkpoint_every = 250;
	o->export_seq_len = 128;
	o->weights = "";
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 1: o->pairs_dir = optarg; break;
			case 2: o->vocab_dir = optarg; break;
			case 3: o->run_dir = optarg; break;
			case 4: o->export_dir = optarg; break;
			case 5: o->init_embeddings = optarg; break;
			case 6: o->heldout = optarg; break;
			case 7: o->weights = optarg; break;
			case 8: o->cfg.layers = atoi(optarg); break;
			case 9: o->cfg.hidden = atoi(optarg); break;
			case 10: o->cfg.heads = atoi(optarg); break;
			case 11: o->cfg.intermediate = atoi(optarg); break;
			case 12: o->cfg.max_positions = atoi(optarg); break;
			case 13: o->batch = atoi(optarg); break;
			case 14: o->max_len = atoi(optarg); break;
			case 15: o->steps = atoll(optarg); break;
			case 16: o->warmup = atoi(optarg); break;
			case 17: o->lr = atof(optarg); break;
			case 18: o->min_lr_ratio = atof(optarg); break;
			case 19: o->weight_decay = atof(optarg); break;
			case 20: o->scale = atof(optarg); break;
			case 21: o->clip = atof(optarg); break;
			case 22: o->seed = strtoull(optarg, NULL, 10); break;
			case 23: o->threads = atoi(optarg); break;
			case 24: o->log_every = atoi(optarg); break;
			case 25: o->eval_every = atoi(optarg); break;
			case 26: o->checkpoint_every = atoi(optarg); break;
			case 27: o->time_limit_min = atof(optarg); break;
			case 28: o->export_seq_len = atoi(optarg); break;
			case 29: o->resume = true; break;
			case 30: o->stop_at = atoll(optarg); break;
			case 'h': usage(stdout); exit(0);
			default: return false;
		}
	}
	if (optind != argc || !o->pairs_dir || !o->vocab_dir || !o->run_dir)
		return false;
	if (o->batch < 2 || o->batch > 4096 || o->max_len < 3 || o->max_len > o->cfg.max_positions ||
		o->steps < 1 || o->threads < 1 || o->log_every < 1 || o->export_seq_len < 3 ||
		o->export_seq_len > o->cfg.max_positions)
	{
		fprintf(stderr, "embed-train: an option is out of range\n");
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	Options		o;
	char		err[512],
				path[4096];
	EmbedTokenizer *tok;
	EmbedTrainData *data,
			   *held = NULL;
	EmbedTrainModel *m;
	EmbedTrainActs *acts;
	EmbedTrainBatch *batch;
	float	   *d_emb;
	int64_t		step = 0;
	int			nheld = 0;
	FILE	   *trainlog,
			   *evallog;
	double		t_start = now_seconds(),
				t_log = t_start;
	int64_t		tokens_since_log = 0;
	double		loss_sum = 0,
				acc_sum = 0;
	int			loss_count = 0;

	if (!parse_options(argc, argv, &o))
	{
		usage(stderr);
		return 2;
	}
	openblas_set_num_threads(o.threads);
	mkdir(o.run_dir, 0755);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	if ((tok = embed_tokenizer_load(o.vocab_dir, err, sizeof(err))) == NULL)
	{
		fprintf(stderr, "embed-train: %s\n", err);
		return 1;
	}
	o.cfg.vocab = embed_tokenizer_vocab_size(tok);
	if ((data = embed_train_data_new(o.max_len, o.seed)) == NULL || !load_sources(&o, tok, data))
		return 1;
	{
		double		wsum = 0;

		for (int s = 0; s < data->nsources; s++)
			wsum += data->sources[s].npairs >= o.batch ? data->sources[s].weight : 0;
		for (int s = 0; s < data->nsources; s++)
			fprintf(stderr, "source %-18s %7d pairs  p=%.3f\n", data->sources[s].name,
					data->sources[s].npairs,
					data->sources[s].npairs >= o.batch ? data->sources[s].weight / wsum : 0.0);
	}
	if (o.heldout == NULL)
	{
		snprintf(path, sizeof(path), "%s/heldout.tsv", o.pairs_dir);
		o.heldout = strdup(path);
	}
	held = load_heldout(o.heldout, tok, o.max_len, &nheld);
	if (held == NULL || nheld == 0)
		fprintf(stderr, "embed-train: no held-out set (%s), evaluation disabled\n", o.heldout);

	if ((m = embed_train_model_new(&o.cfg)) == NULL)
	{
		fprintf(stderr, "embed-train: bad model configuration or out of memory\n");
		return 1;
	}
	embed_train_model_init(m, o.seed);
	if (o.init_embeddings)
	{
		int			v,
					dim;
		float	   *w = embed_skipgram_read(o.init_embeddings, &v, &dim, err, sizeof(err));

		if (w == NULL || v != o.cfg.vocab || dim != o.cfg.hidden)
		{
			fprintf(stderr, "embed-train: %s\n", w ? "skip-gram vectors do not match vocab/hidden" : err);
			return 1;
		}
		memcpy(m->p.word, w, sizeof(float) * (size_t) v * dim);
		free(w);
	}
	snprintf(path, sizeof(path), "%s/checkpoint.bin", o.run_dir);
	if (o.resume)
	{
		if (!embed_train_checkpoint_load(path, m, &step, data, err, sizeof(err)))
		{
			fprintf(stderr, "embed-train: %s\n", err);
			return 1;
		}
		fprintf(stderr, "resumed from %s at step %lld\n", path, (long long) step);
	}

	acts = embed_train_acts_new(&o.cfg, 3 * o.batch * o.max_len, 3 * o.batch, o.max_len);
	batch = embed_train_batch_new(o.batch, o.max_len);
	d_emb = malloc(sizeof(float) * 3 * o.batch * o.cfg.hidden);
	snprintf(path, sizeof(path), "%s/train.log", o.run_dir);
	trainlog = fopen(path, o.resume ? "a" : "w");
	snprintf(path, sizeof(path), "%s/eval.log", o.run_dir);
	evallog = fopen(path, o.resume ? "a" : "w");
	if (!acts || !batch || !d_emb || !trainlog || !evallog)
	{
		fprintf(stderr, "embed-train: out of memory or cannot write logs in %s\n", o.run_dir);
		return 1;
	}
	fprintf(stderr, "model: %zu parameters; %d layers x %d hidden x %d heads, FFN %d, vocab %d\n",
			m->nparams, o.cfg.layers, o.cfg.hidden, o.cfg.heads, o.cfg.intermediate, o.cfg.vocab);
	if (!o.resume && held && nheld > 0)
	{
		double		acc,
					mrr;

		evaluate(m, acts, held, nheld, &acc, &mrr);
		fprintf(evallog, "%lld\t%.4f\t%.4f\n", (long long) step, acc, mrr);
		fflush(evallog);
		fprintf(stderr, "step %lld heldout acc@1 %.4f mrr %.4f\n", (long long) step, acc, mrr);
	}

	while (step < o.steps && !stop_requested)
	{
		float		lr,
					loss,
					acc,
					gnorm;

		step++;
		lr = (float) learning_rate(&o, step);
		embed_train_data_next(data, o.batch, batch);
		embed_train_forward(m, acts, batch->ids, batch->lengths, batch->nseq);
		loss = embed_train_infonce(acts->out, batch->hashes, batch->B, batch->nneg, o.cfg.hidden,
								   (float) o.scale, d_emb, &acc);
		embed_train_zero_grad(m);
		embed_train_backward(m, acts, d_emb);
		gnorm = embed_train_adamw(m, step, lr, 0.9f, 0.999f, 1e-8f, (float) o.weight_decay, (float) o.clip);
		tokens_since_log += batch->ntok;
		loss_sum += loss;
		acc_sum += acc;
		loss_count++;
		if (!isfinite(loss))
		{
			fprintf(stderr, "embed-train: loss is not finite at step %lld\n", (long long) step);
			return 1;
		}
		if (step % o.log_every == 0)
		{
			double		t = now_seconds();

			fprintf(trainlog, "%lld\t%.5f\t%.4f\t%.3e\t%.3f\t%.0f\t%s\n", (long long) step,
					loss_sum / loss_count, acc_sum / loss_count, lr, gnorm,
					tokens_since_log / (t - t_log), data->sources[batch->source].name);
			fflush(trainlog);
			fprintf(stderr, "step %lld loss %.4f acc %.3f lr %.2e gnorm %.2f %.0f tok/s %.1f min\n",
					(long long) step, loss_sum / loss_count, acc_sum / loss_count, lr, gnorm,
					tokens_since_log / (t - t_log), (t - t_start) / 60);
			t_log = t;
			tokens_since_log = 0;
			loss_sum = acc_sum = 0;
			loss_count = 0;
		}
		if ((o.time_limit_min > 0 && now_seconds() - t_start > o.time_limit_min * 60) ||
			(o.stop_at > 0 && step >= o.stop_at))
			stop_requested = 1;
		if (held && nheld > 0 && o.eval_every > 0 && (step % o.eval_every == 0 || step == o.steps || stop_requested))
		{
			double		eacc,
						mrr;

			evaluate(m, acts, held, nheld, &eacc, &mrr);
			fprintf(evallog, "%lld\t%.4f\t%.4f\n", (long long) step, eacc, mrr);
			fflush(evallog);
			fprintf(stderr, "step %lld heldout acc@1 %.4f mrr %.4f\n", (long long) step, eacc, mrr);
		}
		if ((o.checkpoint_every > 0 && step % o.checkpoint_every == 0) || step == o.steps || stop_requested)
		{
			if (!save_checkpoint(&o, m, step, data))
				return 1;
			if (o.export_dir &&
				!embed_train_export_folder(m, o.vocab_dir, o.export_dir, o.export_seq_len, err, sizeof(err)))
			{
				fprintf(stderr, "embed-train: %s\n", err);
				return 1;
			}
		}
	}
	if (step >= o.steps || stop_requested)
	{
		if (!save_checkpoint(&o, m, step, data))
			return 1;
		if (o.export_dir &&
			!embed_train_export_folder(m, o.vocab_dir, o.export_dir, o.export_seq_len, err, sizeof(err)))
		{
			fprintf(stderr, "embed-train: %s\n", err);
			return 1;
		}
	}
	fprintf(stderr, "stopped at step %lld after %.1f min\n", (long long) step, (now_seconds() - t_start) / 60);
	fclose(trainlog);
	fclose(evallog);
	embed_train_batch_free(batch);
	embed_train_acts_free(acts, &o.cfg);
	embed_train_model_free(m);
	embed_train_data_free(data);
	embed_train_data_free(held);
	embed_tokenizer_free(tok);
	free(d_emb);
	return 0;
}
