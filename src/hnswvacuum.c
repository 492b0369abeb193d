/*
 * hnswvacuum.c: VACUUM for hnsw.
 *
 * Three passes over the index:
 *   1. collect the elements whose heap tuple is dead (and the tombstones
 *      left by earlier runs), and remember the highest live element;
 *   2. repair the graph: if the entry point died, link up the highest live
 *      element and make it the entry point (if pass 1 saw none alive, the
 *      highest element inserted since VACUUM began, so that a graph whose
 *      old elements all died still reaches the new ones); then every live
 *      element with a neighbour in the dead set gets fresh neighbours from
 *      a search that walks through dead elements but never selects them,
 *      and the new neighbours get a link back;
 *   3. mark the dead elements as tombstones (deleted, heap TID cleared).
 * Passes 2 and 3 read a dead element's vector and links until the end, so
 * concurrent searches and inserts keep working throughout.
 */
#include "postgres.h"

#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

typedef struct VacuumState
{
	Relation	index;
	BufferAccessStrategy strategy;
	IndexBulkDeleteResult *stats;
	IndexBulkDeleteCallback callback;
	void	   *callbackState;
	EmbedHnswSupport support;
	EmbedHnswMetaPageData meta;
	EmbedHnswTidSet dead;		/* dying elements and old tombstones */
	ItemPointerData *dying;		/* elements to mark in pass 3, in TID order */
	int			ndying;
	int			dyingCap;
	EmbedHnswCandidate highest; /* highest live element */
	bool		hasHighest;
	BlockNumber insertStart;	/* inserts during VACUUM write from here on */
	MemoryContext tmpCtx;
} VacuumState;

/* Read a page with the vacuum strategy and lock it. */
static Buffer
vacuum_read(VacuumState *vs, BlockNumber blkno, int mode)
{
	Buffer		buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->strategy);

	LockBuffer(buf, mode);
	embed_hnsw_check_page(vs->index, BufferGetPage(buf), blkno);
	return buf;
}

/* The element tuple at off of a locked page, validated; NULL for other tuples. */
static EmbedHnswElementTuple
page_element(VacuumState *vs, Page page, BlockNumber blkno, OffsetNumber off)
{
	ItemId		itemid = PageGetItemId(page, off);

	if (!ItemIdIsNormal(itemid) ||
		((EmbedHnswElementTuple) PageGetItem(page, itemid))->type != EMBED_HNSW_ELEMENT_TUPLE)
		return NULL;
	return embed_hnsw_get_element(vs->index, page, blkno, off);
}

/* Fill a candidate from the element tuple at tid. */
static void
set_candidate(EmbedHnswCandidate *c, ItemPointer tid, EmbedHnswElementTuple etup)
{
	c->tid = *tid;
	c->heaptid = etup->heaptid;
	c->neighbortid = etup->neighbortid;
	c->level = etup->level;
}

/*
 * The live elements of a page that are not in the dead set; returns how
 * many were written to elements (room for MaxOffsetNumber).
 */
static int
live_elements(VacuumState *vs, BlockNumber blkno, EmbedHnswCandidate *elements)
{
	Buffer		buf = vacuum_read(vs, blkno, BUFFER_LOCK_SHARE);
	Page		page = BufferGetPage(buf);
	int			n = 0;

	for (OffsetNumber off = FirstOffsetNumber;
		 !PageIsNew(page) && off <= PageGetMaxOffsetNumber(page); off++)
	{
		EmbedHnswElementTuple etup = page_element(vs, page, blkno, off);
		ItemPointerData tid;

		ItemPointerSet(&tid, blkno, off);
		if (etup != NULL && !etup->deleted && !embed_hnsw_tidset_contains(&vs->dead, &tid))
			set_candidate(&elements[n++], &tid, etup);
	}
	UnlockReleaseBuffer(buf);
	return n;
}

/* Remember an element that pass 3 must mark deleted. */
static void
add_dying(VacuumState *vs, ItemPointer tid)
{
	if (vs->ndying == vs->dyingCap)
	{
		vs->dyingCap *= 2;
		vs->dying = repalloc_huge(vs->dying, sizeof(ItemPointerData) * vs->dyingCap);
	}
	vs->dying[vs->ndying++] = *tid;
}

/* Pass 1: find dead elements; count live ones. */
static void
collect_dead(VacuumState *vs)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = EMBED_HNSW_HEAD_BLKNO; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;

		vacuum_delay_point();
		buf = vacuum_read(vs, blkno, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		for (OffsetNumber off = FirstOffsetNumber;
			 !PageIsNew(page) && off <= PageGetMaxOffsetNumber(page); off++)
		{
			EmbedHnswElementTuple etup = page_element(vs, page, blkno, off);
			ItemPointerData tid;

			if (etup == NULL)
				continue;
			ItemPointerSet(&tid, blkno, off);
			if (etup->deleted)
				embed_hnsw_tidset_add(&vs->dead, &tid);
			else if (vs->callback(&etup->heaptid, vs->callbackState))
			{
				embed_hnsw_tidset_add(&vs->dead, &tid);
				add_dying(vs, &tid);
				vs->stats->tuples_removed++;
			}
			else
			{
				vs->stats->num_index_tuples++;
				if (!vs->hasHighest || etup->level > vs->highest.level)
					set_candidate(&vs->highest, &tid, etup);
				vs->hasHighest = true;
			}
		}
		UnlockReleaseBuffer(buf);
	}
}

/* Overwrite an element's whole neighbour tuple (WAL-logged). */
static void
write_neighbors(VacuumState *vs, EmbedHnswCandidate *element, ItemPointerData *slots, int count)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(&element->neighbortid);
	Buffer		buf = vacuum_read(vs, blkno, BUFFER_LOCK_EXCLUSIVE);
	GenericXLogState *state = GenericXLogStart(vs->index);
	Page		page = GenericXLogRegisterBuffer(state, buf, 0);
	EmbedHnswNeighborTuple ntup;

	ntup = embed_hnsw_get_neighbors(vs->index, page, blkno,
									ItemPointerGetOffsetNumber(&element->neighbortid),
									element->level, vs->meta.m);
	memcpy(ntup->indextids, slots, sizeof(ItemPointerData) * count);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Give a live element new neighbours on every layer, chosen among the live
 * elements a search from the entry point finds, and link them back.
 */
static void
repair_element(VacuumState *vs, EmbedHnswCandidate *element, ItemPointer entryTid, int entryLevel)
{
	int			m = vs->meta.m;
	int			count = EMBED_HNSW_NEIGHBOR_COUNT(element->level, m);
	float	   *vec = embed_hnsw_load_vector(vs->index, &element->tid, vs->support.dim);
	ItemPointerData *slots = palloc(sizeof(ItemPointerData) * count);
	EmbedHnswCandidate *layers[EMBED_HNSW_LEVEL_CAP + 1];
	int			counts[EMBED_HNSW_LEVEL_CAP + 1];
	bool	   *selected[EMBED_HNSW_LEVEL_CAP + 1];
	EmbedHnswSearch search;
	EmbedHnswCandidate entry;
	int			top;

	embed_hnsw_search_init(&search, vs->index, &vs->support, vec, m, false);
	search.excluded = &vs->dead;
	search.self = element->tid;
	embed_hnsw_load_candidate(&search, entryTid, &entry);
	top = embed_hnsw_find_neighbors(&search, &entry, entryLevel, element->level,
									vs->meta.efConstruction, layers, counts);

	/* layers above the entry point's keep their live links */
	for (int lc = 0; lc <= element->level; lc++)
	{
		int			start = EmbedHnswLayerStart(m, lc);
		int			max = EmbedHnswLayerMax(m, lc);
		int			n = 0;

		if (lc > top)
		{
			int			kept = 0;

			n = embed_hnsw_load_layer(vs->index, element, m, lc, &slots[start]);
			for (int i = 0; i < n; i++)
			{
				if (!embed_hnsw_tidset_contains(&vs->dead, &slots[start + i]))
					slots[start + kept++] = slots[start + i];
			}
			n = kept;
		}
		else
		{
			EmbedHnswNeighborChoice *choices = palloc(sizeof(EmbedHnswNeighborChoice) * Max(counts[lc], 1));

			selected[lc] = palloc(sizeof(bool) * Max(counts[lc], 1));
			for (int i = 0; i < counts[lc]; i++)
			{
				choices[i].tid = layers[lc][i].tid;
				choices[i].distance = layers[lc][i].distance;
				choices[i].vec = embed_hnsw_load_vector(vs->index, &layers[lc][i].tid, vs->support.dim);
			}
			embed_hnsw_select_neighbors(&vs->support, choices, counts[lc], max, selected[lc]);
			for (int i = 0; i < counts[lc]; i++)
			{
				if (selected[lc][i])
					slots[start + n++] = layers[lc][i].tid;
			}
		}
		for (int i = n; i < max; i++)
			ItemPointerSetInvalid(&slots[start + i]);
	}
	write_neighbors(vs, element, slots, count);

	for (int lc = 0; lc <= top; lc++)
	{
		for (int i = 0; i < counts[lc]; i++)
		{
			if (selected[lc][i])
				embed_hnsw_update_connection(vs->index, &vs->support, m, &layers[lc][i],
											 &element->tid, vec, layers[lc][i].distance, lc, false);
		}
	}
}

/* Whether any neighbour of element is in the dead set. */
static bool
needs_repair(VacuumState *vs, EmbedHnswCandidate *element)
{
	ItemPointerData tids[2 * EMBED_HNSW_MAX_M];

	for (int lc = 0; lc <= element->level; lc++)
	{
		int			n = embed_hnsw_load_layer(vs->index, element, vs->meta.m, lc, tids);

		for (int i = 0; i < n; i++)
		{
			if (embed_hnsw_tidset_contains(&vs->dead, &tids[i]))
				return true;
		}
	}
	return false;
}

/*
 * The highest live element an insert added while this VACUUM ran, if any:
 * it lies on or after the page inserts started from when VACUUM began.
 * The caller holds the update lock exclusively, so no insert is under way.
 */
static bool
find_late_element(VacuumState *vs, EmbedHnswCandidate *late)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	EmbedHnswCandidate *elements = palloc(sizeof(EmbedHnswCandidate) * MaxOffsetNumber);
	bool		found = false;

	for (BlockNumber blkno = Max(vs->insertStart, EMBED_HNSW_HEAD_BLKNO); blkno < nblocks; blkno++)
	{
		int			n = live_elements(vs, blkno, elements);

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < n; i++)
		{
			if (!found || elements[i].level > late->level)
				*late = elements[i];
			found = true;
		}
	}
	pfree(elements);
	return found;
}

/*
 * Set the meta page's entry point under the update lock: to newEntry, or
 * when pass 1 saw no live element, to the highest element inserted since,
 * or else to nothing.
 */
static void
replace_entry_point(VacuumState *vs, ItemPointer oldEntry, EmbedHnswCandidate *newEntry)
{
	Buffer		buf;
	GenericXLogState *state;
	EmbedHnswMetaPage meta;
	EmbedHnswCandidate late;

	LockPage(vs->index, EMBED_HNSW_UPDATE_LOCK, ExclusiveLock);
	if (newEntry == NULL && find_late_element(vs, &late))
		newEntry = &late;
	buf = vacuum_read(vs, EMBED_HNSW_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(vs->index);
	meta = EmbedHnswPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	/* an insert may have installed a new, live entry point meanwhile */
	if (meta->entryBlkno == ItemPointerGetBlockNumber(oldEntry) &&
		meta->entryOffno == ItemPointerGetOffsetNumber(oldEntry))
	{
		if (newEntry != NULL)
		{
			meta->entryBlkno = ItemPointerGetBlockNumber(&newEntry->tid);
			meta->entryOffno = ItemPointerGetOffsetNumber(&newEntry->tid);
			meta->entryLevel = newEntry->level;
		}
		else
		{
			meta->entryBlkno = InvalidBlockNumber;
			meta->entryOffno = InvalidOffsetNumber;
			meta->entryLevel = -1;
		}
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
	UnlockPage(vs->index, EMBED_HNSW_UPDATE_LOCK, ExclusiveLock);
}

/* Pass 2: repair the entry point, then every live element linked to a dead one. */
static void
repair_graph(VacuumState *vs)
{
	BlockNumber nblocks;
	ItemPointerData entryTid;
	EmbedHnswCandidate *elements;

	embed_hnsw_read_meta(vs->index, &vs->meta);
	if (vs->meta.entryBlkno == InvalidBlockNumber)
		return;
	embed_hnsw_support_set_dim(&vs->support, vs->meta.dimensions);
	ItemPointerSet(&entryTid, vs->meta.entryBlkno, vs->meta.entryOffno);

	if (embed_hnsw_tidset_contains(&vs->dead, &entryTid))
	{
		if (vs->hasHighest)
		{
			repair_element(vs, &vs->highest, &entryTid, vs->meta.entryLevel);
			MemoryContextReset(vs->tmpCtx);
		}
		replace_entry_point(vs, &entryTid, vs->hasHighest ? &vs->highest : NULL);
		embed_hnsw_read_meta(vs->index, &vs->meta);
		if (vs->meta.entryBlkno == InvalidBlockNumber)
			return;
		ItemPointerSet(&entryTid, vs->meta.entryBlkno, vs->meta.entryOffno);
	}

	nblocks = RelationGetNumberOfBlocks(vs->index);
	elements = palloc(sizeof(EmbedHnswCandidate) * MaxOffsetNumber);
	for (BlockNumber blkno = EMBED_HNSW_HEAD_BLKNO; blkno < nblocks; blkno++)
	{
		int			nelements;

		vacuum_delay_point();
		nelements = live_elements(vs, blkno, elements);
		for (int i = 0; i < nelements; i++)
		{
			MemoryContext oldCtx = MemoryContextSwitchTo(vs->tmpCtx);

			CHECK_FOR_INTERRUPTS();
			if (needs_repair(vs, &elements[i]) && !ItemPointerEquals(&elements[i].tid, &entryTid))
				repair_element(vs, &elements[i], &entryTid, vs->meta.entryLevel);
			MemoryContextSwitchTo(oldCtx);
			MemoryContextReset(vs->tmpCtx);
		}
	}
	pfree(elements);
}

/* Pass 3: turn the dying elements into tombstones, one WAL record per page. */
static void
mark_deleted(VacuumState *vs)
{
	int			i = 0;

	while (i < vs->ndying)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&vs->dying[i]);
		Buffer		buf;
		GenericXLogState *state;
		Page		page;

		vacuum_delay_point();
		buf = vacuum_read(vs, blkno, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(vs->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		for (; i < vs->ndying && ItemPointerGetBlockNumber(&vs->dying[i]) == blkno; i++)
		{
			EmbedHnswElementTuple etup = embed_hnsw_get_element(vs->index, page, blkno,
																ItemPointerGetOffsetNumber(&vs->dying[i]));

			etup->deleted = 1;
			ItemPointerSetInvalid(&etup->heaptid);
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * The meta page's insert hint, read while no insert is under way: every
 * element inserted from now on is placed on that page or after it.
 */
static BlockNumber
insert_start(Relation index)
{
	EmbedHnswMetaPageData meta;

	LockPage(index, EMBED_HNSW_UPDATE_LOCK, ExclusiveLock);
	embed_hnsw_read_meta(index, &meta);
	UnlockPage(index, EMBED_HNSW_UPDATE_LOCK, ExclusiveLock);
	return meta.insertPage;
}

/* ambulkdelete */
IndexBulkDeleteResult *
embed_hnsw_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
					  IndexBulkDeleteCallback callback, void *callback_state)
{
	VacuumState vs;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	memset(&vs, 0, sizeof(vs));
	vs.index = info->index;
	vs.strategy = info->strategy;
	vs.stats = stats;
	vs.callback = callback;
	vs.callbackState = callback_state;
	vs.dyingCap = 1024;
	vs.dying = palloc(sizeof(ItemPointerData) * vs.dyingCap);
	embed_hnsw_init_support(&vs.support, vs.index);
	embed_hnsw_tidset_init(&vs.dead, 1024);
	vs.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum temporary context",
									  ALLOCSET_DEFAULT_SIZES);

	stats->num_index_tuples = 0;
	vs.insertStart = insert_start(vs.index);
	collect_dead(&vs);
	if (vs.ndying > 0)
	{
		repair_graph(&vs);
		mark_deleted(&vs);
	}
	stats->num_pages = RelationGetNumberOfBlocks(vs.index);
	stats->estimated_count = false;
	MemoryContextDelete(vs.tmpCtx);
	return stats;
}

/* Count the live elements (VACUUM without deletions). */
static double
count_live(Relation index, BufferAccessStrategy strategy)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	double		live = 0;

	for (BlockNumber blkno = EMBED_HNSW_HEAD_BLKNO; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		Page		page;

		vacuum_delay_point();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		embed_hnsw_check_page(index, page, blkno);
		for (OffsetNumber off = FirstOffsetNumber;
			 !PageIsNew(page) && off <= PageGetMaxOffsetNumber(page); off++)
		{
			EmbedHnswElementTuple etup;

			if (!ItemIdIsNormal(PageGetItemId(page, off)))
				continue;
			etup = (EmbedHnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			if (etup->type == EMBED_HNSW_ELEMENT_TUPLE && !etup->deleted)
				live++;
		}
		UnlockReleaseBuffer(buf);
	}
	return live;
}

/* amvacuumcleanup */
IndexBulkDeleteResult *
embed_hnsw_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = count_live(info->index, info->strategy);
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	stats->estimated_count = false;
	return stats;
}
