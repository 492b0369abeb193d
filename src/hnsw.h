/*
 * hnsw.h: the hnsw index access method over `vector`.
 *
 * On-disk layout
 * --------------
 * Block 0 is the meta page (EmbedHnswMetaPageData in the page contents).
 * Every other block holds two kinds of tuples:
 *
 *   element tuple:  level, deleted flag, the heap TID, the TID of the
 *                   element's neighbour tuple, then the vector itself
 *                   (normalised for operator classes with a norm support
 *                   function, i.e. cosine).
 *   neighbour tuple: (level + 2) * m index TIDs of other element tuples:
 *                   2m slots for layer 0, then m slots for each layer
 *                   1..level.  An unused slot holds an invalid TID.
 *
 * Both tuples have a fixed size for a given element, so neighbour lists
 * are updated in place.  An element and its neighbour tuple share a page
 * when they fit together.  Every page change outside CREATE INDEX is
 * WAL-logged with generic WAL; CREATE INDEX writes pages unlogged and logs
 * them all at the end (log_newpage_range), as core index builds do.
 *
 * Locking
 * -------
 * Pages are read and changed under buffer content locks, one page at a
 * time (an insert that splits an element and its neighbour tuple over two
 * pages takes the second lock conditionally, and the lock of a page just
 * added is only tried under the relation extension lock, never waited for,
 * so no lock cycle exists).
 * A heavyweight page lock on EMBED_HNSW_UPDATE_LOCK serialises changes of
 * the entry point: inserts hold it in share mode, and in exclusive mode
 * only when they become the new entry point; VACUUM takes it exclusively
 * to replace a deleted entry point.  Nobody waits for it while holding a
 * buffer lock.
 *
 * Deleted elements stay on disk as tombstones (deleted = 1, no heap TID):
 * VACUUM first relinks every live element away from them, and searches
 * still walk through a tombstone that a concurrent insert linked to, but
 * never return it.
 */
#ifndef EMBED_HNSW_H
#define EMBED_HNSW_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "common/pg_prng.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/dsm.h"
#include "storage/itemptr.h"
#include "storage/shm_toc.h"
#include "utils/relcache.h"

#include "embed_vector.h"

#define EMBED_HNSW_MAGIC			0x454D4857	/* "EMHW" */
#define EMBED_HNSW_VERSION			1
#define EMBED_HNSW_PAGE_ID			0xFF87
#define EMBED_HNSW_METAPAGE_BLKNO	0
#define EMBED_HNSW_HEAD_BLKNO		1

/* Heavyweight page lock tag serialising entry point changes. */
#define EMBED_HNSW_UPDATE_LOCK		0

/* Support functions */
#define EMBED_HNSW_DISTANCE_PROC	1
#define EMBED_HNSW_NORM_PROC		2
#define EMBED_HNSW_NPROCS			2

/* An element tuple of this many float4 dimensions fits on an 8 kB page. */
#define EMBED_HNSW_MAX_DIM			2000

#define EMBED_HNSW_DEFAULT_M		16
#define EMBED_HNSW_MIN_M			2
#define EMBED_HNSW_MAX_M			100
#define EMBED_HNSW_DEFAULT_EF_CONSTRUCTION	64
#define EMBED_HNSW_MIN_EF_CONSTRUCTION		4
#define EMBED_HNSW_MAX_EF_CONSTRUCTION		1000
#define EMBED_HNSW_DEFAULT_EF_SEARCH		40
#define EMBED_HNSW_MIN_EF_SEARCH			1
#define EMBED_HNSW_MAX_EF_SEARCH			1000
#define EMBED_HNSW_DEFAULT_MAX_SCAN_TUPLES	20000

/* Highest level an element may get, whatever m is. */
#define EMBED_HNSW_LEVEL_CAP		30

/* Build phases reported in pg_stat_progress_create_index.subphase */
#define EMBED_HNSW_PHASE_LOAD		2
#define EMBED_HNSW_PHASE_WRITE		3

/* Tuple types */
#define EMBED_HNSW_ELEMENT_TUPLE	1
#define EMBED_HNSW_NEIGHBOR_TUPLE	2

typedef enum EmbedHnswIterativeScan
{
	EMBED_HNSW_ITERATIVE_SCAN_OFF,
	EMBED_HNSW_ITERATIVE_SCAN_RELAXED,
	EMBED_HNSW_ITERATIVE_SCAN_STRICT
} EmbedHnswIterativeScan;

/* GUCs */
extern int	embed_hnsw_ef_search;
extern int	embed_hnsw_iterative_scan;
extern int	embed_hnsw_max_scan_tuples;

/* Reloptions */
typedef struct EmbedHnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			efConstruction;
} EmbedHnswOptions;

typedef struct EmbedHnswPageOpaqueData
{
	uint32		unused;
	uint16		flags;
	uint16		page_id;		/* EMBED_HNSW_PAGE_ID, for identification */
} EmbedHnswPageOpaqueData;

typedef EmbedHnswPageOpaqueData *EmbedHnswPageOpaque;

#define EmbedHnswPageGetOpaque(page) ((EmbedHnswPageOpaque) PageGetSpecialPointer(page))

typedef struct EmbedHnswMetaPageData
{
	uint32		magicNumber;
	uint32		version;
	uint32		dimensions;		/* 0 until the first vector when untyped */
	uint16		m;
	uint16		efConstruction;
	BlockNumber entryBlkno;		/* InvalidBlockNumber: empty graph */
	OffsetNumber entryOffno;
	int16		entryLevel;
	BlockNumber insertPage;		/* where inserts start looking for space */
} EmbedHnswMetaPageData;

typedef EmbedHnswMetaPageData *EmbedHnswMetaPage;

#define EmbedHnswPageGetMeta(page)	((EmbedHnswMetaPage) PageGetContents(page))

typedef struct EmbedHnswElementTupleData
{
	uint8		type;			/* EMBED_HNSW_ELEMENT_TUPLE */
	uint8		level;
	uint8		deleted;
	uint8		unused;
	ItemPointerData heaptid;	/* invalid once deleted */
	ItemPointerData neighbortid;
	uint16		dim;
	uint16		unused2;
	float		x[FLEXIBLE_ARRAY_MEMBER];
} EmbedHnswElementTupleData;

typedef EmbedHnswElementTupleData *EmbedHnswElementTuple;

typedef struct EmbedHnswNeighborTupleData
{
	uint8		type;			/* EMBED_HNSW_NEIGHBOR_TUPLE */
	uint8		unused;
	uint16		count;			/* (level + 2) * m */
	ItemPointerData indextids[FLEXIBLE_ARRAY_MEMBER];
} EmbedHnswNeighborTupleData;

typedef EmbedHnswNeighborTupleData *EmbedHnswNeighborTuple;

#define EMBED_HNSW_ELEMENT_TUPLE_SIZE(dim) \
	MAXALIGN(offsetof(EmbedHnswElementTupleData, x) + sizeof(float) * (dim))
#define EMBED_HNSW_NEIGHBOR_COUNT(level, m)	(((level) + 2) * (m))
#define EMBED_HNSW_NEIGHBOR_TUPLE_SIZE(level, m) \
	MAXALIGN(offsetof(EmbedHnswNeighborTupleData, indextids) + \
			 sizeof(ItemPointerData) * EMBED_HNSW_NEIGHBOR_COUNT(level, m))

/* Free space on an empty page. */
#define EMBED_HNSW_PAGE_CAPACITY \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(EmbedHnswPageOpaqueData)))

/* Neighbours an element keeps on layer lc. */
#define EmbedHnswLayerMax(m, lc)		((lc) == 0 ? (m) * 2 : (m))
/* First slot of layer lc in a neighbour tuple. */
#define EmbedHnswLayerStart(m, lc)		((lc) == 0 ? 0 : (m) * ((lc) + 1))

/* How distances are computed. */
typedef enum EmbedHnswMetric
{
	EMBED_HNSW_METRIC_FMGR,		/* call support function 1 */
	EMBED_HNSW_METRIC_L2,		/* squared Euclidean */
	EMBED_HNSW_METRIC_NEG_IP,	/* negative inner product */
	EMBED_HNSW_METRIC_COSINE,	/* 1 - inner product of normalised vectors */
	EMBED_HNSW_METRIC_L1		/* taxicab */
} EmbedHnswMetric;

/* Distance machinery of one index. */
typedef struct EmbedHnswSupport
{
	EmbedHnswMetric metric;
	FmgrInfo   *procinfo;
	FmgrInfo   *normprocinfo;	/* non-NULL: vectors are normalised */
	Oid			collation;
	int			dim;
	EmbedVector *scratchA;		/* fmgr path: operands */
	EmbedVector *scratchB;
} EmbedHnswSupport;

/* An element met during an on-disk search. */
typedef struct EmbedHnswCandidate
{
	ItemPointerData tid;		/* element tuple */
	ItemPointerData heaptid;	/* invalid for tombstones */
	ItemPointerData neighbortid;
	uint8		level;
	float		distance;
} EmbedHnswCandidate;

/* Binary heap of candidates ordered by distance. */
typedef struct EmbedHnswHeap
{
	EmbedHnswCandidate *items;
	int			size;
	int			capacity;
	bool		maxheap;
} EmbedHnswHeap;

/* Set of element TIDs (open addressing). */
typedef struct EmbedHnswTidSet
{
	uint64	   *keys;
	uint32		mask;
	uint32		count;
} EmbedHnswTidSet;

/* State of one on-disk search (kept across batches by iterative scans). */
typedef struct EmbedHnswSearch
{
	Relation	index;
	EmbedHnswSupport *support;
	const float *query;
	int			m;
	EmbedHnswTidSet visited;	/* layer-0 visited set */
	EmbedHnswHeap discarded;	/* seen but not returned (iterative scans) */
	bool		keepDiscarded;
	int64		tuples;			/* elements scored on layer 0 */
	EmbedHnswTidSet *excluded;	/* never selected (VACUUM repair) */
	ItemPointerData self;		/* never selected (VACUUM repair) */
} EmbedHnswSearch;

/* A neighbour selection candidate with its vector. */
typedef struct EmbedHnswNeighborChoice
{
	ItemPointerData tid;
	float		distance;
	const float *vec;
} EmbedHnswNeighborChoice;

/* vector.c: distance functions the index computes with its own kernels */
Datum		embed_vector_l2_distance(PG_FUNCTION_ARGS);
Datum		embed_vector_l2_squared_distance(PG_FUNCTION_ARGS);
Datum		embed_vector_negative_inner_product(PG_FUNCTION_ARGS);
Datum		embed_vector_cosine_distance(PG_FUNCTION_ARGS);
Datum		embed_vector_l1_distance(PG_FUNCTION_ARGS);

/* hnsw.c */
extern relopt_kind embed_hnsw_relopt_kind;
int			embed_hnsw_get_m(Relation index);
int			embed_hnsw_get_ef_construction(Relation index);
int			embed_hnsw_max_level(int m);
bool		embed_hnsw_validate(Oid opclassoid);
Datum		embed_hnsw_handler(PG_FUNCTION_ARGS);

/* hnswbuild.c */
IndexBuildResult *embed_hnsw_build(Relation heap, Relation index, IndexInfo *indexInfo);
void		embed_hnsw_buildempty(Relation index);
void		embed_hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc);

/* hnswinsert.c */
bool		embed_hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
							  Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
							  IndexInfo *indexInfo);
void		embed_hnsw_insert_vector(Relation index, EmbedHnswSupport *support,
									 const EmbedVector *value, ItemPointer heaptid, bool building);
void		embed_hnsw_update_connection(Relation index, EmbedHnswSupport *support, int m,
										 EmbedHnswCandidate *element, ItemPointer newtid,
										 const float *newvec, float distance, int lc, bool building);

/* hnswscan.c */
IndexScanDesc embed_hnsw_beginscan(Relation index, int nkeys, int norderbys);
void		embed_hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool		embed_hnsw_gettuple(IndexScanDesc scan, ScanDirection dir);
void		embed_hnsw_endscan(IndexScanDesc scan);

/* hnswvacuum.c */
IndexBulkDeleteResult *embed_hnsw_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
IndexBulkDeleteResult *embed_hnsw_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

/* hnswutils.c */
void		embed_hnsw_init_support(EmbedHnswSupport *support, Relation index);
void		embed_hnsw_support_set_dim(EmbedHnswSupport *support, int dim);
float		embed_hnsw_distance(EmbedHnswSupport *support, const float *a, const float *b);
bool		embed_hnsw_prepare_vector(EmbedHnswSupport *support, const EmbedVector *in, float *out);
int			embed_hnsw_random_level(int m, pg_prng_state *prng);
void		embed_hnsw_init_page(Page page);
Buffer		embed_hnsw_new_buffer(Relation index, ForkNumber forkNum);
void		embed_hnsw_fill_metapage(Page page, int dimensions, int m, int efConstruction);
void		embed_hnsw_read_meta(Relation index, EmbedHnswMetaPageData *meta);
void		embed_hnsw_check_meta(Relation index, EmbedHnswMetaPage meta);
void		embed_hnsw_check_page(Relation index, Page page, BlockNumber blkno);
EmbedHnswElementTuple embed_hnsw_get_element(Relation index, Page page, BlockNumber blkno, OffsetNumber offno);
EmbedHnswNeighborTuple embed_hnsw_get_neighbors(Relation index, Page page, BlockNumber blkno,
												OffsetNumber offno, int level, int m);
void		embed_hnsw_check_dims(Relation index, int expected, int actual);
bool		embed_hnsw_load_candidate(EmbedHnswSearch *search, ItemPointer tid, EmbedHnswCandidate *out);
float	   *embed_hnsw_load_vector(Relation index, ItemPointer tid, int dim);
int			embed_hnsw_load_layer(Relation index, EmbedHnswCandidate *element, int m, int lc,
								  ItemPointerData *tids);
void		embed_hnsw_search_init(EmbedHnswSearch *search, Relation index, EmbedHnswSupport *support,
								   const float *query, int m, bool keepDiscarded);
int			embed_hnsw_search_layer(EmbedHnswSearch *search, EmbedHnswCandidate *entries, int nentries,
									int ef, int lc, EmbedHnswTidSet *visited,
									EmbedHnswCandidate **result);
int			embed_hnsw_find_neighbors(EmbedHnswSearch *search, EmbedHnswCandidate *entry, int entryLevel,
									  int level, int efConstruction, EmbedHnswCandidate **layers,
									  int *counts);
int			embed_hnsw_select_neighbors(EmbedHnswSupport *support, EmbedHnswNeighborChoice *choices,
										int nchoices, int max, bool *selected);
void		embed_hnsw_heap_init(EmbedHnswHeap *heap, int capacity, bool maxheap);
void		embed_hnsw_heap_push(EmbedHnswHeap *heap, const EmbedHnswCandidate *c);
EmbedHnswCandidate embed_hnsw_heap_pop(EmbedHnswHeap *heap);
void		embed_hnsw_tidset_init(EmbedHnswTidSet *set, uint32 expected);
bool		embed_hnsw_tidset_add(EmbedHnswTidSet *set, ItemPointer tid);
bool		embed_hnsw_tidset_contains(const EmbedHnswTidSet *set, ItemPointer tid);
int			embed_hnsw_candidate_cmp(const void *a, const void *b);

/* hnswcheck.c */
Datum		embed_hnsw_check(PG_FUNCTION_ARGS);

#endif
