/*
 * hnswbuild.c: CREATE INDEX for hnsw, serial or parallel.
 *
 * The graph is built in memory first: elements are bump-allocated in one
 * arena of about maintenance_work_mem bytes and refer to each other by
 * arena offset, each keeping its neighbours with their distances so that
 * pruning a full list needs only the pairwise distances of the heuristic.
 * When the heap scan ends, the graph is written out page by page in
 * allocation order (a first pass assigns every tuple its TID, a second
 * writes the pages).  If the arena fills up first, the graph built so far
 * is written out, a NOTICE says so, and the remaining tuples go through the
 * on-disk insert path.  Pages are written without WAL and logged in one go
 * at the end when the index needs WAL.
 *
 * A parallel build puts the arena and the graph's bookkeeping in dynamic
 * shared memory; the leader and the workers each scan part of the heap and
 * insert into the same graph.  Each element then has an LWLock guarding
 * its neighbour lists, an LWLock guards the entry point (held exclusively
 * by an insert that will become the new entry point), and inserts hold the
 * flush lock in share mode so that the one process that finds the arena
 * full can write the graph out alone.  Serial builds draw levels from a
 * generator with a fixed seed and are deterministic.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "hnsw.h"

/* A link in the in-memory graph: arena offset / 8 of the element, and its distance. */
typedef struct BuildLink
{
	uint32		elem;
	float		distance;
} BuildLink;

/* An element of the in-memory graph; counts, vector and links follow. */
typedef struct BuildElement
{
	ItemPointerData heaptid;
	uint8		level;
	uint8		unused;
	ItemPointerData indextid;	/* assigned when written out */
	ItemPointerData neighbortid;
	uint32		ordinal;		/* allocation number, indexes visited marks */
	LWLock		lock;			/* guards counts and links (parallel builds) */
	uint16		counts[FLEXIBLE_ARRAY_MEMBER];	/* links per layer */
} BuildElement;

/* The graph's bookkeeping: in local memory, or in shared memory when parallel. */
typedef struct BuildGraph
{
	Size		capacity;		/* arena bytes */
	pg_atomic_uint64 used;		/* arena bytes handed out */
	pg_atomic_uint64 nelements; /* elements allocated */
	uint32		entry;			/* 0: empty graph */
	int			entryLevel;
	bool		flushed;		/* written out; inserts go to disk */
	LWLock		entryLock;
	LWLock		flushLock;
	slock_t		mutex;			/* guards the counters below */
	double		indtuples;
	double		reltuples;
	int			nparticipantsdone;
} BuildGraph;

/* Shared state of a parallel build (the table scan descriptor follows). */
typedef struct BuildShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	int			dim;
	int			trancheId;
	ConditionVariable workersdonecv;
	BuildGraph	graph;
} BuildShared;

#define SHARED_KEY_STATE	UINT64CONST(0xE3B0C44200000001)
#define SHARED_KEY_ARENA	UINT64CONST(0xE3B0C44200000002)
#define SharedTableScan(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(BuildShared))))

typedef struct BuildState
{
	Relation	heap;
	Relation	index;
	IndexInfo  *indexInfo;
	ForkNumber	forkNum;
	int			dim;			/* 0 until the first vector if the column is untyped */
	int			m;
	int			efConstruction;
	EmbedHnswSupport support;
	bool		parallel;
	int			trancheId;		/* of the element locks */
	bool		progress;		/* this process reports progress */

	BuildGraph *graph;
	BuildGraph	localGraph;
	char	   *arena;

	/* per-process visited marks, indexed by element ordinal */
	uint32	   *visited;
	uint64		visitedCap;
	uint32		epoch;

	/* search scratch, grown on demand */
	BuildLink  *candidates;
	int			candidatesCap;
	BuildLink  *results;
	int			resultsCap;

	pg_prng_state prng;			/* level draws */
	float	   *vecbuf;
	MemoryContext tmpCtx;
} BuildState;

/* Seed of the level generator of CREATE INDEX (plus the worker number). */
#define BUILD_SEED	UINT64CONST(0x9E3779B97F4A7C15)

#define ELEMENT(bs, ref)	((BuildElement *) ((bs)->arena + (Size) (ref) * 8))

/* Offset of the vector within an element of the given level. */
static inline Size
vector_offset(int level)
{
	return MAXALIGN(offsetof(BuildElement, counts) + sizeof(uint16) * (level + 1));
}

/* Offset of the links within an element. */
static inline Size
links_offset(BuildState *bs, int level)
{
	return vector_offset(level) + MAXALIGN(sizeof(float) * bs->dim);
}

/* Bytes taken by an element of the given level. */
static inline Size
element_size(BuildState *bs, int level)
{
	return links_offset(bs, level) + sizeof(BuildLink) * EMBED_HNSW_NEIGHBOR_COUNT(level, bs->m);
}

static inline float *
element_vector(BuildElement *e)
{
	return (float *) ((char *) e + vector_offset(e->level));
}

static inline BuildLink *
element_links(BuildState *bs, BuildElement *e, int lc)
{
	return (BuildLink *) ((char *) e + links_offset(bs, e->level)) + EmbedHnswLayerStart(bs->m, lc);
}

/* Lock an element's links (parallel builds only). */
static inline void
element_lock(BuildState *bs, BuildElement *e, LWLockMode mode)
{
	if (bs->parallel)
		LWLockAcquire(&e->lock, mode);
}

static inline void
element_unlock(BuildState *bs, BuildElement *e)
{
	if (bs->parallel)
		LWLockRelease(&e->lock);
}

/* Grow a scratch array to hold at least n links. */
static BuildLink *
ensure_links(BuildLink *array, int *cap, int n)
{
	if (n <= *cap)
		return array;
	while (*cap < n)
		*cap *= 2;
	return repalloc_huge(array, sizeof(BuildLink) * (Size) *cap);
}

/* Binary heap push on links; maxheap orders the farthest first. */
static void
link_push(BuildLink *heap, int *size, BuildLink item, bool maxheap)
{
	int			i = (*size)++;

	while (i > 0)
	{
		int			parent = (i - 1) / 2;
		bool		before = maxheap ? item.distance > heap[parent].distance :
			item.distance < heap[parent].distance;

		if (!before)
			break;
		heap[i] = heap[parent];
		i = parent;
	}
	heap[i] = item;
}

/* Binary heap pop on links. */
static BuildLink
link_pop(BuildLink *heap, int *size, bool maxheap)
{
	BuildLink	top = heap[0];
	BuildLink	last = heap[--(*size)];
	int			i = 0;

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= *size)
			break;
		if (child + 1 < *size &&
			(maxheap ? heap[child + 1].distance > heap[child].distance :
			 heap[child + 1].distance < heap[child].distance))
			child++;
		if (maxheap ? heap[child].distance <= last.distance : heap[child].distance >= last.distance)
			break;
		heap[i] = heap[child];
		i = child;
	}
	if (*size > 0)
		heap[i] = last;
	return top;
}

/* Mark an element visited by the current search; false if it already was. */
static inline bool
visit(BuildState *bs, BuildElement *e)
{
	if (bs->visited[e->ordinal] == bs->epoch)
		return false;
	bs->visited[e->ordinal] = bs->epoch;
	return true;
}

/*
 * Search layer lc of the in-memory graph for the ef nearest elements to q
 * (the vector of element self, which is never returned), starting from ep;
 * writes them to out nearest first and returns how many.
 */
static int
memory_search_layer(BuildState *bs, BuildElement *self, const float *q, BuildLink *ep, int nep,
					int ef, int lc, BuildLink *out)
{
	int			ncand = 0;
	int			nres = 0;
	int			n;
	BuildLink	links[2 * EMBED_HNSW_MAX_M];

	bs->epoch++;
	/* in a parallel build others may already link to self */
	visit(bs, self);
	bs->results = ensure_links(bs->results, &bs->resultsCap, ef + 1);
	for (int i = 0; i < nep; i++)
	{
		visit(bs, ELEMENT(bs, ep[i].elem));
		bs->candidates = ensure_links(bs->candidates, &bs->candidatesCap, ncand + 1);
		link_push(bs->candidates, &ncand, ep[i], false);
		link_push(bs->results, &nres, ep[i], true);
		if (nres > ef)
			link_pop(bs->results, &nres, true);
	}

	while (ncand > 0)
	{
		BuildLink	c = link_pop(bs->candidates, &ncand, false);
		BuildElement *ce = ELEMENT(bs, c.elem);
		int			nlinks;

		if (nres >= ef && c.distance > bs->results[0].distance)
			break;
		if (lc > ce->level)
			continue;
		element_lock(bs, ce, LW_SHARED);
		nlinks = ce->counts[lc];
		memcpy(links, element_links(bs, ce, lc), sizeof(BuildLink) * nlinks);
		element_unlock(bs, ce);

		for (int i = 0; i < nlinks; i++)
		{
			BuildElement *e = ELEMENT(bs, links[i].elem);
			BuildLink	item;

			if (!visit(bs, e))
				continue;
			item.elem = links[i].elem;
			item.distance = embed_hnsw_distance(&bs->support, q, element_vector(e));
			if (nres < ef || item.distance < bs->results[0].distance)
			{
				bs->candidates = ensure_links(bs->candidates, &bs->candidatesCap, ncand + 1);
				link_push(bs->candidates, &ncand, item, false);
				link_push(bs->results, &nres, item, true);
				if (nres > ef)
					link_pop(bs->results, &nres, true);
			}
		}
	}

	n = nres;
	for (int i = n - 1; i >= 0; i--)
		out[i] = link_pop(bs->results, &nres, true);
	return n;
}

/* Sort links by distance (insertion sort: lists are short). */
static void
sort_links(BuildLink *links, int n)
{
	for (int i = 1; i < n; i++)
	{
		BuildLink	tmp = links[i];
		int			j = i - 1;

		while (j >= 0 && links[j].distance > tmp.distance)
		{
			links[j + 1] = links[j];
			j--;
		}
		links[j + 1] = tmp;
	}
}

/*
 * Heuristic selection over links sorted by distance to their base element:
 * keep a link only if it is closer to the base than to every kept link.
 */
static int
memory_select(BuildState *bs, BuildLink *links, int n, int max, BuildLink *out)
{
	int			kept = 0;

	for (int i = 0; i < n && kept < max; i++)
	{
		float	   *v = element_vector(ELEMENT(bs, links[i].elem));
		bool		good = true;

		for (int j = 0; j < kept; j++)
		{
			if (embed_hnsw_distance(&bs->support, v, element_vector(ELEMENT(bs, out[j].elem))) <
				links[i].distance)
			{
				good = false;
				break;
			}
		}
		if (good)
			out[kept++] = links[i];
	}
	return kept;
}

/* Add a link to elem on layer lc of base, pruning a full list. */
static void
memory_add_link(BuildState *bs, uint32 base, uint32 elem, float distance, int lc)
{
	BuildElement *b = ELEMENT(bs, base);
	BuildLink  *links = element_links(bs, b, lc);
	int			max = EmbedHnswLayerMax(bs->m, lc);
	int			n;
	BuildLink	all[2 * EMBED_HNSW_MAX_M + 1];

	element_lock(bs, b, LW_EXCLUSIVE);
	n = b->counts[lc];
	/* a concurrent insert may have linked them already */
	for (int i = 0; i < n; i++)
	{
		if (links[i].elem == elem)
		{
			element_unlock(bs, b);
			return;
		}
	}
	if (n < max)
	{
		links[n].elem = elem;
		links[n].distance = distance;
		b->counts[lc] = n + 1;
	}
	else
	{
		memcpy(all, links, sizeof(BuildLink) * n);
		all[n].elem = elem;
		all[n].distance = distance;
		sort_links(all, n + 1);
		b->counts[lc] = memory_select(bs, all, n + 1, max, links);
	}
	element_unlock(bs, b);
}

/*
 * Set layer lc of a new element to the links chosen for it.  In a parallel
 * build other inserts may have linked themselves in meanwhile: those links
 * are kept unless the heuristic drops them from the merged list.
 */
static void
memory_set_links(BuildState *bs, BuildElement *e, int lc, BuildLink *mine, int nmine)
{
	BuildLink  *links = element_links(bs, e, lc);
	BuildLink	all[4 * EMBED_HNSW_MAX_M];
	int			max = EmbedHnswLayerMax(bs->m, lc);
	int			n;

	element_lock(bs, e, LW_EXCLUSIVE);
	n = e->counts[lc];
	if (n == 0)
	{
		memcpy(links, mine, sizeof(BuildLink) * nmine);
		e->counts[lc] = nmine;
		element_unlock(bs, e);
		return;
	}
	memcpy(all, links, sizeof(BuildLink) * n);
	for (int i = 0; i < nmine; i++)
	{
		bool		present = false;

		for (int j = 0; j < e->counts[lc]; j++)
			present = present || all[j].elem == mine[i].elem;
		if (!present)
			all[n++] = mine[i];
	}
	if (n <= max)
	{
		memcpy(links, all, sizeof(BuildLink) * n);
		e->counts[lc] = n;
	}
	else
	{
		sort_links(all, n);
		e->counts[lc] = memory_select(bs, all, n, max, links);
	}
	element_unlock(bs, e);
}

/*
 * Read the entry point.  An insert that will become the new entry point
 * (or the first element) keeps entryLock exclusively until it is linked;
 * returns whether it does.
 */
static bool
memory_get_entry(BuildState *bs, int level, uint32 *entry, int *entryLevel)
{
	BuildGraph *graph = bs->graph;

	if (!bs->parallel)
	{
		*entry = graph->entry;
		*entryLevel = graph->entryLevel;
		return graph->entry == 0 || level > graph->entryLevel;
	}
	LWLockAcquire(&graph->entryLock, LW_SHARED);
	*entry = graph->entry;
	*entryLevel = graph->entryLevel;
	LWLockRelease(&graph->entryLock);
	if (*entry != 0 && level <= *entryLevel)
		return false;

	LWLockAcquire(&graph->entryLock, LW_EXCLUSIVE);
	*entry = graph->entry;
	*entryLevel = graph->entryLevel;
	if (*entry != 0 && level <= *entryLevel)
	{
		LWLockRelease(&graph->entryLock);
		return false;
	}
	return true;
}

/* Allocate an element; 0 when the arena is full. */
static uint32
memory_allocate(BuildState *bs, int level)
{
	BuildGraph *graph = bs->graph;
	Size		size = element_size(bs, level);
	uint64		off = pg_atomic_fetch_add_u64(&graph->used, size);
	BuildElement *e;

	if (off + size > graph->capacity)
		return 0;
	e = (BuildElement *) (bs->arena + off);
	memset(e, 0, links_offset(bs, level));
	e->ordinal = (uint32) pg_atomic_fetch_add_u64(&graph->nelements, 1);
	e->level = level;
	if (bs->parallel)
		LWLockInitialize(&e->lock, bs->trancheId);
	return (uint32) (off / 8);
}

/*
 * Insert a prepared vector into the in-memory graph (HNSW paper, algorithm
 * 1); false when the arena is full.
 */
static bool
memory_insert(BuildState *bs, const float *vec, ItemPointer heaptid)
{
	int			level = embed_hnsw_random_level(bs->m, &bs->prng);
	uint32		ref = memory_allocate(bs, level);
	BuildElement *e;
	BuildLink  *ep;
	int			nep = 1;
	int			top;
	uint32		entry;
	int			entryLevel;
	bool		newEntry;

	if (ref == 0)
		return false;
	e = ELEMENT(bs, ref);
	e->heaptid = *heaptid;
	memcpy(element_vector(e), vec, sizeof(float) * bs->dim);

	newEntry = memory_get_entry(bs, level, &entry, &entryLevel);
	if (entry != 0)
	{
		ep = palloc(sizeof(BuildLink) * (bs->efConstruction + 1));
		ep[0].elem = entry;
		ep[0].distance = embed_hnsw_distance(&bs->support, vec, element_vector(ELEMENT(bs, entry)));
		for (int lc = entryLevel; lc > level; lc--)
			nep = memory_search_layer(bs, e, vec, ep, nep, 1, lc, ep);

		top = Min(level, entryLevel);
		for (int lc = top; lc >= 0; lc--)
		{
			BuildLink  *w = palloc(sizeof(BuildLink) * (bs->efConstruction + 1));
			int			nw = memory_search_layer(bs, e, vec, ep, nep, bs->efConstruction, lc, w);
			BuildLink	mine[2 * EMBED_HNSW_MAX_M];
			int			nmine = memory_select(bs, w, nw, EmbedHnswLayerMax(bs->m, lc), mine);

			memory_set_links(bs, e, lc, mine, nmine);
			for (int i = 0; i < nmine; i++)
				memory_add_link(bs, mine[i].elem, ref, mine[i].distance, lc);
			pfree(ep);
			ep = w;
			nep = nw;
		}
		pfree(ep);
	}

	if (newEntry)
	{
		bs->graph->entry = ref;
		bs->graph->entryLevel = level;
		if (bs->parallel)
			LWLockRelease(&bs->graph->entryLock);
	}
	return true;
}

/* Sequential placement of tuples on pages, shared by both write passes. */
typedef struct Placer
{
	BlockNumber blkno;
	Size		free;
	OffsetNumber next;
} Placer;

static void
placer_new_page(Placer *p)
{
	p->blkno++;
	p->free = EMBED_HNSW_PAGE_CAPACITY;
	p->next = FirstOffsetNumber;
}

/* Place a tuple of size bytes; returns its TID. */
static ItemPointerData
placer_put(Placer *p, Size size)
{
	ItemPointerData tid;

	if (size + sizeof(ItemIdData) > p->free)
		placer_new_page(p);
	ItemPointerSet(&tid, p->blkno, p->next);
	p->next++;
	p->free -= size + sizeof(ItemIdData);
	return tid;
}

/* Place an element and its neighbour tuple, together when they fit on a page. */
static void
placer_put_element(Placer *p, Size esize, Size nsize, ItemPointer etid, ItemPointer ntid)
{
	Size		together = esize + nsize + 2 * sizeof(ItemIdData);

	if (together <= EMBED_HNSW_PAGE_CAPACITY && together > p->free)
		placer_new_page(p);
	*etid = placer_put(p, esize);
	*ntid = placer_put(p, nsize);
}

/* Write a page image as the next block of the index. */
static void
write_page(BuildState *bs, Page image, BlockNumber expected)
{
	Buffer		buf = embed_hnsw_new_buffer(bs->index, bs->forkNum);

	if (BufferGetBlockNumber(buf) != expected)
		elog(ERROR, "unexpected block %u while building index \"%s\" (expected %u)",
			 BufferGetBlockNumber(buf), RelationGetRelationName(bs->index), expected);
	memcpy(BufferGetPage(buf), image, BLCKSZ);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* Add a tuple to the page image at its assigned TID, starting a new page when needed. */
static void
image_add(BuildState *bs, Page image, BlockNumber *current, void *tuple, Size size, ItemPointer tid)
{
	if (ItemPointerGetBlockNumber(tid) != *current)
	{
		write_page(bs, image, *current);
		embed_hnsw_init_page(image);
		*current = ItemPointerGetBlockNumber(tid);
	}
	if (PageAddItem(image, (Item) tuple, size, InvalidOffsetNumber, false, false) !=
		ItemPointerGetOffsetNumber(tid))
		elog(ERROR, "failed to add tuple to index \"%s\"", RelationGetRelationName(bs->index));
}

/* Update the meta page after the in-memory graph is written. */
static void
write_meta(BuildState *bs, BlockNumber lastBlock)
{
	Buffer		buf = ReadBufferExtended(bs->index, bs->forkNum, EMBED_HNSW_METAPAGE_BLKNO,
										 RBM_NORMAL, NULL);
	EmbedHnswMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = EmbedHnswPageGetMeta(BufferGetPage(buf));
	meta->dimensions = bs->dim;
	if (bs->graph->entry != 0)
	{
		BuildElement *entry = ELEMENT(bs, bs->graph->entry);

		meta->entryBlkno = ItemPointerGetBlockNumber(&entry->indextid);
		meta->entryOffno = ItemPointerGetOffsetNumber(&entry->indextid);
		meta->entryLevel = entry->level;
	}
	meta->insertPage = Max(lastBlock, EMBED_HNSW_HEAD_BLKNO);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* Write the in-memory graph to the index pages (nobody may be inserting). */
static void
flush_graph(BuildState *bs)
{
	Placer		p = {EMBED_HNSW_HEAD_BLKNO, EMBED_HNSW_PAGE_CAPACITY, FirstOffsetNumber};
	Size		esize = EMBED_HNSW_ELEMENT_TUPLE_SIZE(bs->dim);
	EmbedHnswElementTuple etup = palloc0(esize);
	Page		image = (Page) palloc(BLCKSZ);
	BlockNumber current = EMBED_HNSW_HEAD_BLKNO;
	uint64		nelements = pg_atomic_read_u64(&bs->graph->nelements);
	Size		off;

	if (bs->progress)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, EMBED_HNSW_PHASE_WRITE);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, nelements);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
	}

	/* pass 1: TIDs */
	off = 8;
	for (uint64 i = 0; i < nelements; i++)
	{
		BuildElement *e = (BuildElement *) (bs->arena + off);

		placer_put_element(&p, esize, EMBED_HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->m),
						   &e->indextid, &e->neighbortid);
		off += element_size(bs, e->level);
	}

	/* pass 2: pages */
	embed_hnsw_init_page(image);
	etup->type = EMBED_HNSW_ELEMENT_TUPLE;
	etup->dim = bs->dim;
	off = 8;
	for (uint64 i = 0; i < nelements; i++)
	{
		BuildElement *e = (BuildElement *) (bs->arena + off);
		Size		nsize = EMBED_HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->m);
		EmbedHnswNeighborTuple ntup = palloc0(nsize);

		CHECK_FOR_INTERRUPTS();
		etup->level = e->level;
		etup->heaptid = e->heaptid;
		etup->neighbortid = e->neighbortid;
		memcpy(etup->x, element_vector(e), sizeof(float) * bs->dim);

		ntup->type = EMBED_HNSW_NEIGHBOR_TUPLE;
		ntup->count = EMBED_HNSW_NEIGHBOR_COUNT(e->level, bs->m);
		for (int j = 0; j < ntup->count; j++)
			ItemPointerSetInvalid(&ntup->indextids[j]);
		for (int lc = 0; lc <= e->level; lc++)
		{
			BuildLink  *links = element_links(bs, e, lc);
			int			start = EmbedHnswLayerStart(bs->m, lc);

			for (int j = 0; j < e->counts[lc]; j++)
				ntup->indextids[start + j] = ELEMENT(bs, links[j].elem)->indextid;
		}

		image_add(bs, image, &current, etup, esize, &e->indextid);
		image_add(bs, image, &current, ntup, nsize, &e->neighbortid);
		pfree(ntup);
		off += element_size(bs, e->level);
		if (bs->progress && (i + 1) % 1024 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i + 1);
	}
	if (nelements > 0)
		write_page(bs, image, current);
	if (bs->progress)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, nelements);

	write_meta(bs, nelements > 0 ? current : EMBED_HNSW_HEAD_BLKNO);
	bs->graph->flushed = true;
	pfree(image);
	pfree(etup);
}

/* The arena is full: write the graph out once, whoever gets here first. */
static void
switch_to_disk(BuildState *bs)
{
	if (bs->parallel)
		LWLockAcquire(&bs->graph->flushLock, LW_EXCLUSIVE);
	if (!bs->graph->flushed)
	{
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem after " UINT64_FORMAT " tuples",
						pg_atomic_read_u64(&bs->graph->nelements)),
				 errdetail("Building will take significantly more time."),
				 errhint("Increase maintenance_work_mem to speed up builds.")));
		flush_graph(bs);
		if (bs->progress)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, EMBED_HNSW_PHASE_LOAD);
	}
	if (bs->parallel)
		LWLockRelease(&bs->graph->flushLock);
}

/* Insert into memory while the graph is there; false once it is on disk or full. */
static bool
try_memory_insert(BuildState *bs, const float *vec, ItemPointer tid)
{
	bool		done = false;

	if (bs->parallel)
		LWLockAcquire(&bs->graph->flushLock, LW_SHARED);
	if (!bs->graph->flushed)
		done = memory_insert(bs, vec, tid);
	if (bs->parallel)
		LWLockRelease(&bs->graph->flushLock);
	if (!done && !bs->graph->flushed)
		switch_to_disk(bs);
	return done;
}

/* Count an indexed tuple and report progress. */
static void
count_tuple(BuildState *bs)
{
	double		indtuples;

	SpinLockAcquire(&bs->graph->mutex);
	indtuples = ++bs->graph->indtuples;
	SpinLockRelease(&bs->graph->mutex);
	if (bs->progress)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) indtuples);
}

/* Allocate the per-process visited marks for every element the arena can hold. */
static void
init_visited(BuildState *bs)
{
	bs->visitedCap = bs->graph->capacity / element_size(bs, 0) + 1;
	bs->visited = palloc_extended(sizeof(uint32) * bs->visitedCap, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	bs->epoch = 0;
}

/* Fix the dimension count from the first vector of an untyped column. */
static void
set_dimensions(BuildState *bs, int dim)
{
	if (dim > EMBED_HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector with %d dimensions cannot be indexed by hnsw", dim),
				 errdetail("An hnsw index holds vectors of at most %d dimensions.", EMBED_HNSW_MAX_DIM)));
	bs->dim = dim;
	embed_hnsw_support_set_dim(&bs->support, dim);
	bs->vecbuf = MemoryContextAlloc(CurrentMemoryContext, sizeof(float) * dim);
	if (bs->arena != NULL)
		init_visited(bs);
}

/* table_index_build_scan callback: add one heap tuple. */
static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive,
			   void *state)
{
	BuildState *bs = (BuildState *) state;
	MemoryContext oldCtx;
	EmbedVector *value;

	if (isnull[0])
		return;
	CHECK_FOR_INTERRUPTS();

	oldCtx = MemoryContextSwitchTo(bs->tmpCtx);
	value = DatumGetEmbedVector(values[0]);
	if (bs->dim == 0)
	{
		MemoryContextSwitchTo(oldCtx);
		set_dimensions(bs, value->dim);
		MemoryContextSwitchTo(bs->tmpCtx);
	}
	embed_hnsw_check_dims(index, bs->dim, value->dim);

	if (embed_hnsw_prepare_vector(&bs->support, value, bs->vecbuf))
	{
		if (bs->graph->flushed || !try_memory_insert(bs, bs->vecbuf, tid))
			embed_hnsw_insert_vector(index, &bs->support, value, tid, true);
		count_tuple(bs);
	}

	MemoryContextSwitchTo(oldCtx);
	MemoryContextReset(bs->tmpCtx);
}

/* Dimension count declared by the column type (0 when untyped). */
static int
declared_dimensions(Relation index)
{
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	if (typmod <= 0)
		return 0;
	if (typmod > EMBED_HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for hnsw index", EMBED_HNSW_MAX_DIM),
				 errdetail("Column has %d dimensions; an element tuple must fit on one %d-byte page.",
						   typmod, BLCKSZ)));
	return typmod;
}

/* Set up the per-process state: options, support functions, scratch. */
static void
init_build_state(BuildState *bs, Relation heap, Relation index, IndexInfo *indexInfo,
				 ForkNumber forkNum, int participant)
{
	memset(bs, 0, sizeof(*bs));
	bs->heap = heap;
	bs->index = index;
	bs->indexInfo = indexInfo;
	bs->forkNum = forkNum;
	bs->m = embed_hnsw_get_m(index);
	bs->efConstruction = embed_hnsw_get_ef_construction(index);
	if (bs->efConstruction < 2 * bs->m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m"),
				 errdetail("m is %d and ef_construction is %d.", bs->m, bs->efConstruction)));
	embed_hnsw_init_support(&bs->support, index);
	pg_prng_seed(&bs->prng, BUILD_SEED + participant);
	bs->candidatesCap = 256;
	bs->candidates = palloc(sizeof(BuildLink) * bs->candidatesCap);
	bs->resultsCap = 256;
	bs->results = palloc(sizeof(BuildLink) * bs->resultsCap);
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build temporary context",
									   ALLOCSET_DEFAULT_SIZES);
}

/* Initialise graph bookkeeping for an arena of capacity bytes. */
static void
init_graph(BuildGraph *graph, Size capacity, int trancheId)
{
	graph->capacity = capacity;
	pg_atomic_init_u64(&graph->used, 8);	/* offset 0 means "no element" */
	pg_atomic_init_u64(&graph->nelements, 0);
	graph->entry = 0;
	graph->entryLevel = -1;
	graph->flushed = false;
	LWLockInitialize(&graph->entryLock, trancheId);
	LWLockInitialize(&graph->flushLock, trancheId);
	SpinLockInit(&graph->mutex);
	graph->indtuples = 0;
	graph->reltuples = 0;
	graph->nparticipantsdone = 0;
}

/* Arena bytes for maintenance_work_mem (offsets are stored in 32 bits, in 8-byte units). */
static Size
arena_capacity(void)
{
	Size		capacity = (Size) maintenance_work_mem * 1024;

	capacity = Min(capacity, (Size) PG_UINT32_MAX * 8);
	return Min(capacity, MaxAllocHugeSize);
}

/* Scan (part of) the heap into the graph; returns the heap tuples seen. */
static double
scan_heap(BuildState *bs, TableScanDesc scan)
{
	return table_index_build_scan(bs->heap, bs->index, bs->indexInfo, true, bs->progress,
								  build_callback, bs, scan);
}

/* One participant of a parallel build: scan its share of the heap and report. */
static void
parallel_participate(BuildState *bs, BuildShared *shared)
{
	TableScanDesc scan = table_beginscan_parallel(bs->heap, SharedTableScan(shared));
	double		reltuples = scan_heap(bs, scan);

	SpinLockAcquire(&shared->graph.mutex);
	shared->graph.reltuples += reltuples;
	shared->graph.nparticipantsdone++;
	SpinLockRelease(&shared->graph.mutex);
	ConditionVariableSignal(&shared->workersdonecv);
}

/* Attach a process to the shared graph. */
static void
attach_shared(BuildState *bs, BuildShared *shared, char *arena)
{
	bs->parallel = true;
	bs->trancheId = shared->trancheId;
	LWLockRegisterTranche(shared->trancheId, "embed_hnsw_build");
	bs->graph = &shared->graph;
	bs->arena = arena;
	set_dimensions(bs, shared->dim);
}

/* Entry point of a parallel build worker. */
void
embed_hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	BuildShared *shared = shm_toc_lookup(toc, SHARED_KEY_STATE, false);
	char	   *arena = shm_toc_lookup(toc, SHARED_KEY_ARENA, false);
	LOCKMODE	heapLockmode = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	LOCKMODE	indexLockmode = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	Relation	heap = table_open(shared->heaprelid, heapLockmode);
	Relation	index = index_open(shared->indexrelid, indexLockmode);
	IndexInfo  *indexInfo = BuildIndexInfo(index);
	BuildState	bs;

	indexInfo->ii_Concurrent = shared->isconcurrent;
	init_build_state(&bs, heap, index, indexInfo, MAIN_FORKNUM, ParallelWorkerNumber + 1);
	attach_shared(&bs, shared, arena);
	parallel_participate(&bs, shared);

	index_close(index, indexLockmode);
	table_close(heap, heapLockmode);
}

/* How many workers to ask for (0: build serially). */
static int
parallel_workers(BuildState *bs)
{
	int			workers;

	if (bs->dim == 0 || arena_capacity() < 16 * 1024 * 1024)
		return 0;
	workers = plan_create_index_workers(RelationGetRelid(bs->heap), RelationGetRelid(bs->index));
	if (workers == 0)
		return 0;
	workers = RelationGetParallelWorkers(bs->heap, -1);
	if (workers != -1)
		return Min(workers, max_parallel_maintenance_workers);
	return max_parallel_maintenance_workers;
}

/*
 * Build the graph with parallel workers; returns false (having done
 * nothing) when no worker could be started.
 */
static bool
build_parallel(BuildState *bs, int request, double *reltuples)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		sharedSize;
	Size		capacity;
	BuildShared *shared;
	char	   *arena;
	int			participants;

	EnterParallelMode();
	pcxt = CreateParallelContext("embed", "embed_hnsw_parallel_build_main", request);
	snapshot = bs->indexInfo->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;

	/* leave room for the rest of the segment within maintenance_work_mem */
	capacity = arena_capacity() - 4 * 1024 * 1024;
	sharedSize = add_size(BUFFERALIGN(sizeof(BuildShared)), table_parallelscan_estimate(bs->heap, snapshot));
	shm_toc_estimate_chunk(&pcxt->estimator, sharedSize);
	shm_toc_estimate_chunk(&pcxt->estimator, capacity);
	shm_toc_estimate_keys(&pcxt->estimator, 2);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}

	shared = shm_toc_allocate(pcxt->toc, sharedSize);
	shared->heaprelid = RelationGetRelid(bs->heap);
	shared->indexrelid = RelationGetRelid(bs->index);
	shared->isconcurrent = bs->indexInfo->ii_Concurrent;
	shared->dim = bs->dim;
	shared->trancheId = LWLockNewTrancheId();
	ConditionVariableInit(&shared->workersdonecv);
	init_graph(&shared->graph, capacity, shared->trancheId);
	table_parallelscan_initialize(bs->heap, SharedTableScan(shared), snapshot);
	arena = shm_toc_allocate(pcxt->toc, capacity);
	shm_toc_insert(pcxt->toc, SHARED_KEY_STATE, shared);
	shm_toc_insert(pcxt->toc, SHARED_KEY_ARENA, arena);

	LaunchParallelWorkers(pcxt);
	if (pcxt->nworkers_launched == 0)
	{
		WaitForParallelWorkersToFinish(pcxt);
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}
	ereport(DEBUG1, (errmsg("hnsw build using %d parallel workers", pcxt->nworkers_launched)));

	/* the leader takes part */
	attach_shared(bs, shared, arena);
	participants = pcxt->nworkers_launched + 1;
	parallel_participate(bs, shared);
	WaitForParallelWorkersToAttach(pcxt);
	for (;;)
	{
		int			done;

		SpinLockAcquire(&shared->graph.mutex);
		done = shared->graph.nparticipantsdone;
		SpinLockRelease(&shared->graph.mutex);
		if (done == participants)
			break;
		ConditionVariableSleep(&shared->workersdonecv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
	WaitForParallelWorkersToFinish(pcxt);

	if (!shared->graph.flushed)
		flush_graph(bs);
	*reltuples = shared->graph.reltuples;
	bs->localGraph.indtuples = shared->graph.indtuples;

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	bs->graph = &bs->localGraph;
	bs->arena = NULL;
	bs->parallel = false;
	return true;
}

/* Build the graph in this process alone. */
static double
build_serial(BuildState *bs)
{
	double		reltuples;

	init_graph(&bs->localGraph, arena_capacity(), 0);
	bs->graph = &bs->localGraph;
	bs->arena = MemoryContextAllocExtended(CurrentMemoryContext, bs->graph->capacity, MCXT_ALLOC_HUGE);
	if (bs->dim > 0)
		init_visited(bs);
	reltuples = scan_heap(bs, NULL);
	if (!bs->graph->flushed)
		flush_graph(bs);
	pfree(bs->arena);
	bs->arena = NULL;
	return reltuples;
}

/* Create block 0 of forkNum with an empty meta page (no WAL yet). */
static void
create_metapage(BuildState *bs)
{
	Buffer		buf = embed_hnsw_new_buffer(bs->index, bs->forkNum);

	if (BufferGetBlockNumber(buf) != EMBED_HNSW_METAPAGE_BLKNO)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(bs->index));
	embed_hnsw_fill_metapage(BufferGetPage(buf), bs->dim, bs->m, bs->efConstruction);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* ambuild: build the graph over all heap tuples. */
IndexBuildResult *
embed_hnsw_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	BuildState	bs;
	double		reltuples = 0;
	int			workers;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	init_build_state(&bs, heap, index, indexInfo, MAIN_FORKNUM, 0);
	bs.progress = true;
	bs.dim = declared_dimensions(index);
	if (bs.dim > 0)
		set_dimensions(&bs, bs.dim);
	create_metapage(&bs);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, EMBED_HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
									 (int64) heap->rd_rel->reltuples);

	workers = parallel_workers(&bs);
	if (workers == 0 || !build_parallel(&bs, workers, &reltuples))
		reltuples = build_serial(&bs);
	MemoryContextDelete(bs.tmpCtx);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.localGraph.indtuples;
	return result;
}

/* ambuildempty: the init fork of an unlogged index (just a meta page, WAL-logged). */
void
embed_hnsw_buildempty(Relation index)
{
	BuildState	bs;
	Buffer		buf;

	init_build_state(&bs, NULL, index, NULL, INIT_FORKNUM, 0);
	bs.dim = declared_dimensions(index);
	buf = embed_hnsw_new_buffer(index, INIT_FORKNUM);
	START_CRIT_SECTION();
	embed_hnsw_fill_metapage(BufferGetPage(buf), bs.dim, bs.m, bs.efConstruction);
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
	MemoryContextDelete(bs.tmpCtx);
}
