/*
 * embed_init.h: per-area initialisation functions called from _PG_init.
 */
#ifndef EMBED_INIT_H
#define EMBED_INIT_H

/* hnsw.c: hnsw.* GUCs and reloption kind */
void		embed_hnsw_init(void);
/* embed_model.c: embed.* GUCs */
void		embed_model_init(void);

#endif
