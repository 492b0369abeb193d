/*
 * threadpool.h: a small persistent pool of worker threads that run the
 * independent tasks of one parallel step of the forward pass.
 *
 * The pool belongs to one calling thread, which takes part in every step
 * as thread 0; workers are threads 1 .. threads - 1.  A step is `ntasks`
 * calls fn(arg, task, thread) for task = 0 .. ntasks - 1, in any order and
 * on any thread; embed_thread_pool_run returns when all of them are done,
 * so between two steps no worker runs any code of the caller's.
 *
 * Workers are created with every signal blocked (a PostgreSQL backend's
 * signal handlers must run on its main thread) and only ever run the task
 * functions they are given.
 */
#ifndef EMBED_THREADPOOL_H
#define EMBED_THREADPOOL_H

typedef struct EmbedThreadPool EmbedThreadPool;

/* One task of a step; thread (0 .. threads - 1) indexes per-thread scratch. */
typedef void (*EmbedTaskFn) (void *arg, int task, int thread);

/*
 * A pool of `threads` threads in all, the caller included (so threads - 1
 * workers are started; threads = 1 gives a pool that runs everything on the
 * caller).  NULL with errno set when threads is out of 1 ..
 * EMBED_THREAD_POOL_MAX or a thread cannot be created.
 */
#define EMBED_THREAD_POOL_MAX 256
EmbedThreadPool *embed_thread_pool_create(int threads);

/* Stop and join the workers and free the pool (NULL is allowed). */
void		embed_thread_pool_destroy(EmbedThreadPool *pool);

/* Threads of the pool, the caller included; 1 for NULL. */
int			embed_thread_pool_threads(const EmbedThreadPool *pool);

/*
 * Run fn(arg, task, thread) for every task in 0 .. ntasks - 1 and wait for
 * all of them.  pool NULL runs them in order on the calling thread.
 */
void		embed_thread_pool_run(EmbedThreadPool *pool, int ntasks, EmbedTaskFn fn, void *arg);

#endif
