/*
 * A response head built by appending into the connection's buffer: the
 * per-request head needs no format string parsed (snprintf was the largest
 * user-space cost of a cached request). Overflow is remembered, not
 * checked at each step.
 */
#ifndef WSD_HEADBUF_H
#define WSD_HEADBUF_H

#include <stdint.h>
#include <string.h>

struct headbuf {
	char *p;
	size_t len, cap;
	int over; /* something did not fit: the head is unusable */
};

static inline void hb_init(struct headbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
	b->over = 0;
}

static inline void hb_mem(struct headbuf *b, const char *s, size_t n)
{
	if (b->over || n >= b->cap - b->len) { /* room for a NUL is kept */
		b->over = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void hb_str(struct headbuf *b, const char *s) { hb_mem(b, s, strlen(s)); }

/* A string literal: its length known at compile time. */
#define hb_lit(b, s) hb_mem((b), "" s, sizeof(s) - 1)

static inline void hb_u64(struct headbuf *b, uint64_t v)
{
	char t[20];
	size_t i = sizeof(t);

	do
		t[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	hb_mem(b, t + i, sizeof(t) - i);
}

/* The length, NUL-terminated; cap when it did not fit (as snprintf's n would say). */
static inline int hb_end(struct headbuf *b)
{
	if (b->over)
		return (int)b->cap;
	b->p[b->len] = '\0';
	return (int)b->len;
}

#endif
