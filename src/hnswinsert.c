/*
 * hnswinsert.c: inserting one vector into the on-disk graph (HNSW paper,
 * algorithm 1).
 *
 * The new element's neighbours are found first, reading pages only; then
 * the element and its neighbour tuple are written in one WAL record; then
 * the entry point is moved if the element is the new highest one; last,
 * every neighbour gets a link back to the new element, one page at a time.
 * A neighbour whose list is full keeps the heuristic's choice among its old
 * neighbours and the new element.  Concurrent changes to the same list are
 * detected by comparing it with what was read, and the update is redone.
 *
 * CREATE INDEX also uses this path (building = true) once the in-memory
 * graph outgrows maintenance_work_mem; pages are then changed without WAL
 * and logged in bulk at the end of the build.
 */
#include "postgres.h"

#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

/* Pages changed together in one record (at most MAX_GENERIC_XLOG_PAGES). */
typedef struct PageChange
{
	GenericXLogState *state;	/* NULL while building */
	Buffer		buffers[MAX_GENERIC_XLOG_PAGES];
	int			nbuffers;
} PageChange;

/* Start a change of one or more locked pages. */
static void
change_start(PageChange *change, Relation index, bool building)
{
	change->state = building ? NULL : GenericXLogStart(index);
	change->nbuffers = 0;
}

/* The writable image of a locked buffer within a change. */
static Page
change_page(PageChange *change, Buffer buf, bool fullImage)
{
	change->buffers[change->nbuffers++] = buf;
	if (change->state == NULL)
		return BufferGetPage(buf);
	return GenericXLogRegisterBuffer(change->state, buf, fullImage ? GENERIC_XLOG_FULL_IMAGE : 0);
}

/* Make the change durable (WAL) or just dirty the buffers while building. */
static void
change_finish(PageChange *change)
{
	if (change->state != NULL)
		GenericXLogFinish(change->state);
	else
	{
		for (int i = 0; i < change->nbuffers; i++)
			MarkBufferDirty(change->buffers[i]);
	}
}

/* Drop a change without applying it. */
static void
change_abort(PageChange *change)
{
	if (change->state != NULL)
		GenericXLogAbort(change->state);
}

/* Free space left on a page (an uninitialised page counts as empty). */
static Size
page_free_space(Page page)
{
	if (PageIsNew(page))
		return EMBED_HNSW_PAGE_CAPACITY;
	return PageGetExactFreeSpace(page);
}

/*
 * Lock the first page from start on with at least need bytes free, or a
 * new page.  With conditional set, pages locked by others are skipped and
 * skip is never returned.
 */
static Buffer
lock_page_with_space(Relation index, BlockNumber start, Size need, bool conditional,
					 BlockNumber skip, ForkNumber forkNum)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	for (BlockNumber blkno = Max(start, EMBED_HNSW_HEAD_BLKNO); blkno < nblocks; blkno++)
	{
		Buffer		buf;

		if (blkno == skip)
			continue;
		buf = ReadBuffer(index, blkno);
		if (conditional)
		{
			if (!ConditionalLockBuffer(buf))
			{
				ReleaseBuffer(buf);
				continue;
			}
		}
		else
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		embed_hnsw_check_page(index, BufferGetPage(buf), blkno);
		if (page_free_space(BufferGetPage(buf)) >= need)
			return buf;
		UnlockReleaseBuffer(buf);
	}
	return embed_hnsw_new_buffer(index, forkNum);
}

/* Add a tuple at the expected offset or fail loudly. */
static void
add_tuple(Relation index, Page page, void *tuple, Size size, OffsetNumber expected)
{
	if (PageAddItem(page, (Item) tuple, size, InvalidOffsetNumber, false, false) != expected)
		elog(ERROR, "failed to add tuple to index \"%s\"", RelationGetRelationName(index));
}

/* Initialise a page image when it is brand new. */
static void
init_if_new(Page page)
{
	if (PageIsNew(page))
		embed_hnsw_init_page(page);
}

/* Next offset a tuple added to page would get. */
static OffsetNumber
next_offset(Page page)
{
	return PageIsNew(page) ? FirstOffsetNumber : OffsetNumberNext(PageGetMaxOffsetNumber(page));
}

/* Move the meta page's insert hint forward to blkno. */
static void
advance_insert_page(Relation index, BlockNumber blkno, bool building)
{
	Buffer		buf = ReadBuffer(index, EMBED_HNSW_METAPAGE_BLKNO);
	PageChange change;
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (EmbedHnswPageGetMeta(BufferGetPage(buf))->insertPage >= blkno)
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	change_start(&change, index, building);
	page = change_page(&change, buf, false);
	EmbedHnswPageGetMeta(page)->insertPage = blkno;
	change_finish(&change);
	UnlockReleaseBuffer(buf);
}

/*
 * Write an element tuple and its neighbour tuple; returns the element's
 * TID.  Both go on one page when they fit together, else the neighbour
 * tuple goes on another page, changed in the same WAL record.
 */
static void
write_element(Relation index, EmbedHnswElementTuple etup, EmbedHnswNeighborTuple ntup,
			  int level, int m, bool building, ItemPointer elementTid)
{
	EmbedHnswMetaPageData meta;
	Size		esize = EMBED_HNSW_ELEMENT_TUPLE_SIZE(etup->dim);
	Size		nsize = EMBED_HNSW_NEIGHBOR_TUPLE_SIZE(level, m);
	Size		together = esize + nsize + 2 * sizeof(ItemIdData);
	bool		fitsTogether = together <= EMBED_HNSW_PAGE_CAPACITY;
	Buffer		ebuf;
	Buffer		nbuf = InvalidBuffer;
	PageChange	change;
	Page		epage;
	Page		npage;
	OffsetNumber eoff;
	OffsetNumber noff;
	BlockNumber last;

	embed_hnsw_read_meta(index, &meta);
	ebuf = lock_page_with_space(index, meta.insertPage,
								fitsTogether ? together : esize + sizeof(ItemIdData),
								false, InvalidBlockNumber, MAIN_FORKNUM);
	if (!fitsTogether || page_free_space(BufferGetPage(ebuf)) < together)
		nbuf = lock_page_with_space(index, meta.insertPage, nsize + sizeof(ItemIdData),
									true, BufferGetBlockNumber(ebuf), MAIN_FORKNUM);

	change_start(&change, index, building);
	epage = change_page(&change, ebuf, PageIsNew(BufferGetPage(ebuf)));
	init_if_new(epage);
	npage = epage;
	if (BufferIsValid(nbuf))
	{
		npage = change_page(&change, nbuf, PageIsNew(BufferGetPage(nbuf)));
		init_if_new(npage);
	}

	eoff = next_offset(epage);
	noff = BufferIsValid(nbuf) ? next_offset(npage) : OffsetNumberNext(eoff);
	ItemPointerSet(&etup->neighbortid,
				   BufferIsValid(nbuf) ? BufferGetBlockNumber(nbuf) : BufferGetBlockNumber(ebuf),
				   noff);
	add_tuple(index, epage, etup, esize, eoff);
	add_tuple(index, npage, ntup, nsize, noff);
	change_finish(&change);

	ItemPointerSet(elementTid, BufferGetBlockNumber(ebuf), eoff);
	last = BufferGetBlockNumber(ebuf);
	UnlockReleaseBuffer(ebuf);
	if (BufferIsValid(nbuf))
	{
		last = Max(last, BufferGetBlockNumber(nbuf));
		UnlockReleaseBuffer(nbuf);
	}
	if (last != meta.insertPage)
		advance_insert_page(index, last, building);
}

/* Record a new entry point (and the dimension count of a first vector). */
static void
update_entry_point(Relation index, ItemPointer tid, int level, int dim, bool building)
{
	Buffer		buf = ReadBuffer(index, EMBED_HNSW_METAPAGE_BLKNO);
	PageChange	change;
	EmbedHnswMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	change_start(&change, index, building);
	meta = EmbedHnswPageGetMeta(change_page(&change, buf, false));
	if (meta->dimensions == 0)
		meta->dimensions = dim;
	if (meta->entryBlkno == InvalidBlockNumber || level > meta->entryLevel)
	{
		meta->entryBlkno = ItemPointerGetBlockNumber(tid);
		meta->entryOffno = ItemPointerGetOffsetNumber(tid);
		meta->entryLevel = level;
	}
	change_finish(&change);
	UnlockReleaseBuffer(buf);
}

/* Copy the raw slots of layer lc of an element's neighbour tuple. */
static void
read_layer_slots(Relation index, EmbedHnswCandidate *element, int m, int lc, ItemPointerData *slots)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(&element->neighbortid);
	Buffer		buf = ReadBuffer(index, blkno);
	EmbedHnswNeighborTuple ntup;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	ntup = embed_hnsw_get_neighbors(index, BufferGetPage(buf), blkno,
									ItemPointerGetOffsetNumber(&element->neighbortid),
									element->level, m);
	memcpy(slots, &ntup->indextids[EmbedHnswLayerStart(m, lc)],
		   sizeof(ItemPointerData) * EmbedHnswLayerMax(m, lc));
	UnlockReleaseBuffer(buf);
}

/*
 * Replace layer lc of an element's neighbour list with slots, provided it
 * still holds expected.  Returns false when someone changed it meanwhile.
 */
static bool
write_layer_slots(Relation index, EmbedHnswCandidate *element, int m, int lc,
				  ItemPointerData *expected, ItemPointerData *slots, bool building)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(&element->neighbortid);
	OffsetNumber offno = ItemPointerGetOffsetNumber(&element->neighbortid);
	Size		len = sizeof(ItemPointerData) * EmbedHnswLayerMax(m, lc);
	Buffer		buf = ReadBuffer(index, blkno);
	PageChange	change;
	EmbedHnswNeighborTuple ntup;
	bool		unchanged;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	change_start(&change, index, building);
	ntup = embed_hnsw_get_neighbors(index, change_page(&change, buf, false), blkno, offno,
									element->level, m);
	unchanged = expected == NULL ||
		memcmp(&ntup->indextids[EmbedHnswLayerStart(m, lc)], expected, len) == 0;
	if (unchanged)
	{
		memcpy(&ntup->indextids[EmbedHnswLayerStart(m, lc)], slots, len);
		change_finish(&change);
	}
	else
		change_abort(&change);
	UnlockReleaseBuffer(buf);
	return unchanged;
}

/*
 * Compute the new layer-lc list of a full element: the heuristic's choice
 * among its current neighbours and newtid.  Returns false when newtid
 * would not be kept.
 */
static bool
prune_full_layer(Relation index, EmbedHnswSupport *support, int m, int lc,
				 EmbedHnswCandidate *element, ItemPointerData *slots, ItemPointer newtid,
				 const float *newvec, float distance, ItemPointerData *result)
{
	int			max = EmbedHnswLayerMax(m, lc);
	EmbedHnswNeighborChoice *choices = palloc(sizeof(EmbedHnswNeighborChoice) * (max + 1));
	bool	   *selected = palloc(sizeof(bool) * (max + 1));
	float	   *basevec = embed_hnsw_load_vector(index, &element->tid, support->dim);
	int			n = 0;
	int			kept = 0;
	bool		keepsNew = false;

	for (int i = 0; i < max; i++)
	{
		if (!ItemPointerIsValid(&slots[i]))
			continue;
		choices[n].tid = slots[i];
		choices[n].vec = embed_hnsw_load_vector(index, &slots[i], support->dim);
		choices[n].distance = embed_hnsw_distance(support, basevec, choices[n].vec);
		n++;
	}
	choices[n].tid = *newtid;
	choices[n].vec = newvec;
	choices[n].distance = distance;
	n++;

	/* insertion sort: n is small */
	for (int i = 1; i < n; i++)
	{
		EmbedHnswNeighborChoice tmp = choices[i];
		int			j = i - 1;

		while (j >= 0 && choices[j].distance > tmp.distance)
		{
			choices[j + 1] = choices[j];
			j--;
		}
		choices[j + 1] = tmp;
	}

	embed_hnsw_select_neighbors(support, choices, n, max, selected);
	for (int i = 0; i < n; i++)
	{
		if (!selected[i])
			continue;
		result[kept++] = choices[i].tid;
		if (ItemPointerEquals(&choices[i].tid, newtid))
			keepsNew = true;
	}
	for (; kept < max; kept++)
		ItemPointerSetInvalid(&result[kept]);
	return keepsNew;
}

/*
 * Link newtid into the layer-lc list of element: into a free slot if there
 * is one, else by pruning the list.  Retries when raced.
 */
void
embed_hnsw_update_connection(Relation index, EmbedHnswSupport *support, int m,
							 EmbedHnswCandidate *element, ItemPointer newtid, const float *newvec,
							 float distance, int lc, bool building)
{
	int			max = EmbedHnswLayerMax(m, lc);
	ItemPointerData *slots = palloc(sizeof(ItemPointerData) * max);
	ItemPointerData *result = palloc(sizeof(ItemPointerData) * max);

	if (lc > element->level)
		return;
	for (int attempt = 0; attempt < 3; attempt++)
	{
		int			freeSlot = -1;
		bool		present = false;

		read_layer_slots(index, element, m, lc, slots);
		for (int i = 0; i < max; i++)
		{
			if (ItemPointerEquals(&slots[i], newtid))
				present = true;
			else if (freeSlot < 0 && !ItemPointerIsValid(&slots[i]))
				freeSlot = i;
		}
		if (present)
			return;

		if (freeSlot >= 0)
		{
			memcpy(result, slots, sizeof(ItemPointerData) * max);
			result[freeSlot] = *newtid;
		}
		else if (!prune_full_layer(index, support, m, lc, element, slots, newtid, newvec,
								   distance, result))
			return;

		if (write_layer_slots(index, element, m, lc, slots, result, building))
			return;
	}
}

/* Neighbour slots of a new element from the selected candidates of each layer. */
static EmbedHnswNeighborTuple
form_neighbor_tuple(int level, int m, EmbedHnswCandidate **layers, bool **selected, int *counts)
{
	Size		size = EMBED_HNSW_NEIGHBOR_TUPLE_SIZE(level, m);
	EmbedHnswNeighborTuple ntup = palloc0(size);

	ntup->type = EMBED_HNSW_NEIGHBOR_TUPLE;
	ntup->count = EMBED_HNSW_NEIGHBOR_COUNT(level, m);
	for (int i = 0; i < ntup->count; i++)
		ItemPointerSetInvalid(&ntup->indextids[i]);
	for (int lc = 0; lc <= level; lc++)
	{
		int			slot = EmbedHnswLayerStart(m, lc);

		for (int i = 0; i < counts[lc]; i++)
		{
			if (selected[lc][i])
				ntup->indextids[slot++] = layers[lc][i].tid;
		}
	}
	return ntup;
}

/* Pick the neighbours of each layer among the search candidates. */
static void
select_layers(Relation index, EmbedHnswSupport *support, int m, int top,
			  EmbedHnswCandidate **layers, int *counts, bool **selected)
{
	for (int lc = 0; lc <= top; lc++)
	{
		EmbedHnswNeighborChoice *choices = palloc(sizeof(EmbedHnswNeighborChoice) * Max(counts[lc], 1));

		for (int i = 0; i < counts[lc]; i++)
		{
			choices[i].tid = layers[lc][i].tid;
			choices[i].distance = layers[lc][i].distance;
			choices[i].vec = embed_hnsw_load_vector(index, &layers[lc][i].tid, support->dim);
		}
		selected[lc] = palloc(sizeof(bool) * Max(counts[lc], 1));
		embed_hnsw_select_neighbors(support, choices, counts[lc], EmbedHnswLayerMax(m, lc),
									selected[lc]);
	}
}

/* Insert one vector with its heap TID into the on-disk graph. */
void
embed_hnsw_insert_vector(Relation index, EmbedHnswSupport *support, const EmbedVector *value,
						 ItemPointer heaptid, bool building)
{
	EmbedHnswMetaPageData meta;
	LOCKMODE	lockmode = ShareLock;
	int			dim = value->dim;
	int			level;
	int			m;
	Size		esize;
	EmbedHnswElementTuple etup;
	EmbedHnswNeighborTuple ntup;
	EmbedHnswCandidate *layers[EMBED_HNSW_LEVEL_CAP + 1];
	int			counts[EMBED_HNSW_LEVEL_CAP + 1];
	bool	   *selected[EMBED_HNSW_LEVEL_CAP + 1];
	ItemPointerData tid;
	int			top = -1;
	bool		hasEntry;

	if (dim > EMBED_HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector with %d dimensions cannot be indexed by hnsw", dim),
				 errdetail("An hnsw index holds vectors of at most %d dimensions.", EMBED_HNSW_MAX_DIM)));
	embed_hnsw_read_meta(index, &meta);
	if (meta.dimensions != 0)
		embed_hnsw_check_dims(index, meta.dimensions, dim);
	m = meta.m;
	if (support->dim == 0)
		embed_hnsw_support_set_dim(support, dim);

	esize = EMBED_HNSW_ELEMENT_TUPLE_SIZE(dim);
	etup = palloc0(esize);
	etup->type = EMBED_HNSW_ELEMENT_TUPLE;
	etup->heaptid = *heaptid;
	etup->dim = dim;
	if (!embed_hnsw_prepare_vector(support, value, etup->x))
		return;					/* zero vector under cosine: not indexed */
	level = embed_hnsw_random_level(m, NULL);
	etup->level = level;

	LockPage(index, EMBED_HNSW_UPDATE_LOCK, lockmode);
	embed_hnsw_read_meta(index, &meta);
	if (meta.entryBlkno == InvalidBlockNumber || level > meta.entryLevel || meta.dimensions == 0)
	{
		UnlockPage(index, EMBED_HNSW_UPDATE_LOCK, lockmode);
		lockmode = ExclusiveLock;
		LockPage(index, EMBED_HNSW_UPDATE_LOCK, lockmode);
		embed_hnsw_read_meta(index, &meta);
	}
	if (meta.dimensions != 0)
		embed_hnsw_check_dims(index, meta.dimensions, dim);
	hasEntry = meta.entryBlkno != InvalidBlockNumber;

	if (hasEntry)
	{
		EmbedHnswSearch search;
		EmbedHnswCandidate entry;
		ItemPointerData entryTid;

		ItemPointerSet(&entryTid, meta.entryBlkno, meta.entryOffno);
		embed_hnsw_search_init(&search, index, support, etup->x, m, false);
		embed_hnsw_load_candidate(&search, &entryTid, &entry);
		top = embed_hnsw_find_neighbors(&search, &entry, meta.entryLevel, level,
										meta.efConstruction, layers, counts);
		select_layers(index, support, m, top, layers, counts, selected);
	}
	for (int lc = top + 1; lc <= level; lc++)
		counts[lc] = 0;

	ntup = form_neighbor_tuple(level, m, layers, selected, counts);
	write_element(index, etup, ntup, level, m, building, &tid);

	if (!hasEntry || level > meta.entryLevel || meta.dimensions == 0)
		update_entry_point(index, &tid, level, dim, building);

	for (int lc = 0; lc <= top; lc++)
	{
		for (int i = 0; i < counts[lc]; i++)
		{
			if (selected[lc][i])
				embed_hnsw_update_connection(index, support, m, &layers[lc][i], &tid, etup->x,
											 layers[lc][i].distance, lc, building);
		}
	}

	UnlockPage(index, EMBED_HNSW_UPDATE_LOCK, lockmode);
}

/* aminsert: index one heap tuple. */
bool
embed_hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
				  Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
				  IndexInfo *indexInfo)
{
	MemoryContext ctx;
	MemoryContext oldCtx;
	EmbedHnswSupport support;

	if (isnull[0])
		return false;

	ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert", ALLOCSET_DEFAULT_SIZES);
	oldCtx = MemoryContextSwitchTo(ctx);
	embed_hnsw_init_support(&support, index);
	embed_hnsw_insert_vector(index, &support, DatumGetEmbedVector(values[0]), heap_tid, false);
	MemoryContextSwitchTo(oldCtx);
	MemoryContextDelete(ctx);
	return false;
}
