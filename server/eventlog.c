/* The daemon's ring of supervision events: see eventlog.h. */
#include "eventlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

void elog_init(struct elog *l)
{
	memset(l, 0, sizeof(*l));
	l->next_seq = 1;
}

uint64_t elog_first(const struct elog *l)
{
	return l->next_seq > ELOG_CAP ? l->next_seq - ELOG_CAP : 1;
}

static struct elog_rec *slot_of(const struct elog *l, uint64_t seq)
{
	return (struct elog_rec *)&l->ring[(seq - 1) % ELOG_CAP];
}

const struct elog_rec *elog_add_at(struct elog *l, int64_t time_ms, const char *kind,
    const char *role, pid_t pid, const char *detail)
{
	struct elog_rec *r = slot_of(l, l->next_seq);

	memset(r, 0, sizeof(*r));
	r->seq = l->next_seq++;
	r->time_ms = time_ms;
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->role, sizeof(r->role), "%s", role);
	r->pid = (int)pid;
	snprintf(r->detail, sizeof(r->detail), "%.*s", (int)sizeof(r->detail) - 1, detail);
	if (l->added)
		l->added(r, l->arg);
	return r;
}

const struct elog_rec *elog_add(
    struct elog *l, const char *kind, const char *role, pid_t pid, const char *fmt, ...)
{
	char detail[sizeof(((struct elog_rec *)0)->detail)];
	struct timeval tv;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	gettimeofday(&tv, NULL);
	return elog_add_at(
	    l, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, kind, role, pid, detail);
}

const struct elog_rec *elog_since(const struct elog *l, uint64_t since)
{
	uint64_t first = elog_first(l);

	if (since < first)
		since = first;
	return since < l->next_seq ? slot_of(l, since) : NULL;
}

const struct elog_rec *elog_next(const struct elog *l, const struct elog_rec *r)
{
	return r->seq + 1 < l->next_seq ? slot_of(l, r->seq + 1) : NULL;
}
