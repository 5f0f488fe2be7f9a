/*
 * The worker's open-file cache (filecache.h). A hash table of entries
 * keyed by the clean relative path, chained, with a least-recently-used
 * list through the same entries. One allocation per entry: the entry, its
 * path, and a small file's content. Nothing is allocated on a hit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "filecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "resolve.h"

struct fc_entry {
	struct fc_entry *hnext;         /* hash chain */
	struct fc_entry *lprev, *lnext; /* most recently used first */
	uint32_t hash;
	unsigned refs; /* responses using it now */
	int linked;    /* in the table; 0: detached, freed at its last release */
	int fd;        /* -1 when data holds the file */
	int isdir;
	struct stat st;
	uint64_t checked_ms;
	struct fc_validators v;
	char *data; /* NULL, or st.st_size bytes after path */
	size_t datalen;
	char path[];
};

struct filecache {
	struct fc_entry **tab;
	uint32_t mask; /* buckets - 1 */
	struct fc_entry *lru, *lru_tail;
	unsigned max_entries, max_fds, entries, fds; /* fds: detached ones too */
	uint32_t valid_ms;
	size_t mem;
	struct filecache_stats st;
};

/* FNV-1a */
static uint32_t path_hash(const char *p)
{
	uint32_t h = 2166136261u;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static int fc_on(const struct filecache *fc) { return fc != NULL && fc->tab != NULL; }

/* ---- the lists ---- */

static void lru_unlink(struct filecache *fc, struct fc_entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		fc->lru = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		fc->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_front(struct filecache *fc, struct fc_entry *e)
{
	e->lprev = NULL;
	e->lnext = fc->lru;
	if (fc->lru)
		fc->lru->lprev = e;
	else
		fc->lru_tail = e;
	fc->lru = e;
}

static void entry_destroy(struct filecache *fc, struct fc_entry *e)
{
	if (e->fd >= 0) {
		close(e->fd);
		fc->fds--;
	}
	fc->mem -= e->datalen;
	free(e);
}

/* Out of the table; closed now, or by the last response still using it. */
static void entry_detach(struct filecache *fc, struct fc_entry *e)
{
	struct fc_entry **pp = &fc->tab[e->hash & fc->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(fc, e);
	e->linked = 0;
	fc->entries--;
	if (e->refs == 0)
		entry_destroy(fc, e);
}

static struct fc_entry *entry_find(struct filecache *fc, const char *path, uint32_t h)
{
	for (struct fc_entry *e = fc->tab[h & fc->mask]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

/* ---- setup ---- */

static int table_make(struct filecache *fc, unsigned max_entries)
{
	uint32_t n = 16;

	while (n < max_entries && n < (1u << 30))
		n <<= 1;
	if ((fc->tab = calloc(n, sizeof(*fc->tab))) == NULL) {
		log_warn("open file cache of %u entries: off", max_entries);
		return -1;
	}
	fc->mask = n - 1;
	return 0;
}

void filecache_flush(struct filecache *fc)
{
	while (fc != NULL && fc->lru)
		entry_detach(fc, fc->lru);
}

int filecache_configure(
    struct filecache *fc, unsigned max_entries, unsigned max_fds, uint32_t valid_ms)
{
	if (fc_on(fc)) {
		filecache_flush(fc);
		free(fc->tab);
		fc->tab = NULL;
	}
	fc->max_entries = max_entries;
	fc->max_fds = max_fds;
	fc->valid_ms = valid_ms;
	if (max_entries == 0 || valid_ms == 0)
		return 0;
	return table_make(fc, max_entries);
}

struct filecache *filecache_new(unsigned max_entries, unsigned max_fds, uint32_t valid_ms)
{
	struct filecache *fc = calloc(1, sizeof(*fc));

	if (fc == NULL)
		return NULL;
	filecache_configure(fc, max_entries, max_fds, valid_ms);
	return fc;
}

void filecache_free(struct filecache *fc)
{
	if (fc == NULL)
		return;
	filecache_configure(fc, 0, 0, 0);
	free(fc);
}

/* ---- handing out ---- */

static void validators_of(const struct stat *st, struct fc_validators *v)
{
	http_date(st->st_mtime, v->lm, sizeof(v->lm));
	http_etag(v->etag, sizeof(v->etag), st->st_mtime, st->st_size);
}

static void hand_entry(struct fc_entry *e, struct fc_file *f)
{
	e->refs++;
	f->fd = e->fd;
	f->isdir = e->isdir;
	f->data = e->data;
	f->st = &e->st;
	f->v = &e->v;
	f->e = e;
}

/* An uncached file: the caller owns fd. */
static void hand_own(int fd, int isdir, struct fc_file *f)
{
	validators_of(&f->own_st, &f->own_v);
	f->fd = fd;
	f->isdir = isdir;
	f->data = NULL;
	f->st = &f->own_st;
	f->v = &f->own_v;
	f->e = NULL;
}

/* A failure: nothing to release, and isdir as resolve_open_idx() said. */
static void hand_none(int isdir, struct fc_file *f)
{
	f->fd = -1;
	f->isdir = isdir;
	f->data = NULL;
	f->e = NULL;
}

/* ---- filling ---- */

/* Room for one more descriptor: the least recently used ones holding one go. */
static int fd_room(struct filecache *fc)
{
	struct fc_entry *e = fc->lru_tail, *prev;

	while (fc->fds >= fc->max_fds && e) {
		prev = e->lprev;
		if (e->fd >= 0) {
			entry_detach(fc, e);
			fc->st.evicted++;
		}
		e = prev;
	}
	return fc->fds < fc->max_fds;
}

/* A small file, read whole: 1 when it is now in data. */
static int entry_read(struct filecache *fc, struct fc_entry *e, size_t size)
{
	ssize_t n = size ? pread(e->fd, e->data, size, 0) : 0;

	if (n != (ssize_t)size)
		return 0; /* changed under us, or unreadable: sendfile instead */
	close(e->fd);
	e->fd = -1;
	e->datalen = size;
	fc->mem += size;
	return 1;
}

static int fits_memory(const struct filecache *fc, const struct stat *st)
{
	return st->st_size <= FILECACHE_MEM_FILE &&
	    fc->mem + (size_t)st->st_size <= FILECACHE_MEM_TOTAL;
}

/* A new entry owning fd; NULL: no room, fd stays the caller's. */
static struct fc_entry *entry_new(
    struct filecache *fc, const char *path, uint32_t h, int fd, int isdir, const struct stat *st)
{
	int inmem = fits_memory(fc, st);
	size_t plen = strlen(path) + 1, dlen = inmem ? (size_t)st->st_size : 0;
	struct fc_entry *e;

	if (!inmem && !fd_room(fc))
		return NULL;
	if ((e = calloc(1, sizeof(*e) + plen + dlen)) == NULL)
		return NULL;
	memcpy(e->path, path, plen);
	e->hash = h;
	e->fd = fd;
	e->isdir = isdir;
	e->st = *st;
	validators_of(st, &e->v);
	e->data = inmem ? e->path + plen : NULL;
	if (inmem && !entry_read(fc, e, dlen)) {
		e->data = NULL;
		if (!fd_room(fc)) {
			free(e);
			return NULL;
		}
	}
	if (e->fd >= 0)
		fc->fds++;
	return e;
}

static void entry_insert(struct filecache *fc, struct fc_entry *e, uint64_t now_ms)
{
	struct fc_entry **b;

	while (fc->entries >= fc->max_entries && fc->lru_tail) {
		entry_detach(fc, fc->lru_tail);
		fc->st.evicted++;
	}
	b = &fc->tab[e->hash & fc->mask];
	e->hnext = *b;
	*b = e;
	lru_front(fc, e);
	e->linked = 1;
	e->checked_ms = now_ms;
	fc->entries++;
}

/* The same file as the entry holds: nothing about it has changed. */
static int same_file(const struct fc_entry *e, const struct stat *st, int isdir)
{
	const struct stat *o = &e->st;

	return e->isdir == isdir && o->st_dev == st->st_dev && o->st_ino == st->st_ino &&
	    o->st_size == st->st_size && o->st_mode == st->st_mode &&
	    o->st_mtim.tv_sec == st->st_mtim.tv_sec && o->st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	    o->st_ctim.tv_sec == st->st_ctim.tv_sec && o->st_ctim.tv_nsec == st->st_ctim.tv_nsec;
}

/*
 * A freshly resolved file: kept by the entry that already holds it,
 * cached as a new entry, or handed out uncached when there is no room.
 */
static void fill(struct filecache *fc, struct fc_entry *old, const char *path, uint32_t h, int fd,
    int isdir, uint64_t now_ms, struct fc_file *f)
{
	struct fc_entry *e;

	if (old && same_file(old, &f->own_st, isdir)) {
		close(fd);
		old->checked_ms = now_ms;
		fc->st.revalidated++;
		hand_entry(old, f);
		return;
	}
	if (old) {
		entry_detach(fc, old);
		fc->st.replaced++;
	}
	if ((e = entry_new(fc, path, h, fd, isdir, &f->own_st)) == NULL) {
		hand_own(fd, isdir, f);
		return;
	}
	entry_insert(fc, e, now_ms);
	hand_entry(e, f);
}

int filecache_open(struct filecache *fc, int rootfd, const char *relpath, uint64_t now_ms,
    struct fc_file *f, int *status)
{
	struct fc_entry *e = NULL;
	uint32_t h = 0;
	int fd, isdir;

	if (fc_on(fc)) {
		h = path_hash(relpath);
		e = entry_find(fc, relpath, h);
		if (e && now_ms - e->checked_ms < fc->valid_ms) {
			fc->st.hits++;
			lru_unlink(fc, e);
			lru_front(fc, e);
			hand_entry(e, f);
			return 0;
		}
		fc->st.misses += e == NULL;
	}
	fd = resolve_open_idx(rootfd, relpath, &f->own_st, status, &isdir);
	if (fd == -1) {
		if (e)
			entry_detach(fc, e); /* gone, or no longer allowed */
		hand_none(isdir, f);
		return -1;
	}
	if (fc_on(fc))
		fill(fc, e, relpath, h, fd, isdir, now_ms, f);
	else
		hand_own(fd, isdir, f);
	return 0;
}

void filecache_put(struct filecache *fc, struct fc_entry *e, int fd)
{
	if (e == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (--e->refs == 0 && !e->linked)
		entry_destroy(fc, e);
}

void filecache_release(struct filecache *fc, struct fc_file *f)
{
	filecache_put(fc, f->e, f->fd);
	f->e = NULL;
	f->fd = -1;
	f->data = NULL;
}

void filecache_stats(const struct filecache *fc, struct filecache_stats *s)
{
	*s = fc->st;
	s->entries = fc->entries;
	s->fds = fc->fds;
	s->mem = fc->mem;
}
