/*
 * embed.c: module entry point.
 *
 * _PG_init registers the extension's GUCs by calling each area's init
 * function; the areas own their variables.
 */
#include "postgres.h"

#include "fmgr.h"

#include "embed_init.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Register every area's GUCs and hooks. */
void
_PG_init(void)
{
	embed_model_init();
	embed_hnsw_init();
}
