/*
 * The daemon's copy of the manager's worker table. The manager sends it as
 * pages of one generation (MSG_WORKER_TABLE); a generation replaces the
 * current table only once every one of its pages has arrived in order, so
 * a reader never sees half of one pool and half of another. Pure
 * bookkeeping, no I/O: unit-tested on its own.
 */
#ifndef WSD_WTABLE_H
#define WSD_WTABLE_H

#include <stdint.h>

#include "msg.h"

struct wtable {
	struct msg_worker_entry *cur; /* the last complete generation */
	uint32_t ncur, curcap;
	uint32_t gen;                  /* its generation */
	uint64_t at_ms;                /* when it completed */
	int valid;                     /* a generation has completed since the last clear */
	int carried;                   /* cur is the previous manager's (wtable_carry) */
	struct msg_worker_entry *next; /* the generation being assembled */
	uint32_t nnext, cap;
	uint32_t next_gen, next_page, next_pages;
	int assembling;
};

/* Pages a table of n entries takes (at least one: an empty pool is a table too). */
uint32_t wtable_pages(uint32_t n);

/*
 * Take one page. Returns 1 when it completed a generation (now current),
 * 0 when more pages are due, -1 when it was out of sequence or malformed
 * (the partial generation is dropped; a page 0 always starts a new one).
 */
int wtable_page(struct wtable *t, const struct msg_worker_page *p, uint64_t now_ms);

/* The manager is gone: no current table. */
void wtable_clear(struct wtable *t);
/*
 * A new manager serves: the old one's table stays current, marked carried,
 * until the new one's first complete generation replaces it (its workers
 * are still there, retiring); a generation half assembled is dropped.
 */
void wtable_carry(struct wtable *t);
void wtable_free(struct wtable *t);

#endif
