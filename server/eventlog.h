/*
 * The daemon's memory of what happened: the last few hundred supervision
 * events (started, ready, exited, hung, restarted, backing off, scale,
 * reload, a refused control client), each numbered, timed and naming its
 * role and pid, for `wsctl events` and `events -f`. A ring: the oldest go
 * first. Pure bookkeeping, no I/O.
 */
#ifndef WSD_EVENTLOG_H
#define WSD_EVENTLOG_H

#include <stdint.h>
#include <sys/types.h>

#define ELOG_CAP 512

struct elog_rec {
	uint64_t seq;     /* 1, 2, ... never reused */
	int64_t time_ms;  /* wall clock, ms since the epoch */
	char kind[24];    /* "started", "exited", "scale", ... */
	char role[16];    /* "listener", "manager", "worker", "daemon", "control" */
	int pid;          /* 0 when none */
	char detail[192]; /* "exit 3", "2..16 -> 4..8", ... */
};

struct elog {
	struct elog_rec ring[ELOG_CAP];
	uint64_t next_seq; /* seq of the next record */
	/* Called after each record is added (the control plane's followers). */
	void (*added)(const struct elog_rec *r, void *arg);
	void *arg;
};

void elog_init(struct elog *l);

/* Add a record stamped now; returns it. */
const struct elog_rec *elog_add(struct elog *l, const char *kind, const char *role, pid_t pid,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Same, with the wall time given (tests). */
const struct elog_rec *elog_add_at(struct elog *l, int64_t time_ms, const char *kind,
    const char *role, pid_t pid, const char *detail);

/*
 * The oldest record still held whose seq is >= since, or NULL. Walk on
 * with elog_next().
 */
const struct elog_rec *elog_since(const struct elog *l, uint64_t since);
const struct elog_rec *elog_next(const struct elog *l, const struct elog_rec *r);

/* The seq of the oldest record held (next_seq when empty). */
uint64_t elog_first(const struct elog *l);

#endif
