/* The daemon's copy of the worker table: see wtable.h. */
#include "wtable.h"

#include <stdlib.h>
#include <string.h>

uint32_t wtable_pages(uint32_t n)
{
	return n == 0 ? 1 : (n + MSG_WORKER_PAGE_N - 1) / MSG_WORKER_PAGE_N;
}

static int page_valid(const struct msg_worker_page *p)
{
	if (p->pages == 0 || p->page >= p->pages || p->n > MSG_WORKER_PAGE_N)
		return 0;
	/* Every page but the last is full. */
	return p->page + 1 == p->pages || p->n == MSG_WORKER_PAGE_N;
}

static int reserve(struct wtable *t, uint32_t n)
{
	struct msg_worker_entry *e;

	if (n <= t->cap)
		return 0;
	if ((e = realloc(t->next, n * sizeof(*e))) == NULL)
		return -1;
	t->next = e;
	t->cap = n;
	return 0;
}

static void swap_in(struct wtable *t, uint64_t now_ms)
{
	struct msg_worker_entry *old = t->cur;
	uint32_t oldcap = t->curcap;

	t->cur = t->next;
	t->curcap = t->cap;
	t->ncur = t->nnext;
	t->gen = t->next_gen;
	t->at_ms = now_ms;
	t->valid = 1;
	t->carried = 0;
	/* The old table's buffer assembles the next generation. */
	t->next = old;
	t->cap = oldcap;
	t->assembling = 0;
}

int wtable_page(struct wtable *t, const struct msg_worker_page *p, uint64_t now_ms)
{
	if (!page_valid(p)) {
		t->assembling = 0;
		return -1;
	}
	if (p->page == 0) {
		t->assembling = 1;
		t->next_gen = p->generation;
		t->next_pages = p->pages;
		t->next_page = 0;
		t->nnext = 0;
	} else if (!t->assembling || p->generation != t->next_gen || p->pages != t->next_pages ||
	    p->page != t->next_page) {
		t->assembling = 0;
		return -1;
	}
	if (reserve(t, t->nnext + p->n) == -1) {
		t->assembling = 0;
		return -1;
	}
	memcpy(t->next + t->nnext, p->entries, p->n * sizeof(p->entries[0]));
	t->nnext += p->n;
	if (++t->next_page < t->next_pages)
		return 0;
	swap_in(t, now_ms);
	return 1;
}

void wtable_clear(struct wtable *t)
{
	t->valid = 0;
	t->ncur = 0;
	t->carried = 0;
	t->assembling = 0;
}

void wtable_carry(struct wtable *t)
{
	t->carried = t->valid;
	t->assembling = 0;
}

void wtable_free(struct wtable *t)
{
	free(t->cur);
	free(t->next);
	memset(t, 0, sizeof(*t));
}
