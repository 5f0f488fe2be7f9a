/*
 * The worker's open-file cache: what resolve_open_idx() answered for a
 * clean relative path - the descriptor, its stat, the validators, and for
 * a small file its whole content in memory - kept for the next request.
 *
 * An entry is trusted for valid_ms after it was last checked; the next use
 * after that resolves the path again from the root (the very same checks
 * as an uncached request: openat2 beneath the root, no symlink leaving it,
 * no hidden name, a regular file) and compares what it finds (device,
 * inode, size, mtime, ctime, mode): the same file keeps the entry, another
 * one replaces it, a failure drops it and is answered as such. Failures
 * (404, 403, ...) are never cached. Bounded in entries (least recently
 * used goes first) and in descriptors; an entry still in use by a response
 * is detached, not closed, and closed when that response releases it.
 */
#ifndef WSD_FILECACHE_H
#define WSD_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "http.h"

#define FILECACHE_MEM_FILE (16 * 1024)        /* files up to this size are kept in memory */
#define FILECACHE_MEM_TOTAL (8 * 1024 * 1024) /* all of them together, per worker */

struct filecache;
struct fc_entry;

/* Last-Modified and ETag of a file, formatted once. */
struct fc_validators {
	char lm[40], etag[HTTP_ETAG_MAX];
};

/*
 * One open file for one response. Borrowed from the cache (e != NULL) or
 * the caller's own (e == NULL: fd is closed at release). Either way give
 * it back with filecache_release() once the response no longer needs it.
 */
struct fc_file {
	int fd;                        /* -1 when the body is data */
	int isdir;                     /* the path named a directory: this is its index.html */
	const char *data;              /* the whole file in memory, or NULL */
	const struct stat *st;         /* valid until release */
	const struct fc_validators *v; /* likewise */
	struct fc_entry *e;
	struct stat own_st; /* an uncached file's */
	struct fc_validators own_v;
};

struct filecache_stats {
	uint64_t hits, misses, revalidated, replaced, evicted;
	unsigned entries, fds;
	size_t mem;
};

/*
 * max_entries 0 or valid_ms 0: off, every open goes to resolve_open_idx().
 * So does a NULL cache, everywhere below.
 */
struct filecache *filecache_new(unsigned max_entries, unsigned max_fds, uint32_t valid_ms);
void filecache_free(struct filecache *fc);

/* New bounds (a reload): everything cached so far is dropped. */
int filecache_configure(
    struct filecache *fc, unsigned max_entries, unsigned max_fds, uint32_t valid_ms);

/* Drop every entry (the document root changed). Entries in use live until released. */
void filecache_flush(struct filecache *fc);

/*
 * resolve_open_idx() through the cache: 0 and *f filled, or -1 and
 * *status set as resolve_open_idx() sets it (f->isdir too; releasing f is
 * then a no-op). now_ms: a monotonic clock.
 */
int filecache_open(struct filecache *fc, int rootfd, const char *relpath, uint64_t now_ms,
    struct fc_file *f, int *status);

void filecache_release(struct filecache *fc, struct fc_file *f);

/* Release by parts, for a response that kept only these two (fd owned when e is NULL). */
void filecache_put(struct filecache *fc, struct fc_entry *e, int fd);

void filecache_stats(const struct filecache *fc, struct filecache_stats *s);

#endif
