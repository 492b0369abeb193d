/*
 * hnswcheck.c: embed_hnsw_check(index regclass, heapallindexed bool), a
 * structural checker in the spirit of amcheck.
 *
 * It takes AccessShareLock only, like amcheck's bt_index_check, so it runs
 * next to inserts, scans and VACUUM, and on a hot standby.  The first pass
 * checks every page and tuple on its own and records each element's level;
 * the second checks every neighbour list (no dangling TIDs, no self links,
 * no duplicates, targets present on the layer).  A link to an element
 * added after the first pass read its page is resolved by reading that
 * element then, and so is an element's neighbour tuple written after the
 * first pass read its page.  With heapallindexed, every heap tuple visible
 * to a snapshot taken before the walk must have an element pointing at it.
 * Any inconsistency raises index_corrupted (XX002).
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "hnsw.h"

/* What the first pass records about each element. */
typedef struct ElementEntry
{
	ItemPointerData tid;		/* hash key */
	ItemPointerData neighbortid;
	uint8		level;
} ElementEntry;

typedef struct CheckState
{
	Relation	index;
	Relation	heap;
	EmbedHnswMetaPageData meta;
	BlockNumber nblocks;
	HTAB	   *elements;
	EmbedHnswTidSet neighborTuples;	/* neighbour tuples met in pass 1 */
	EmbedHnswTidSet claimed;	/* neighbour tuples referenced by an element */
	EmbedHnswTidSet heaptids;	/* heap TIDs of live elements */
	EmbedHnswSupport support;
	int64		heapChecked;
	MemoryContext tupleCtx;		/* reset for every heap tuple */
} CheckState;

/* Raise index_corrupted with a message about the index. */
static void
corrupt(CheckState *cs, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" is corrupted", RelationGetRelationName(cs->index)),
			 errdetail_internal("%s", detail)));
}

/*
 * Whether tid addresses a block of the index other than the meta page (the
 * index may have grown since pass 1 began).
 */
static bool
tid_in_range(CheckState *cs, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);

	if (!ItemPointerIsValid(tid) || blkno < EMBED_HNSW_HEAD_BLKNO)
		return false;
	return blkno < cs->nblocks || blkno < RelationGetNumberOfBlocks(cs->index);
}

/* The checks of an element tuple that need the meta page. */
static void
check_element_fields(CheckState *cs, EmbedHnswElementTuple etup, BlockNumber blkno, OffsetNumber off)
{
	/* the first insert into an untyped index may have come after our read */
	if (cs->meta.dimensions == 0)
		embed_hnsw_read_meta(cs->index, &cs->meta);
	if (etup->dim != cs->meta.dimensions)
		corrupt(cs, psprintf("element (%u,%u) has %d dimensions, the meta page says %u",
							 blkno, off, etup->dim, cs->meta.dimensions));
	if (!tid_in_range(cs, &etup->neighbortid))
		corrupt(cs, psprintf("element (%u,%u) points to neighbor tuple (%u,%u) outside the index",
							 blkno, off, ItemPointerGetBlockNumberNoCheck(&etup->neighbortid),
							 ItemPointerGetOffsetNumberNoCheck(&etup->neighbortid)));
}

/* Whether the item at tid of a locked page starts with the given tuple type. */
static bool
item_has_type(Page page, OffsetNumber off, uint8 type)
{
	ItemId		itemid;

	if (PageIsNew(page) || off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return false;
	itemid = PageGetItemId(page, off);
	return ItemIdIsNormal(itemid) && ItemIdGetLength(itemid) >= sizeof(uint32) &&
		*(uint8 *) PageGetItem(page, itemid) == type;
}

/* Record an element (pass 1, or a late one found by pass 2). */
static ElementEntry *
remember_element(CheckState *cs, ItemPointer tid, EmbedHnswElementTuple etup)
{
	ElementEntry *entry = hash_search(cs->elements, tid, HASH_ENTER, NULL);

	entry->neighbortid = etup->neighbortid;
	entry->level = etup->level;
	return entry;
}

/*
 * The recorded element at tid, or NULL if there is none.  An element added
 * by a concurrent insert after pass 1 read its page is read and validated
 * now.
 */
static ElementEntry *
lookup_element(CheckState *cs, ItemPointer tid)
{
	ElementEntry *entry = NULL;
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);
	Buffer		buf;
	Page		page;

	if (!tid_in_range(cs, tid))
		return NULL;
	entry = hash_search(cs->elements, tid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	buf = ReadBuffer(cs->index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	embed_hnsw_check_page(cs->index, page, blkno);
	if (item_has_type(page, off, EMBED_HNSW_ELEMENT_TUPLE))
	{
		EmbedHnswElementTuple etup = embed_hnsw_get_element(cs->index, page, blkno, off);

		if (etup->level <= embed_hnsw_max_level(cs->meta.m))
		{
			check_element_fields(cs, etup, blkno, off);
			entry = remember_element(cs, tid, etup);
		}
	}
	UnlockReleaseBuffer(buf);
	return entry;
}

/*
 * Whether tid is a neighbour tuple: one met in pass 1, or one written by a
 * concurrent insert after pass 1 read its page.
 */
static bool
is_neighbor_tuple(CheckState *cs, ItemPointer tid)
{
	Buffer		buf;
	bool		found;

	if (embed_hnsw_tidset_contains(&cs->neighborTuples, tid))
		return true;
	if (!tid_in_range(cs, tid))
		return false;
	buf = ReadBuffer(cs->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	embed_hnsw_check_page(cs->index, BufferGetPage(buf), ItemPointerGetBlockNumber(tid));
	found = item_has_type(BufferGetPage(buf), ItemPointerGetOffsetNumber(tid), EMBED_HNSW_NEIGHBOR_TUPLE);
	UnlockReleaseBuffer(buf);
	if (found)
		embed_hnsw_tidset_add(&cs->neighborTuples, tid);
	return found;
}

/* Pass 1 for one element tuple. */
static void
check_element(CheckState *cs, Page page, BlockNumber blkno, OffsetNumber off)
{
	EmbedHnswElementTuple etup = (EmbedHnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
	ItemPointerData tid;

	/* the level first: every other check trusts it */
	if (ItemIdGetLength(PageGetItemId(page, off)) >= offsetof(EmbedHnswElementTupleData, heaptid) &&
		etup->level > embed_hnsw_max_level(cs->meta.m))
		corrupt(cs, psprintf("element (%u,%u) has level %d, above the maximum %d for m = %d",
							 blkno, off, etup->level, embed_hnsw_max_level(cs->meta.m), cs->meta.m));
	if (ItemIdGetLength(PageGetItemId(page, off)) >= offsetof(EmbedHnswElementTupleData, dim) &&
		(etup->deleted > 1 || (etup->deleted == 1) == ItemPointerIsValid(&etup->heaptid)))
		corrupt(cs, psprintf("element (%u,%u) has deleted flag %d and a%s heap TID",
							 blkno, off, etup->deleted,
							 ItemPointerIsValid(&etup->heaptid) ? "" : "n invalid"));
	etup = embed_hnsw_get_element(cs->index, page, blkno, off);
	ItemPointerSet(&tid, blkno, off);
	check_element_fields(cs, etup, blkno, off);
	remember_element(cs, &tid, etup);
	if (!etup->deleted)
		embed_hnsw_tidset_add(&cs->heaptids, &etup->heaptid);
}

/* Pass 1: every page and tuple on its own. */
static void
check_pages(CheckState *cs)
{
	for (BlockNumber blkno = EMBED_HNSW_HEAD_BLKNO; blkno < cs->nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(cs->index, blkno);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		embed_hnsw_check_page(cs->index, page, blkno);
		for (OffsetNumber off = FirstOffsetNumber;
			 !PageIsNew(page) && off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			uint8		type;
			ItemPointerData tid;

			if (!ItemIdIsNormal(itemid) || ItemIdGetLength(itemid) < sizeof(uint32))
				corrupt(cs, psprintf("item (%u,%u) is not a normal item", blkno, off));
			type = *(uint8 *) PageGetItem(page, itemid);
			ItemPointerSet(&tid, blkno, off);
			if (type == EMBED_HNSW_ELEMENT_TUPLE)
				check_element(cs, page, blkno, off);
			else if (type == EMBED_HNSW_NEIGHBOR_TUPLE)
				embed_hnsw_tidset_add(&cs->neighborTuples, &tid);
			else
				corrupt(cs, psprintf("item (%u,%u) has unknown tuple type %d", blkno, off, type));
		}
		UnlockReleaseBuffer(buf);
	}
}

/* Pass 2 for one element: its neighbour tuple and every link in it. */
static void
check_links(CheckState *cs, ElementEntry *element)
{
	BlockNumber nblkno = ItemPointerGetBlockNumber(&element->neighbortid);
	OffsetNumber noff = ItemPointerGetOffsetNumber(&element->neighbortid);
	int			m = cs->meta.m;
	Buffer		buf;
	EmbedHnswNeighborTuple ntup;
	ItemPointerData *slots;
	int			count;

	if (!is_neighbor_tuple(cs, &element->neighbortid))
		corrupt(cs, psprintf("element (%u,%u) points to (%u,%u), which is not a neighbor tuple",
							 ItemPointerGetBlockNumber(&element->tid),
							 ItemPointerGetOffsetNumber(&element->tid), nblkno, noff));
	if (!embed_hnsw_tidset_add(&cs->claimed, &element->neighbortid))
		corrupt(cs, psprintf("neighbor tuple (%u,%u) belongs to more than one element", nblkno, noff));

	buf = ReadBuffer(cs->index, nblkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	ntup = embed_hnsw_get_neighbors(cs->index, BufferGetPage(buf), nblkno, noff, element->level, m);
	count = ntup->count;
	slots = palloc(sizeof(ItemPointerData) * count);
	memcpy(slots, ntup->indextids, sizeof(ItemPointerData) * count);
	UnlockReleaseBuffer(buf);

	for (int lc = 0; lc <= element->level; lc++)
	{
		int			start = EmbedHnswLayerStart(m, lc);
		int			max = EmbedHnswLayerMax(m, lc);

		for (int i = start; i < start + max; i++)
		{
			ElementEntry *target;

			if (!ItemPointerIsValid(&slots[i]))
				continue;
			target = lookup_element(cs, &slots[i]);
			if (target == NULL)
				corrupt(cs, psprintf("element (%u,%u) has a dangling neighbor (%u,%u) on layer %d",
									 ItemPointerGetBlockNumber(&element->tid),
									 ItemPointerGetOffsetNumber(&element->tid),
									 ItemPointerGetBlockNumberNoCheck(&slots[i]),
									 ItemPointerGetOffsetNumberNoCheck(&slots[i]), lc));
			if (target->level < lc)
				corrupt(cs, psprintf("element (%u,%u) links on layer %d to (%u,%u) of level %d",
									 ItemPointerGetBlockNumber(&element->tid),
									 ItemPointerGetOffsetNumber(&element->tid), lc,
									 ItemPointerGetBlockNumber(&slots[i]),
									 ItemPointerGetOffsetNumber(&slots[i]), target->level));
			if (ItemPointerEquals(&slots[i], &element->tid))
				corrupt(cs, psprintf("element (%u,%u) links to itself on layer %d",
									 ItemPointerGetBlockNumber(&element->tid),
									 ItemPointerGetOffsetNumber(&element->tid), lc));
			for (int j = start; j < i; j++)
			{
				if (ItemPointerEquals(&slots[i], &slots[j]))
					corrupt(cs, psprintf("element (%u,%u) lists (%u,%u) twice on layer %d",
										 ItemPointerGetBlockNumber(&element->tid),
										 ItemPointerGetOffsetNumber(&element->tid),
										 ItemPointerGetBlockNumber(&slots[i]),
										 ItemPointerGetOffsetNumber(&slots[i]), lc));
			}
		}
	}
	pfree(slots);
}

/* Check the meta page and its entry point. */
static void
check_meta(CheckState *cs)
{
	ItemPointerData entry;
	ElementEntry *e;

	embed_hnsw_read_meta(cs->index, &cs->meta);
	if (cs->meta.entryBlkno == InvalidBlockNumber)
		return;
	ItemPointerSet(&entry, cs->meta.entryBlkno, cs->meta.entryOffno);
	e = lookup_element(cs, &entry);
	if (e == NULL)
		corrupt(cs, psprintf("entry point (%u,%u) is not an element",
							 cs->meta.entryBlkno, cs->meta.entryOffno));
	if (e->level != cs->meta.entryLevel)
		corrupt(cs, psprintf("entry point (%u,%u) has level %d, the meta page says %d",
							 cs->meta.entryBlkno, cs->meta.entryOffno, e->level, cs->meta.entryLevel));
}

/* heapallindexed callback: a visible heap tuple must have an element. */
static void
heap_tuple_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
					bool tupleIsAlive, void *state)
{
	CheckState *cs = (CheckState *) state;
	MemoryContext oldCtx;
	bool		indexable = true;

	if (isnull[0])
		return;
	/* the value may be toasted: detoast it where it is freed right after */
	oldCtx = MemoryContextSwitchTo(cs->tupleCtx);
	if (cs->support.normprocinfo != NULL)
	{
		/* zero vectors are not indexed under cosine */
		EmbedVector *value = DatumGetEmbedVector(values[0]);

		indexable = embed_hnsw_prepare_vector(&cs->support, value, palloc(sizeof(float) * value->dim));
	}
	MemoryContextSwitchTo(oldCtx);
	MemoryContextReset(cs->tupleCtx);
	if (!indexable)
		return;
	cs->heapChecked++;
	if (!embed_hnsw_tidset_contains(&cs->heaptids, tid))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("heap tuple (%u,%u) from table \"%s\" lacks matching index tuple within index \"%s\"",
						ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
						RelationGetRelationName(cs->heap), RelationGetRelationName(cs->index))));
}

/* Scan the heap with snapshot and look up every visible tuple. */
static void
check_heap(CheckState *cs, Snapshot snapshot)
{
	IndexInfo  *indexInfo = BuildIndexInfo(cs->index);
	TableScanDesc scan;

	/* we bring our own snapshot */
	indexInfo->ii_Concurrent = true;
	embed_hnsw_init_support(&cs->support, cs->index);
	if (cs->meta.dimensions > 0)
		embed_hnsw_support_set_dim(&cs->support, cs->meta.dimensions);
	cs->tupleCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw check heap tuple",
										 ALLOCSET_DEFAULT_SIZES);
	scan = table_beginscan_strat(cs->heap, snapshot, 0, NULL, true, false);
	table_index_build_scan(cs->heap, cs->index, indexInfo, true, false, heap_tuple_callback,
						   cs, scan);
	MemoryContextDelete(cs->tupleCtx);
}

/* Open the index, making sure it is a valid hnsw index. */
static Relation
open_hnsw_index(Oid indexoid, Relation *heap)
{
	Oid			heapoid = IndexGetRelation(indexoid, true);
	Relation	index;

	/* lock the table before the index, as every other path does */
	*heap = OidIsValid(heapoid) ? table_open(heapoid, AccessShareLock) : NULL;
	index = relation_open(indexoid, AccessShareLock);
	if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_indam == NULL ||
		index->rd_indam->amgettuple != embed_hnsw_gettuple)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index", RelationGetRelationName(index))));
	if (RELATION_IS_OTHER_TEMP(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot check temporary indexes of other sessions")));
	if (!index->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot check index \"%s\"", RelationGetRelationName(index)),
				 errdetail("Index is not valid.")));
	return index;
}

PG_FUNCTION_INFO_V1(embed_hnsw_check);

/* embed_hnsw_check(index regclass, heapallindexed bool) */
Datum
embed_hnsw_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	bool		heapallindexed = PG_GETARG_BOOL(1);
	CheckState	cs;
	HASHCTL		ctl;
	Snapshot	snapshot = InvalidSnapshot;
	HASH_SEQ_STATUS status;
	ElementEntry *element;

	memset(&cs, 0, sizeof(cs));
	cs.index = open_hnsw_index(indexoid, &cs.heap);
	if (heapallindexed)
		snapshot = RegisterSnapshot(GetTransactionSnapshot());

	ctl.keysize = sizeof(ItemPointerData);
	ctl.entrysize = sizeof(ElementEntry);
	ctl.hcxt = CurrentMemoryContext;
	cs.elements = hash_create("hnsw check elements", 1024, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	embed_hnsw_tidset_init(&cs.neighborTuples, 1024);
	embed_hnsw_tidset_init(&cs.claimed, 1024);
	embed_hnsw_tidset_init(&cs.heaptids, 1024);

	embed_hnsw_read_meta(cs.index, &cs.meta);
	cs.nblocks = RelationGetNumberOfBlocks(cs.index);
	check_pages(&cs);
	check_meta(&cs);

	hash_seq_init(&status, cs.elements);
	while ((element = hash_seq_search(&status)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		check_links(&cs, element);
	}

	if (heapallindexed)
	{
		check_heap(&cs, snapshot);
		UnregisterSnapshot(snapshot);
	}

	relation_close(cs.index, AccessShareLock);
	if (cs.heap)
		table_close(cs.heap, AccessShareLock);
	PG_RETURN_VOID();
}
