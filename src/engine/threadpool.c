/*
 * threadpool.c: the engine's worker threads (see threadpool.h).
 *
 * Design notes:
 * - A step is published through one 64-bit ticket: the step number in the
 *   high half, the next unclaimed task index in the low half.  Every thread
 *   (the caller included) claims tasks with a compare-and-swap on the
 *   ticket, so a task runs exactly once and a worker that arrives late
 *   simply finds nothing left; the caller never waits for a worker that has
 *   not started, only for tasks that are running.
 * - Publishing: the caller first closes the ticket (new step number, index
 *   TICKET_CLOSED), then writes the step's function, argument and task
 *   count, then opens it (index 0).  A thread reads the descriptor after
 *   seeing an open ticket of step s and only runs a task when its claim of
 *   (s, i) succeeds; all accesses are sequentially consistent, so a
 *   successful claim proves the descriptor it read was step s's.
 * - Waiting: both idle workers and the caller waiting for the last task
 *   spin for up to SPIN_NS (the steps of one forward pass follow each other
 *   within microseconds), then sleep on a condition variable.  Sleepers
 *   announce themselves in a counter (workers) or flag (caller) before
 *   re-checking, and the waking side checks the counter or flag after its
 *   store, so no wake-up is lost.
 * - Workers start with every signal blocked; the caller's mask is restored
 *   after creating them.
 */
#include "threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICKET_CLOSED UINT32_MAX
#define SPIN_NS 100000			/* 0.1 ms */
#define CACHE_LINE 64

typedef struct WorkerStart
{
	EmbedThreadPool *pool;
	int			index;
} WorkerStart;

struct EmbedThreadPool
{
	/* the current step, written by the caller */
	_Alignas(CACHE_LINE) _Atomic uint64_t ticket;
	_Atomic(EmbedTaskFn) fn;
	_Atomic(void *) arg;
	atomic_int	ntasks;
	/* completion */
	_Alignas(CACHE_LINE) atomic_int done;
	atomic_bool caller_waiting;
	atomic_int	sleepers;
	atomic_bool shutdown;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* a step was published, or shutdown */
	pthread_cond_t finished;	/* the last task of a step is done */
	/* owned by the caller */
	uint32_t	step;
	int			threads;
	int			started;
	pthread_t  *workers;
	WorkerStart *starts;
};

/* Let a spinning hardware thread yield its pipeline. */
static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Monotonic time in nanoseconds. */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Step number of a ticket. */
static inline uint32_t
ticket_step(uint64_t ticket)
{
	return (uint32_t) (ticket >> 32);
}

/* Claim and run tasks of `step` until none is left (or another step began). */
static void
work_on_step(EmbedThreadPool *pool, uint32_t step, int thread)
{
	for (;;)
	{
		uint64_t	t = atomic_load(&pool->ticket);
		uint32_t	index = (uint32_t) t;
		EmbedTaskFn fn;
		void	   *arg;
		int			ntasks;

		if (ticket_step(t) != step)
			return;
		if (index == TICKET_CLOSED)
		{
			cpu_relax();
			continue;
		}
		fn = atomic_load(&pool->fn);
		arg = atomic_load(&pool->arg);
		ntasks = atomic_load(&pool->ntasks);
		if (index >= (uint32_t) ntasks)
			return;
		if (!atomic_compare_exchange_weak(&pool->ticket, &t, t + 1))
			continue;
		fn(arg, (int) index, thread);
		if (atomic_fetch_add(&pool->done, 1) + 1 == ntasks && thread != 0 &&
			atomic_load(&pool->caller_waiting))
		{
			pthread_mutex_lock(&pool->lock);
			pthread_cond_signal(&pool->finished);
			pthread_mutex_unlock(&pool->lock);
		}
	}
}

/* Whether a worker that last saw step `seen` has something to do. */
static inline bool
worker_woken(EmbedThreadPool *pool, uint32_t seen)
{
	return ticket_step(atomic_load(&pool->ticket)) != seen || atomic_load(&pool->shutdown);
}

/* Spin, then sleep, until a step other than `seen` is published or shutdown. */
static void
wait_for_step(EmbedThreadPool *pool, uint32_t seen)
{
	int64_t		start = now_ns();

	for (int i = 1; !worker_woken(pool, seen); i++)
	{
		cpu_relax();
		if ((i & 255) == 0 && now_ns() - start > SPIN_NS)
		{
			pthread_mutex_lock(&pool->lock);
			atomic_fetch_add(&pool->sleepers, 1);
			while (!worker_woken(pool, seen))
				pthread_cond_wait(&pool->wake, &pool->lock);
			atomic_fetch_sub(&pool->sleepers, 1);
			pthread_mutex_unlock(&pool->lock);
			return;
		}
	}
}

/* A worker: run the steps as they come. */
static void *
worker_main(void *p)
{
	WorkerStart *ws = p;
	EmbedThreadPool *pool = ws->pool;
	uint32_t	seen = 0;

	for (;;)
	{
		wait_for_step(pool, seen);
		if (atomic_load(&pool->shutdown))
			return NULL;
		seen = ticket_step(atomic_load(&pool->ticket));
		work_on_step(pool, seen, ws->index);
	}
}

/* Stop and join the started workers. */
static void
stop_workers(EmbedThreadPool *pool)
{
	pthread_mutex_lock(&pool->lock);
	atomic_store(&pool->shutdown, true);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->started; i++)
		pthread_join(pool->workers[i], NULL);
	pool->started = 0;
}

/* Free a pool whose workers are stopped. */
static void
free_pool(EmbedThreadPool *pool)
{
	pthread_cond_destroy(&pool->finished);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->workers);
	free(pool->starts);
	free(pool);
}

EmbedThreadPool *
embed_thread_pool_create(int threads)
{
	EmbedThreadPool *pool;
	size_t		size = (sizeof(EmbedThreadPool) + CACHE_LINE - 1) & ~(size_t) (CACHE_LINE - 1);
	sigset_t	all,
				old;
	int			rc = 0;

	if (threads < 1 || threads > EMBED_THREAD_POOL_MAX)
	{
		errno = EINVAL;
		return NULL;
	}
	pool = aligned_alloc(CACHE_LINE, size);
	if (pool == NULL)
		return NULL;
	memset(pool, 0, size);
	atomic_init(&pool->ticket, 0);
	atomic_init(&pool->fn, NULL);
	atomic_init(&pool->arg, NULL);
	atomic_init(&pool->ntasks, 0);
	atomic_init(&pool->done, 0);
	atomic_init(&pool->caller_waiting, false);
	atomic_init(&pool->sleepers, 0);
	atomic_init(&pool->shutdown, false);
	pool->threads = threads;
	pool->workers = calloc(threads, sizeof(pthread_t));
	pool->starts = calloc(threads, sizeof(WorkerStart));
	if (pool->workers == NULL || pool->starts == NULL)
	{
		free(pool->workers);
		free(pool->starts);
		free(pool);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->finished, NULL);

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 1; i < threads && rc == 0; i++)
	{
		pool->starts[pool->started].pool = pool;
		pool->starts[pool->started].index = i;
		rc = pthread_create(&pool->workers[pool->started], NULL, worker_main, &pool->starts[pool->started]);
		if (rc == 0)
			pool->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		stop_workers(pool);
		free_pool(pool);
		errno = rc;
		return NULL;
	}
	return pool;
}

void
embed_thread_pool_destroy(EmbedThreadPool *pool)
{
	if (pool == NULL)
		return;
	stop_workers(pool);
	free_pool(pool);
}

int
embed_thread_pool_threads(const EmbedThreadPool *pool)
{
	return pool ? pool->threads : 1;
}

/* Spin, then sleep, until every task of the current step is done. */
static void
wait_for_tasks(EmbedThreadPool *pool, int ntasks)
{
	int64_t		start = now_ns();

	for (int i = 1; atomic_load(&pool->done) < ntasks; i++)
	{
		cpu_relax();
		if ((i & 255) == 0 && now_ns() - start > SPIN_NS)
		{
			pthread_mutex_lock(&pool->lock);
			atomic_store(&pool->caller_waiting, true);
			while (atomic_load(&pool->done) < ntasks)
				pthread_cond_wait(&pool->finished, &pool->lock);
			atomic_store(&pool->caller_waiting, false);
			pthread_mutex_unlock(&pool->lock);
			return;
		}
	}
}

void
embed_thread_pool_run(EmbedThreadPool *pool, int ntasks, EmbedTaskFn fn, void *arg)
{
	if (ntasks <= 0)
		return;
	if (pool == NULL || pool->started == 0 || ntasks == 1)
	{
		for (int i = 0; i < ntasks; i++)
			fn(arg, i, 0);
		return;
	}
	if (++pool->step == 0)
		pool->step = 1;			/* 0 is the "no step yet" of a new worker */
	atomic_store(&pool->ticket, (uint64_t) pool->step << 32 | TICKET_CLOSED);
	atomic_store(&pool->fn, fn);
	atomic_store(&pool->arg, arg);
	atomic_store(&pool->ntasks, ntasks);
	atomic_store(&pool->done, 0);
	atomic_store(&pool->ticket, (uint64_t) pool->step << 32);
	if (atomic_load(&pool->sleepers) > 0)
	{
		pthread_mutex_lock(&pool->lock);
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->lock);
	}
	work_on_step(pool, pool->step, 0);
	wait_for_tasks(pool, ntasks);
}
