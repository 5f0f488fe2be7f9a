/* The daemon's pending requests to the manager: see poolreq.h. */
#include "poolreq.h"

#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

uint32_t poolreq_add(struct poolreqs *t, const void *owner, poolreq_fn fn, void *arg)
{
	for (unsigned i = 0; i < POOLREQ_MAX; i++) {
		struct poolreq *p = &t->p[i];

		if (p->id != 0)
			continue;
		if (++t->last_id == 0)
			t->last_id = 1; /* 0 means free */
		*p = (struct poolreq){.id = t->last_id, .owner = owner, .fn = fn, .arg = arg};
		return p->id;
	}
	return 0;
}

static struct poolreq *find(struct poolreqs *t, uint32_t id)
{
	for (unsigned i = 0; id != 0 && i < POOLREQ_MAX; i++)
		if (t->p[i].id == id)
			return &t->p[i];
	return NULL;
}

void poolreq_cancel(struct poolreqs *t, uint32_t id)
{
	struct poolreq *p = find(t, id);

	if (p == NULL)
		return;
	free(p->items);
	memset(p, 0, sizeof(*p));
}

/* Free the entry first: the callback may add a request of its own. */
static void finish(struct poolreq *p, struct poolreq_result *res)
{
	struct poolreq done = *p;

	memset(p, 0, sizeof(*p));
	res->items = done.items;
	res->nitems = done.nitems;
	done.fn(done.arg, res);
	free(done.items);
}

static void keep_part(struct poolreq *p, const struct msg_reply *r)
{
	if (p->nitems == p->cap) {
		unsigned cap = p->cap ? p->cap * 2 : 8;
		struct poolreq_item *n = realloc(p->items, cap * sizeof(*n));

		if (n == NULL) {
			p->lost = 1;
			return;
		}
		p->items = n;
		p->cap = cap;
	}
	memcpy(p->items[p->nitems++].values, r->values, sizeof(r->values));
}

int poolreq_reply(struct poolreqs *t, const void *owner, const struct msg_reply *r)
{
	struct poolreq *p = find(t, r->id);
	struct poolreq_result res = {.code = r->code};
	char text[MSG_REPLY_TEXT];

	if (p == NULL || p->owner != owner)
		return 0;
	if (r->more) {
		keep_part(p, r);
		return 1;
	}
	memcpy(text, r->text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	res.text = text;
	memcpy(res.values, r->values, sizeof(res.values));
	if (p->lost && res.code == 0) {
		res.code = RPC_INTERNAL;
		res.text = "out of memory for the reply";
	}
	finish(p, &res);
	return 1;
}

unsigned poolreq_fail(struct poolreqs *t, const void *owner, int code, const char *text)
{
	unsigned n = 0;

	for (unsigned i = 0; i < POOLREQ_MAX; i++) {
		struct poolreq_result res = {.code = code, .text = text};

		if (t->p[i].id == 0 || t->p[i].owner != owner)
			continue;
		finish(&t->p[i], &res);
		n++;
	}
	return n;
}

unsigned poolreq_pending(const struct poolreqs *t)
{
	unsigned n = 0;

	for (unsigned i = 0; i < POOLREQ_MAX; i++)
		n += t->p[i].id != 0;
	return n;
}
