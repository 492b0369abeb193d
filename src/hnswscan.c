/*
 * hnswscan.c: ORDER BY <distance operator> scans (HNSW paper, algorithm 5).
 *
 * The first call descends greedily from the entry point to layer 1 and
 * searches layer 0 with hnsw.ef_search candidates; the results are
 * returned nearest first.  With hnsw.iterative_scan enabled, every element
 * scored but not returned is kept in a "discarded" heap, and when the
 * executor asks for more rows (a filter rejected the first ones) the
 * layer-0 search resumes from the nearest discarded elements, batch after
 * batch, until hnsw.max_scan_tuples elements were scored; then whatever is
 * left in the discarded heap is returned in distance order.  strict_order
 * drops a row of a later batch that is nearer than one already returned,
 * so the output is always sorted; relaxed_order returns it.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "hnsw.h"

typedef struct ScanOpaqueData
{
	EmbedHnswSupport support;
	MemoryContext tmpCtx;
	bool		first;
	bool		exhausted;
	int			m;
	float	   *query;
	EmbedHnswSearch search;
	EmbedHnswCandidate *batch;
	int			nbatch;
	int			next;
	float		previousDistance;
} ScanOpaqueData;

typedef ScanOpaqueData *ScanOpaque;

/* ambeginscan */
IndexScanDesc
embed_hnsw_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	ScanOpaque	so = palloc0(sizeof(ScanOpaqueData));

	so->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan temporary context",
									   ALLOCSET_DEFAULT_SIZES);
	embed_hnsw_init_support(&so->support, index);
	scan->opaque = so;
	return scan;
}

/* amrescan */
void
embed_hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	ScanOpaque	so = (ScanOpaque) scan->opaque;

	so->first = true;
	so->exhausted = false;
	so->batch = NULL;
	so->nbatch = 0;
	so->next = 0;
	so->previousDistance = -get_float4_infinity();
	MemoryContextReset(so->tmpCtx);

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/* The query as the index compares it: checked, and normalised for cosine. */
static float *
scan_query(IndexScanDesc scan, int dim)
{
	ScanOpaque	so = (ScanOpaque) scan->opaque;
	float	   *query = palloc0(sizeof(float) * dim);
	EmbedVector *value;

	/* ORDER BY NULL: every row ties, any order is right */
	if (scan->orderByData->sk_flags & SK_ISNULL)
		return query;
	value = DatumGetEmbedVector(scan->orderByData->sk_argument);
	embed_hnsw_check_dims(scan->indexRelation, dim, value->dim);
	/* a zero query under cosine ties every row too: keep it as is */
	if (!embed_hnsw_prepare_vector(&so->support, value, query))
		memcpy(query, value->x, sizeof(float) * dim);
	return query;
}

/* First batch: descend from the entry point, then search layer 0. */
static void
first_batch(IndexScanDesc scan)
{
	ScanOpaque	so = (ScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	EmbedHnswMetaPageData meta;
	EmbedHnswCandidate *ep;
	ItemPointerData entryTid;
	int			nep = 1;

	embed_hnsw_read_meta(index, &meta);
	if (meta.entryBlkno == InvalidBlockNumber || meta.dimensions == 0)
	{
		/* still reject a query that could never match the column */
		if (meta.dimensions != 0 && !(scan->orderByData->sk_flags & SK_ISNULL))
			embed_hnsw_check_dims(index, meta.dimensions,
								  DatumGetEmbedVector(scan->orderByData->sk_argument)->dim);
		so->exhausted = true;
		return;
	}
	so->m = meta.m;
	embed_hnsw_support_set_dim(&so->support, meta.dimensions);
	so->query = scan_query(scan, meta.dimensions);
	embed_hnsw_search_init(&so->search, index, &so->support, so->query, meta.m,
						   embed_hnsw_iterative_scan != EMBED_HNSW_ITERATIVE_SCAN_OFF);

	ep = palloc(sizeof(EmbedHnswCandidate));
	ItemPointerSet(&entryTid, meta.entryBlkno, meta.entryOffno);
	embed_hnsw_load_candidate(&so->search, &entryTid, &ep[0]);
	for (int lc = meta.entryLevel; lc >= 1; lc--)
	{
		EmbedHnswTidSet visited;
		EmbedHnswCandidate *w;
		int			n;

		embed_hnsw_tidset_init(&visited, 64);
		embed_hnsw_tidset_add(&visited, &ep[0].tid);
		n = embed_hnsw_search_layer(&so->search, ep, nep, 1, lc, &visited, &w);
		if (n > 0)
			ep = w;
	}
	embed_hnsw_tidset_add(&so->search.visited, &ep[0].tid);
	so->nbatch = embed_hnsw_search_layer(&so->search, ep, nep, embed_hnsw_ef_search, 0,
										 &so->search.visited, &so->batch);
	so->next = 0;
}

/* Next batch of an iterative scan; false when nothing is left. */
static bool
next_batch(IndexScanDesc scan)
{
	ScanOpaque	so = (ScanOpaque) scan->opaque;
	EmbedHnswHeap *discarded = &so->search.discarded;
	EmbedHnswCandidate *ep;
	int			nep = 0;

	if (embed_hnsw_iterative_scan == EMBED_HNSW_ITERATIVE_SCAN_OFF || discarded->size == 0)
		return false;

	if (so->search.tuples >= embed_hnsw_max_scan_tuples)
	{
		/* budget spent: hand out what was already scored, nearest first */
		so->batch = palloc(sizeof(EmbedHnswCandidate));
		so->batch[0] = embed_hnsw_heap_pop(discarded);
		so->nbatch = 1;
		so->next = 0;
		return true;
	}

	ep = palloc(sizeof(EmbedHnswCandidate) * embed_hnsw_ef_search);
	while (nep < embed_hnsw_ef_search && discarded->size > 0)
		ep[nep++] = embed_hnsw_heap_pop(discarded);
	so->nbatch = embed_hnsw_search_layer(&so->search, ep, nep, embed_hnsw_ef_search, 0,
										 &so->search.visited, &so->batch);
	so->next = 0;
	return true;
}

/* amgettuple: the next heap TID in distance order. */
bool
embed_hnsw_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	ScanOpaque	so = (ScanOpaque) scan->opaque;
	MemoryContext oldCtx = MemoryContextSwitchTo(so->tmpCtx);

	if (so->first)
	{
		pgstat_count_index_scan(scan->indexRelation);
		if (scan->numberOfOrderBys != 1)
			elog(ERROR, "an hnsw index scan needs exactly one ORDER BY distance");
		/* no pin is held on returned TIDs, so they are safe only under MVCC */
		if (!IsMVCCSnapshot(scan->xs_snapshot))
			elog(ERROR, "non-MVCC snapshots are not supported with hnsw");
		so->first = false;
		first_batch(scan);
	}

	while (!so->exhausted)
	{
		EmbedHnswCandidate *c;

		if (so->next >= so->nbatch)
		{
			CHECK_FOR_INTERRUPTS();
			if (!next_batch(scan))
			{
				so->exhausted = true;
				break;
			}
			continue;
		}
		c = &so->batch[so->next++];
		if (!ItemPointerIsValid(&c->heaptid))
			continue;
		if (embed_hnsw_iterative_scan == EMBED_HNSW_ITERATIVE_SCAN_STRICT)
		{
			if (c->distance < so->previousDistance)
				continue;
			so->previousDistance = c->distance;
		}
		MemoryContextSwitchTo(oldCtx);
		scan->xs_heaptid = c->heaptid;
		scan->xs_recheck = false;
		scan->xs_recheckorderby = false;
		return true;
	}

	MemoryContextSwitchTo(oldCtx);
	return false;
}

/* amendscan */
void
embed_hnsw_endscan(IndexScanDesc scan)
{
	ScanOpaque	so = (ScanOpaque) scan->opaque;

	MemoryContextDelete(so->tmpCtx);
	pfree(so);
	scan->opaque = NULL;
}
