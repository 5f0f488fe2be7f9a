/* The parked set: a binary min-heap on keep-alive deadlines. */
#include "parked.h"

#include <errno.h>
#include <stdlib.h>

#define PARKED_FD_SPARE 256 /* descriptors the listener keeps for everything but parked ones */

void parked_init(struct parked_set *s, size_t max) { *s = (struct parked_set){.max = max}; }

void parked_free(struct parked_set *s)
{
	free(s->heap);
	*s = (struct parked_set){.max = s->max};
}

static void put(struct parked_set *s, size_t i, struct parked *p)
{
	s->heap[i] = p;
	p->slot = (uint32_t)i;
}

static void sift_up(struct parked_set *s, size_t i)
{
	struct parked *p = s->heap[i];

	while (i > 0 && s->heap[(i - 1) / 2]->deadline_ms > p->deadline_ms) {
		put(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	put(s, i, p);
}

static void sift_down(struct parked_set *s, size_t i)
{
	struct parked *p = s->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < s->n) {
		if (c + 1 < s->n && s->heap[c + 1]->deadline_ms < s->heap[c]->deadline_ms)
			c++;
		if (s->heap[c]->deadline_ms >= p->deadline_ms)
			break;
		put(s, i, s->heap[c]);
		i = c;
	}
	put(s, i, p);
}

int parked_add(struct parked_set *s, struct parked *p)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct parked **h = realloc(s->heap, cap * sizeof(*h));

		if (h == NULL) {
			errno = ENOMEM;
			return -1;
		}
		s->heap = h;
		s->cap = cap;
	}
	put(s, s->n++, p);
	sift_up(s, s->n - 1);
	return 0;
}

void parked_remove(struct parked_set *s, struct parked *p)
{
	size_t i = p->slot;
	struct parked *last;

	if (--s->n == i)
		return;
	last = s->heap[s->n];
	put(s, i, last);
	sift_up(s, i);
	sift_down(s, last->slot);
}

int parked_full(const struct parked_set *s) { return s->n >= s->max; }

struct parked *parked_nearest(const struct parked_set *s) { return s->n ? s->heap[0] : NULL; }

struct parked *parked_expired(const struct parked_set *s, uint64_t now)
{
	return s->n && s->heap[0]->deadline_ms <= now ? s->heap[0] : NULL;
}

enum parked_verdict parked_verdict(ssize_t n, int err)
{
	if (n > 0)
		return PARKED_RETURN;
	if (n == -1 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR))
		return PARKED_IDLE;
	return PARKED_CLOSE;
}

size_t parked_default_max(long fd_limit)
{
	return fd_limit > 2 * PARKED_FD_SPARE ? (size_t)(fd_limit - PARKED_FD_SPARE) :
	                                        (size_t)fd_limit / 2;
}
