/*
 * hnswutils.c: shared pieces of the hnsw access method: distances, pages,
 * tuple access with corruption checks, heaps, TID sets, the on-disk layer
 * search (HNSW paper, algorithm 2) and the neighbour selection heuristic
 * (algorithm 4).
 *
 * Distances: when support function 1 is one of the vector type's own
 * distance functions, the index calls the C kernels of engine/distance.h
 * directly; any other function is called through fmgr.  For operator
 * classes with a norm support function (cosine) vectors are stored
 * normalised, so the cosine distance is 1 - inner product.
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "access/xact.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "distance.h"
#include "hnsw.h"

/*
 * Map support function 1 to a distance kernel when it is one of the vector
 * type's own C functions, whatever its SQL name; anything else (including
 * a function of another schema with one of their names) goes through fmgr.
 */
static EmbedHnswMetric
metric_for_function(const FmgrInfo *procinfo, bool normalised)
{
	PGFunction	fn = procinfo->fn_addr;

	if (fn == embed_vector_l2_squared_distance || fn == embed_vector_l2_distance)
		return EMBED_HNSW_METRIC_L2;
	if (fn == embed_vector_negative_inner_product)
		return EMBED_HNSW_METRIC_NEG_IP;
	if (normalised && fn == embed_vector_cosine_distance)
		return EMBED_HNSW_METRIC_COSINE;
	if (fn == embed_vector_l1_distance)
		return EMBED_HNSW_METRIC_L1;
	return EMBED_HNSW_METRIC_FMGR;
}

/* Look up the support functions of an index. */
void
embed_hnsw_init_support(EmbedHnswSupport *support, Relation index)
{
	Oid			normproc = index_getprocid(index, 1, EMBED_HNSW_NORM_PROC);

	memset(support, 0, sizeof(*support));
	support->procinfo = index_getprocinfo(index, 1, EMBED_HNSW_DISTANCE_PROC);
	support->normprocinfo = OidIsValid(normproc) ?
		index_getprocinfo(index, 1, EMBED_HNSW_NORM_PROC) : NULL;
	support->collation = index->rd_indcollation[0];
	support->metric = metric_for_function(support->procinfo, support->normprocinfo != NULL);
	support->dim = 0;
}

/* Fix the dimension count; the fmgr path needs operand buffers of that size. */
void
embed_hnsw_support_set_dim(EmbedHnswSupport *support, int dim)
{
	support->dim = dim;
	if (support->metric == EMBED_HNSW_METRIC_FMGR && dim > 0)
	{
		support->scratchA = embed_vector_new(dim);
		support->scratchB = embed_vector_new(dim);
	}
}

/* Distance between two vectors of support->dim floats (smaller is closer). */
float
embed_hnsw_distance(EmbedHnswSupport *support, const float *a, const float *b)
{
	size_t		n = support->dim;

	switch (support->metric)
	{
		case EMBED_HNSW_METRIC_L2:
			return embed_l2_squared_distance(a, b, n);
		case EMBED_HNSW_METRIC_NEG_IP:
			return -embed_inner_product(a, b, n);
		case EMBED_HNSW_METRIC_COSINE:
			return 1.0f - embed_inner_product(a, b, n);
		case EMBED_HNSW_METRIC_L1:
			return embed_l1_distance(a, b, n);
		case EMBED_HNSW_METRIC_FMGR:
			break;
	}
	memcpy(support->scratchA->x, a, sizeof(float) * n);
	memcpy(support->scratchB->x, b, sizeof(float) * n);
	return (float) DatumGetFloat8(FunctionCall2Coll(support->procinfo, support->collation,
													PointerGetDatum(support->scratchA),
													PointerGetDatum(support->scratchB)));
}

/*
 * Copy a vector into out, normalised when the operator class has a norm
 * function.  Returns false for a vector that cannot be indexed (zero norm).
 */
bool
embed_hnsw_prepare_vector(EmbedHnswSupport *support, const EmbedVector *in, float *out)
{
	double		norm;

	memcpy(out, in->x, sizeof(float) * in->dim);
	if (support->normprocinfo == NULL)
		return true;

	if (support->metric == EMBED_HNSW_METRIC_COSINE)
		norm = sqrt(embed_squared_norm(in->x, in->dim));
	else
		norm = DatumGetFloat8(FunctionCall1Coll(support->normprocinfo, support->collation,
												PointerGetDatum(in)));
	if (!(norm > 0) || isinf(norm))
		return false;
	for (int i = 0; i < in->dim; i++)
		out[i] = (float) (out[i] / norm);
	return true;
}

/* Highest level whose neighbour tuple still fits on a page. */
int
embed_hnsw_max_level(int m)
{
	int			slots = (EMBED_HNSW_PAGE_CAPACITY - sizeof(ItemIdData) -
						 offsetof(EmbedHnswNeighborTupleData, indextids)) /
		sizeof(ItemPointerData);

	return Min(slots / m - 2, EMBED_HNSW_LEVEL_CAP);
}

/*
 * Draw a level with probability exp(-level * ln(m)) (HNSW paper, mL =
 * 1/ln m).  CREATE INDEX passes its own generator with a fixed seed, so
 * the same rows always give the same graph.
 */
int
embed_hnsw_random_level(int m, pg_prng_state *prng)
{
	double		ml = 1.0 / log(m);
	double		u = 1.0 - pg_prng_double(prng ? prng : &pg_global_prng_state); /* (0, 1] */
	double		level = floor(-log(u) * ml);

	return (int) Min(level, (double) embed_hnsw_max_level(m));
}

/* Initialise an hnsw page. */
void
embed_hnsw_init_page(Page page)
{
	EmbedHnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(EmbedHnswPageOpaqueData));
	opaque = EmbedHnswPageGetOpaque(page);
	opaque->page_id = EMBED_HNSW_PAGE_ID;
}

/*
 * Extend the index by one page; returns it exclusively locked and still
 * empty.  Inserts look for space on every page up to the end of the index,
 * so another backend can lock a page between its extension and our lock
 * and fill it: then we extend again.  The new page's lock is only tried
 * under the extension lock, never waited for, since whoever holds it may
 * be waiting for the extension lock itself.
 */
Buffer
embed_hnsw_new_buffer(Relation index, ForkNumber forkNum)
{
	/* parallel build workers do not see the index as local */
	bool		needLock = !RELATION_IS_LOCAL(index) || IsInParallelMode();

	for (;;)
	{
		Buffer		buf;
		bool		locked;

		if (needLock)
			LockRelationForExtension(index, ExclusiveLock);
		buf = ReadBufferExtended(index, forkNum, P_NEW, RBM_NORMAL, NULL);
		locked = ConditionalLockBuffer(buf);
		if (needLock)
			UnlockRelationForExtension(index, ExclusiveLock);
		if (locked && PageIsNew(BufferGetPage(buf)))
			return buf;
		if (locked)
			UnlockReleaseBuffer(buf);
		else
			ReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Initialise the meta page of an empty graph. */
void
embed_hnsw_fill_metapage(Page page, int dimensions, int m, int efConstruction)
{
	EmbedHnswMetaPage meta;

	embed_hnsw_init_page(page);
	meta = EmbedHnswPageGetMeta(page);
	meta->magicNumber = EMBED_HNSW_MAGIC;
	meta->version = EMBED_HNSW_VERSION;
	meta->dimensions = dimensions;
	meta->m = m;
	meta->efConstruction = efConstruction;
	meta->entryBlkno = InvalidBlockNumber;
	meta->entryOffno = InvalidOffsetNumber;
	meta->entryLevel = -1;
	meta->insertPage = EMBED_HNSW_HEAD_BLKNO;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(EmbedHnswMetaPageData)) - (char *) page;
}

/* Raise index_corrupted unless the page is an hnsw page (new pages pass). */
void
embed_hnsw_check_page(Relation index, Page page, BlockNumber blkno)
{
	if (PageIsNew(page))
		return;
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(EmbedHnswPageOpaqueData)) ||
		EmbedHnswPageGetOpaque(page)->page_id != EMBED_HNSW_PAGE_ID)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains unexpected page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
}

/* Raise index_corrupted unless the meta page is valid. */
void
embed_hnsw_check_meta(Relation index, EmbedHnswMetaPage meta)
{
	if (meta->magicNumber != EMBED_HNSW_MAGIC || meta->version != EMBED_HNSW_VERSION ||
		meta->m < EMBED_HNSW_MIN_M || meta->m > EMBED_HNSW_MAX_M ||
		meta->dimensions > EMBED_HNSW_MAX_DIM || meta->entryLevel > EMBED_HNSW_LEVEL_CAP ||
		meta->entryLevel < -1 ||
		(meta->entryBlkno != InvalidBlockNumber &&
		 (meta->entryBlkno == EMBED_HNSW_METAPAGE_BLKNO || meta->entryOffno == InvalidOffsetNumber)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has an invalid meta page", RelationGetRelationName(index)),
				 errhint("Please REINDEX it.")));
}

/* Copy the meta page. */
void
embed_hnsw_read_meta(Relation index, EmbedHnswMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, EMBED_HNSW_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	embed_hnsw_check_page(index, page, EMBED_HNSW_METAPAGE_BLKNO);
	if (PageIsNew(page))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has no meta page", RelationGetRelationName(index)),
				 errhint("Please REINDEX it.")));
	*meta = *EmbedHnswPageGetMeta(page);
	UnlockReleaseBuffer(buf);
	embed_hnsw_check_meta(index, meta);
}

/* Raise an error on a corrupt item reference. */
static void
report_bad_item(Relation index, BlockNumber blkno, OffsetNumber offno, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" has no valid %s tuple at (%u,%u)",
					RelationGetRelationName(index), what, blkno, offno),
			 errhint("Please REINDEX it.")));
}

/* The element tuple at (blkno, offno) of a locked page, validated. */
EmbedHnswElementTuple
embed_hnsw_get_element(Relation index, Page page, BlockNumber blkno, OffsetNumber offno)
{
	ItemId		itemid;
	EmbedHnswElementTuple etup;

	if (PageIsNew(page) || offno < FirstOffsetNumber || offno > PageGetMaxOffsetNumber(page))
		report_bad_item(index, blkno, offno, "element");
	itemid = PageGetItemId(page, offno);
	if (!ItemIdIsNormal(itemid) ||
		ItemIdGetLength(itemid) < offsetof(EmbedHnswElementTupleData, x))
		report_bad_item(index, blkno, offno, "element");
	etup = (EmbedHnswElementTuple) PageGetItem(page, itemid);
	if (etup->type != EMBED_HNSW_ELEMENT_TUPLE || etup->level > EMBED_HNSW_LEVEL_CAP ||
		ItemIdGetLength(itemid) != EMBED_HNSW_ELEMENT_TUPLE_SIZE(etup->dim) ||
		!ItemPointerIsValid(&etup->neighbortid) ||
		etup->deleted > 1 || (etup->deleted == 1) == ItemPointerIsValid(&etup->heaptid))
		report_bad_item(index, blkno, offno, "element");
	return etup;
}

/* The neighbour tuple at (blkno, offno) of a locked page, validated for level and m. */
EmbedHnswNeighborTuple
embed_hnsw_get_neighbors(Relation index, Page page, BlockNumber blkno, OffsetNumber offno,
						 int level, int m)
{
	ItemId		itemid;
	EmbedHnswNeighborTuple ntup;

	if (PageIsNew(page) || offno < FirstOffsetNumber || offno > PageGetMaxOffsetNumber(page))
		report_bad_item(index, blkno, offno, "neighbor");
	itemid = PageGetItemId(page, offno);
	if (!ItemIdIsNormal(itemid) ||
		ItemIdGetLength(itemid) != EMBED_HNSW_NEIGHBOR_TUPLE_SIZE(level, m))
		report_bad_item(index, blkno, offno, "neighbor");
	ntup = (EmbedHnswNeighborTuple) PageGetItem(page, itemid);
	if (ntup->type != EMBED_HNSW_NEIGHBOR_TUPLE ||
		ntup->count != EMBED_HNSW_NEIGHBOR_COUNT(level, m))
		report_bad_item(index, blkno, offno, "neighbor");
	return ntup;
}

/* Raise 22000 when a vector does not have the index's dimension count. */
void
embed_hnsw_check_dims(Relation index, int expected, int actual)
{
	if (expected != actual)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", expected, actual),
				 errdetail("Index \"%s\" holds vectors of %d dimensions.",
						   RelationGetRelationName(index), expected)));
}

/* Read the element at tid and score it against the search query. */
bool
embed_hnsw_load_candidate(EmbedHnswSearch *search, ItemPointer tid, EmbedHnswCandidate *out)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber offno = ItemPointerGetOffsetNumber(tid);
	Buffer		buf = ReadBuffer(search->index, blkno);
	Page		page;
	EmbedHnswElementTuple etup;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	etup = embed_hnsw_get_element(search->index, page, blkno, offno);
	if (etup->dim != search->support->dim)
		report_bad_item(search->index, blkno, offno, "element");
	out->tid = *tid;
	out->heaptid = etup->heaptid;
	out->neighbortid = etup->neighbortid;
	out->level = etup->level;
	out->distance = embed_hnsw_distance(search->support, search->query, etup->x);
	UnlockReleaseBuffer(buf);
	return ItemPointerIsValid(&out->heaptid);
}

/* A palloc'd copy of the vector of the element at tid. */
float *
embed_hnsw_load_vector(Relation index, ItemPointer tid, int dim)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber offno = ItemPointerGetOffsetNumber(tid);
	Buffer		buf = ReadBuffer(index, blkno);
	EmbedHnswElementTuple etup;
	float	   *vec = palloc(sizeof(float) * dim);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	etup = embed_hnsw_get_element(index, BufferGetPage(buf), blkno, offno);
	if (etup->dim != dim)
		report_bad_item(index, blkno, offno, "element");
	memcpy(vec, etup->x, sizeof(float) * dim);
	UnlockReleaseBuffer(buf);
	return vec;
}

/* Copy the valid neighbour TIDs of an element on layer lc; returns how many. */
int
embed_hnsw_load_layer(Relation index, EmbedHnswCandidate *element, int m, int lc,
					  ItemPointerData *tids)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(&element->neighbortid);
	OffsetNumber offno = ItemPointerGetOffsetNumber(&element->neighbortid);
	Buffer		buf;
	EmbedHnswNeighborTuple ntup;
	int			start = EmbedHnswLayerStart(m, lc);
	int			max = EmbedHnswLayerMax(m, lc);
	int			n = 0;

	if (lc > element->level)
		return 0;
	buf = ReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	ntup = embed_hnsw_get_neighbors(index, BufferGetPage(buf), blkno, offno, element->level, m);
	for (int i = 0; i < max; i++)
	{
		if (ItemPointerIsValid(&ntup->indextids[start + i]))
			tids[n++] = ntup->indextids[start + i];
	}
	UnlockReleaseBuffer(buf);
	return n;
}

/* Compare candidates by distance, then TID (qsort). */
int
embed_hnsw_candidate_cmp(const void *a, const void *b)
{
	const EmbedHnswCandidate *ca = a;
	const EmbedHnswCandidate *cb = b;

	if (ca->distance < cb->distance)
		return -1;
	if (ca->distance > cb->distance)
		return 1;
	return ItemPointerCompare((ItemPointer) &ca->tid, (ItemPointer) &cb->tid);
}

/* Whether a sorts before b in the heap. */
static inline bool
heap_before(const EmbedHnswHeap *heap, const EmbedHnswCandidate *a, const EmbedHnswCandidate *b)
{
	return heap->maxheap ? a->distance > b->distance : a->distance < b->distance;
}

/* Create an empty heap. */
void
embed_hnsw_heap_init(EmbedHnswHeap *heap, int capacity, bool maxheap)
{
	heap->capacity = Max(capacity, 8);
	heap->items = palloc(sizeof(EmbedHnswCandidate) * heap->capacity);
	heap->size = 0;
	heap->maxheap = maxheap;
}

/* Add a candidate. */
void
embed_hnsw_heap_push(EmbedHnswHeap *heap, const EmbedHnswCandidate *c)
{
	int			i;

	if (heap->size == heap->capacity)
	{
		if (heap->capacity > (int) (MaxAllocSize / sizeof(EmbedHnswCandidate) / 2))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("hnsw search queue too large")));
		heap->capacity *= 2;
		heap->items = repalloc(heap->items, sizeof(EmbedHnswCandidate) * heap->capacity);
	}
	i = heap->size++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!heap_before(heap, c, &heap->items[parent]))
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = *c;
}

/* Remove and return the top candidate (the heap must not be empty). */
EmbedHnswCandidate
embed_hnsw_heap_pop(EmbedHnswHeap *heap)
{
	EmbedHnswCandidate top = heap->items[0];
	EmbedHnswCandidate last = heap->items[--heap->size];
	int			i = 0;

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= heap->size)
			break;
		if (child + 1 < heap->size && heap_before(heap, &heap->items[child + 1], &heap->items[child]))
			child++;
		if (!heap_before(heap, &heap->items[child], &last))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	if (heap->size > 0)
		heap->items[i] = last;
	return top;
}

/* Key of a TID in a TID set (never 0 for a valid TID). */
static inline uint64
tid_key(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

/* Slot hash of a key. */
static inline uint32
tid_hash(uint64 key)
{
	key ^= key >> 33;
	key *= UINT64CONST(0xff51afd7ed558ccd);
	key ^= key >> 33;
	return (uint32) key;
}

/* Create an empty TID set sized for about expected members. */
void
embed_hnsw_tidset_init(EmbedHnswTidSet *set, uint32 expected)
{
	uint32		size = 64;

	while (size < expected * 2 && size < (1U << 30))
		size <<= 1;
	set->keys = palloc_extended(sizeof(uint64) * size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	set->mask = size - 1;
	set->count = 0;
}

/* Double the table. */
static void
tidset_grow(EmbedHnswTidSet *set)
{
	uint64	   *old = set->keys;
	uint32		oldsize = set->mask + 1;
	uint32		size = oldsize * 2;

	if (size == 0 || size > (1U << 31))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hnsw TID set too large")));
	set->keys = palloc_extended(sizeof(uint64) * size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	set->mask = size - 1;
	for (uint32 i = 0; i < oldsize; i++)
	{
		uint32		h;

		if (old[i] == 0)
			continue;
		h = tid_hash(old[i]) & set->mask;
		while (set->keys[h] != 0)
			h = (h + 1) & set->mask;
		set->keys[h] = old[i];
	}
	pfree(old);
}

/* Add a TID; returns false when it was already present. */
bool
embed_hnsw_tidset_add(EmbedHnswTidSet *set, ItemPointer tid)
{
	uint64		key = tid_key(tid);
	uint32		h;

	if ((set->count + 1) * 2 > set->mask + 1)
		tidset_grow(set);
	h = tid_hash(key) & set->mask;
	while (set->keys[h] != 0)
	{
		if (set->keys[h] == key)
			return false;
		h = (h + 1) & set->mask;
	}
	set->keys[h] = key;
	set->count++;
	return true;
}

/* Whether a TID is in the set. */
bool
embed_hnsw_tidset_contains(const EmbedHnswTidSet *set, ItemPointer tid)
{
	uint64		key = tid_key(tid);
	uint32		h = tid_hash(key) & set->mask;

	while (set->keys[h] != 0)
	{
		if (set->keys[h] == key)
			return true;
		h = (h + 1) & set->mask;
	}
	return false;
}

/* Prepare a search for query. */
void
embed_hnsw_search_init(EmbedHnswSearch *search, Relation index, EmbedHnswSupport *support,
					   const float *query, int m, bool keepDiscarded)
{
	memset(search, 0, sizeof(*search));
	search->index = index;
	search->support = support;
	search->query = query;
	search->m = m;
	search->keepDiscarded = keepDiscarded;
	embed_hnsw_tidset_init(&search->visited, 1024);
	if (keepDiscarded)
		embed_hnsw_heap_init(&search->discarded, 256, false);
	ItemPointerSetInvalid(&search->self);
}

/* Whether a search may return this element (tombstones are only walked through). */
static inline bool
selectable(EmbedHnswSearch *search, EmbedHnswCandidate *c)
{
	if (!ItemPointerIsValid(&c->heaptid))
		return false;
	if (ItemPointerEquals(&c->tid, &search->self))
		return false;
	if (search->excluded && embed_hnsw_tidset_contains(search->excluded, &c->tid))
		return false;
	return true;
}

/* Keep c in the result heap w of at most ef members; evictions go to discarded. */
static void
offer_result(EmbedHnswSearch *search, EmbedHnswHeap *w, EmbedHnswCandidate *c, int ef, int lc)
{
	embed_hnsw_heap_push(w, c);
	if (w->size > ef)
	{
		EmbedHnswCandidate worst = embed_hnsw_heap_pop(w);

		if (search->keepDiscarded && lc == 0)
			embed_hnsw_heap_push(&search->discarded, &worst);
	}
}

/*
 * Search layer lc from the entries (already visited and scored) and return
 * up to ef closest selectable elements in *result, nearest first.
 */
int
embed_hnsw_search_layer(EmbedHnswSearch *search, EmbedHnswCandidate *entries, int nentries,
						int ef, int lc, EmbedHnswTidSet *visited, EmbedHnswCandidate **result)
{
	EmbedHnswHeap c;
	EmbedHnswHeap w;
	ItemPointerData *tids = palloc(sizeof(ItemPointerData) * EmbedHnswLayerMax(search->m, lc));
	int			n;

	embed_hnsw_heap_init(&c, ef * 2, false);
	embed_hnsw_heap_init(&w, ef + 1, true);
	for (int i = 0; i < nentries; i++)
	{
		embed_hnsw_heap_push(&c, &entries[i]);
		if (selectable(search, &entries[i]))
			offer_result(search, &w, &entries[i], ef, lc);
	}

	while (c.size > 0)
	{
		EmbedHnswCandidate cur = embed_hnsw_heap_pop(&c);
		int			ntids;

		if (w.size >= ef && cur.distance > w.items[0].distance)
			break;

		CHECK_FOR_INTERRUPTS();
		ntids = embed_hnsw_load_layer(search->index, &cur, search->m, lc, tids);
		for (int i = 0; i < ntids; i++)
		{
			EmbedHnswCandidate e;
			bool		closer;

			if (!embed_hnsw_tidset_add(visited, &tids[i]))
				continue;
			embed_hnsw_load_candidate(search, &tids[i], &e);
			if (lc == 0)
				search->tuples++;
			closer = w.size < ef || e.distance < w.items[0].distance;
			if (closer)
				embed_hnsw_heap_push(&c, &e);
			if (closer && selectable(search, &e))
				offer_result(search, &w, &e, ef, lc);
			else if (search->keepDiscarded && lc == 0 && selectable(search, &e))
				embed_hnsw_heap_push(&search->discarded, &e);
		}
	}

	n = w.size;
	*result = palloc(sizeof(EmbedHnswCandidate) * Max(n, 1));
	for (int i = n - 1; i >= 0; i--)
		(*result)[i] = embed_hnsw_heap_pop(&w);
	pfree(c.items);
	pfree(w.items);
	pfree(tids);
	return n;
}

/*
 * Find neighbour candidates for a new (or repaired) element of the given
 * level: greedy descent from the entry point, then ef_construction-wide
 * searches on layers min(level, entryLevel)..0.  layers[lc] receives the
 * counts[lc] candidates of layer lc, nearest first; returns the highest
 * layer searched.
 */
int
embed_hnsw_find_neighbors(EmbedHnswSearch *search, EmbedHnswCandidate *entry, int entryLevel,
						  int level, int efConstruction, EmbedHnswCandidate **layers, int *counts)
{
	EmbedHnswCandidate *ep = entry;
	int			nep = 1;
	int			top = Min(level, entryLevel);

	for (int lc = entryLevel; lc > level; lc--)
	{
		EmbedHnswTidSet visited;
		EmbedHnswCandidate *w;
		int			n;

		embed_hnsw_tidset_init(&visited, 64);
		for (int i = 0; i < nep; i++)
			embed_hnsw_tidset_add(&visited, &ep[i].tid);
		n = embed_hnsw_search_layer(search, ep, nep, 1, lc, &visited, &w);
		if (n > 0)
		{
			ep = w;
			nep = n;
		}
	}

	for (int lc = top; lc >= 0; lc--)
	{
		EmbedHnswTidSet visited;
		EmbedHnswCandidate *w;
		int			n;

		embed_hnsw_tidset_init(&visited, efConstruction * 8);
		for (int i = 0; i < nep; i++)
			embed_hnsw_tidset_add(&visited, &ep[i].tid);
		n = embed_hnsw_search_layer(search, ep, nep, efConstruction, lc, &visited, &w);
		layers[lc] = w;
		counts[lc] = n;
		if (n > 0)
		{
			ep = w;
			nep = n;
		}
	}
	return top;
}

/*
 * HNSW heuristic neighbour selection: walk the choices nearest first and
 * keep one only if it is closer to the base element than to every choice
 * kept so far.  choices must be sorted by distance; returns the number
 * kept and flags them in selected.
 */
int
embed_hnsw_select_neighbors(EmbedHnswSupport *support, EmbedHnswNeighborChoice *choices,
							int nchoices, int max, bool *selected)
{
	int		   *kept = palloc(sizeof(int) * Max(max, 1));
	int			nkept = 0;

	for (int i = 0; i < nchoices; i++)
		selected[i] = false;
	for (int i = 0; i < nchoices && nkept < max; i++)
	{
		bool		good = true;

		for (int j = 0; j < nkept; j++)
		{
			if (embed_hnsw_distance(support, choices[i].vec, choices[kept[j]].vec) < choices[i].distance)
			{
				good = false;
				break;
			}
		}
		if (good)
		{
			selected[i] = true;
			kept[nkept++] = i;
		}
	}
	pfree(kept);
	return nkept;
}
