/*
 * hnsw.c: the hnsw index access method handler, its reloptions (m,
 * ef_construction), GUCs (hnsw.*), cost estimate and operator class
 * validator.
 *
 * Design notes for the whole access method are in hnsw.h.
 */
#include "postgres.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

#include "embed_init.h"
#include "hnsw.h"

int			embed_hnsw_ef_search = EMBED_HNSW_DEFAULT_EF_SEARCH;
int			embed_hnsw_iterative_scan = EMBED_HNSW_ITERATIVE_SCAN_STRICT;
int			embed_hnsw_max_scan_tuples = EMBED_HNSW_DEFAULT_MAX_SCAN_TUPLES;
relopt_kind embed_hnsw_relopt_kind;

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", EMBED_HNSW_ITERATIVE_SCAN_OFF, false},
	{"relaxed_order", EMBED_HNSW_ITERATIVE_SCAN_RELAXED, false},
	{"strict_order", EMBED_HNSW_ITERATIVE_SCAN_STRICT, false},
	{NULL, 0, false}
};

/* Register the hnsw.* GUCs and the reloptions of hnsw indexes. */
void
embed_hnsw_init(void)
{
	embed_hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(embed_hnsw_relopt_kind, "m",
					  "Max number of connections per element and layer (2..100)",
					  EMBED_HNSW_DEFAULT_M, EMBED_HNSW_MIN_M, EMBED_HNSW_MAX_M,
					  AccessExclusiveLock);
	add_int_reloption(embed_hnsw_relopt_kind, "ef_construction",
					  "Size of the dynamic candidate list while building (4..1000, at least 2 * m)",
					  EMBED_HNSW_DEFAULT_EF_CONSTRUCTION, EMBED_HNSW_MIN_EF_CONSTRUCTION,
					  EMBED_HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search",
							"Sets the size of the dynamic candidate list for search.",
							"Valid range is 1..1000.",
							&embed_hnsw_ef_search,
							EMBED_HNSW_DEFAULT_EF_SEARCH, EMBED_HNSW_MIN_EF_SEARCH,
							EMBED_HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("hnsw.iterative_scan",
							 "Keeps searching when filtered rows leave fewer than LIMIT results.",
							 "off returns at most ef_search rows; strict_order keeps results sorted by "
							 "distance; relaxed_order may return a later row slightly out of order.",
							 &embed_hnsw_iterative_scan,
							 EMBED_HNSW_ITERATIVE_SCAN_STRICT, iterative_scan_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hnsw.max_scan_tuples",
							"Sets the number of elements an iterative scan scores before it stops searching.",
							NULL,
							&embed_hnsw_max_scan_tuples,
							EMBED_HNSW_DEFAULT_MAX_SCAN_TUPLES, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("hnsw");
}

/* Reloption m of an index. */
int
embed_hnsw_get_m(Relation index)
{
	EmbedHnswOptions *opts = (EmbedHnswOptions *) index->rd_options;

	return opts ? opts->m : EMBED_HNSW_DEFAULT_M;
}

/* Reloption ef_construction of an index. */
int
embed_hnsw_get_ef_construction(Relation index)
{
	EmbedHnswOptions *opts = (EmbedHnswOptions *) index->rd_options;

	return opts ? opts->efConstruction : EMBED_HNSW_DEFAULT_EF_CONSTRUCTION;
}

/* amoptions */
static bytea *
hnsw_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(EmbedHnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(EmbedHnswOptions, efConstruction)},
	};

	return (bytea *) build_reloptions(reloptions, validate, embed_hnsw_relopt_kind,
									  sizeof(EmbedHnswOptions), tab, lengthof(tab));
}

/* ambuildphasename */
static char *
hnsw_buildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case EMBED_HNSW_PHASE_LOAD:
			return "loading tuples";
		case EMBED_HNSW_PHASE_WRITE:
			return "writing graph";
		default:
			return NULL;
	}
}

/*
 * amcostestimate: an hnsw scan scores about ef_search * m elements on
 * layer 0 plus m per upper layer before its first row comes out (the
 * startup cost); returning every row means walking the whole graph (the
 * total cost).  The planner interpolates between the two for a LIMIT, so
 * ORDER BY ... LIMIT k picks the index and a full ORDER BY does not.
 * Without an ORDER BY the index is useless, and with two distances (the
 * second breaking ties of the first) it cannot order the rows: infinite
 * cost.
 */
static void
hnsw_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				  Cost *indexStartupCost, Cost *indexTotalCost,
				  Selectivity *indexSelectivity, double *indexCorrelation,
				  double *indexPages)
{
	GenericCosts first;
	GenericCosts all;
	double		tuples = Max(path->indexinfo->tuples, 1.0);
	int			m;
	double		levels;
	Relation	index;

	if (list_length(path->indexorderbys) != 1)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	/* the planner already holds a lock on the index */
	index = index_open(path->indexinfo->indexoid, NoLock);
	m = embed_hnsw_get_m(index);
	index_close(index, NoLock);
	levels = Max(log(tuples) / log(m), 0.0);

	MemSet(&first, 0, sizeof(first));
	first.numIndexTuples = Min(tuples, (double) embed_hnsw_ef_search * m + levels * m);
	genericcostestimate(root, path, loop_count, &first);

	MemSet(&all, 0, sizeof(all));
	all.numIndexTuples = tuples;
	genericcostestimate(root, path, loop_count, &all);

	*indexStartupCost = first.indexTotalCost;
	*indexTotalCost = Max(all.indexTotalCost, first.indexTotalCost);
	*indexSelectivity = all.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = all.numIndexPages;
}

/* Report an invalid operator class member (amvalidate output). */
static void
report_invalid(const char *opfamilyname, const char *what)
{
	ereport(INFO,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("operator family \"%s\" of access method hnsw %s", opfamilyname, what)));
}

/* Check the support functions of an operator family. */
static bool
validate_procs(CatCList *proclist, const char *opfamilyname)
{
	bool		result = true;

	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);
		bool		ok;

		if (procform->amproclefttype != procform->amprocrighttype)
		{
			report_invalid(opfamilyname, psprintf("contains support function %s with different left and right input types",
												  format_procedure(procform->amproc)));
			result = false;
			continue;
		}
		switch (procform->amprocnum)
		{
			case EMBED_HNSW_DISTANCE_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, false, 2, 2,
											procform->amproclefttype, procform->amproclefttype);
				break;
			case EMBED_HNSW_NORM_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, false, 1, 1,
											procform->amproclefttype);
				break;
			default:
				report_invalid(opfamilyname, psprintf("contains function %s with invalid support number %d",
													  format_procedure(procform->amproc),
													  procform->amprocnum));
				result = false;
				continue;
		}
		if (!ok)
		{
			report_invalid(opfamilyname, psprintf("contains function %s with wrong signature for support number %d",
												  format_procedure(procform->amproc),
												  procform->amprocnum));
			result = false;
		}
	}
	return result;
}

/* Check the operators of an operator family: only ordering operator 1 returning float8. */
static bool
validate_operators(CatCList *oprlist, const char *opfamilyname)
{
	bool		result = true;

	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amopstrategy != 1)
		{
			report_invalid(opfamilyname, psprintf("contains operator %s with invalid strategy number %d",
												  format_operator(oprform->amopopr),
												  oprform->amopstrategy));
			result = false;
		}
		if (oprform->amoppurpose != AMOP_ORDER)
		{
			report_invalid(opfamilyname, psprintf("contains search operator %s (only ordering operators are supported)",
												  format_operator(oprform->amopopr)));
			result = false;
		}
		else if (!check_amop_signature(oprform->amopopr, FLOAT8OID, oprform->amoplefttype,
									   oprform->amoprighttype))
		{
			report_invalid(opfamilyname, psprintf("contains operator %s with wrong signature",
												  format_operator(oprform->amopopr)));
			result = false;
		}
	}
	return result;
}

/* amvalidate: check an operator class of hnsw. */
bool
embed_hnsw_validate(Oid opclassoid)
{
	HeapTuple	classtup;
	HeapTuple	familytup;
	Form_pg_opclass classform;
	Oid			opcintype;
	char	   *opclassname;
	char	   *opfamilyname;
	CatCList   *proclist;
	CatCList   *oprlist;
	List	   *grouplist;
	OpFamilyOpFuncGroup *group = NULL;
	ListCell   *lc;
	bool		result;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);

	familytup = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(classform->opcfamily));
	if (!HeapTupleIsValid(familytup))
		elog(ERROR, "cache lookup failed for operator family %u", classform->opcfamily);
	opfamilyname = NameStr(((Form_pg_opfamily) GETSTRUCT(familytup))->opfname);

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(classform->opcfamily));
	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));

	result = validate_procs(proclist, opfamilyname);
	result = validate_operators(oprlist, opfamilyname) && result;

	grouplist = identify_opfamily_groups(oprlist, proclist);
	foreach(lc, grouplist)
	{
		OpFamilyOpFuncGroup *g = (OpFamilyOpFuncGroup *) lfirst(lc);

		if (g->lefttype == opcintype && g->righttype == opcintype)
			group = g;
	}
	if (group == NULL || (group->operatorset & (UINT64CONST(1) << 1)) == 0)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method hnsw is missing its ordering operator",
						opclassname)));
		result = false;
	}
	if (group == NULL || (group->functionset & (UINT64CONST(1) << EMBED_HNSW_DISTANCE_PROC)) == 0)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method hnsw is missing support function %d",
						opclassname, EMBED_HNSW_DISTANCE_PROC)));
		result = false;
	}

	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(familytup);
	ReleaseSysCache(classtup);
	return result;
}

PG_FUNCTION_INFO_V1(embed_hnsw_handler);

/* The index access method handler of hnsw. */
Datum
embed_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = EMBED_HNSW_NPROCS;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = embed_hnsw_build;
	amroutine->ambuildempty = embed_hnsw_buildempty;
	amroutine->aminsert = embed_hnsw_insert;
	amroutine->ambulkdelete = embed_hnsw_bulkdelete;
	amroutine->amvacuumcleanup = embed_hnsw_vacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnsw_costestimate;
	amroutine->amoptions = hnsw_options;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnsw_buildphasename;
	amroutine->amvalidate = embed_hnsw_validate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = embed_hnsw_beginscan;
	amroutine->amrescan = embed_hnsw_rescan;
	amroutine->amgettuple = embed_hnsw_gettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = embed_hnsw_endscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
