/*
 * Content types by extension. Everything is built at init: an
 * open-addressing table of (extension, type) whose strings live in a few
 * arena chunks, each type already carrying its charset parameter, so a
 * lookup only hashes and compares and returns a pointer that stays valid
 * until the next mime_init() or mime_free().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mime.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define MIME_DEFAULT "application/octet-stream"
#define MIME_CHARSET "; charset=utf-8"
#define EXT_MAX 32 /* longer extensions are ignored */
#define TYPE_MAX 128
#define CHUNK_SIZE 8192

struct chunk {
	struct chunk *next;
	size_t used;
	char data[CHUNK_SIZE];
};

struct slot {
	const char *ext; /* NULL: empty */
	const char *type;
};

struct table {
	struct slot *slots;
	size_t cap; /* a power of two */
	size_t count;
	struct chunk *chunks;
};

static struct table cur;

/* Used when no mime.types file can be read. */
static const char builtin[] = "text/html html htm\n"
                              "text/css css\n"
                              "text/javascript js mjs\n"
                              "application/json json map\n"
                              "text/plain txt text log\n"
                              "application/xml xml\n"
                              "text/markdown md markdown\n"
                              "text/csv csv\n"
                              "image/svg+xml svg svgz\n"
                              "image/png png\n"
                              "image/jpeg jpg jpeg\n"
                              "image/gif gif\n"
                              "image/webp webp\n"
                              "image/avif avif\n"
                              "image/vnd.microsoft.icon ico\n"
                              "image/bmp bmp\n"
                              "application/pdf pdf\n"
                              "application/wasm wasm\n"
                              "application/manifest+json webmanifest\n"
                              "application/atom+xml atom\n"
                              "application/rss+xml rss\n"
                              "font/woff woff\n"
                              "font/woff2 woff2\n"
                              "font/ttf ttf\n"
                              "font/otf otf\n"
                              "video/mp4 mp4 m4v\n"
                              "video/webm webm\n"
                              "audio/mpeg mp3\n"
                              "audio/ogg ogg oga\n"
                              "audio/wav wav\n"
                              "application/zip zip\n"
                              "application/gzip gz\n"
                              "application/x-tar tar\n";

/* Types that are text in all but name: sent with a charset too. */
static const char *const text_like[] = {
    "application/javascript",
    "application/json",
    "application/xml",
    "image/svg+xml",
};

/* ---- arena ---- */

static char *arena_strdup(struct table *t, const char *s, size_t n)
{
	struct chunk *c = t->chunks;
	char *p;

	if (c == NULL || CHUNK_SIZE - c->used < n + 1) {
		if ((c = malloc(sizeof(*c))) == NULL)
			return NULL;
		c->next = t->chunks;
		c->used = 0;
		t->chunks = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
}

static void table_free(struct table *t)
{
	struct chunk *c, *next;

	for (c = t->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* ---- hash table ---- */

/* FNV-1a: short keys, no adversary (the keys come from our own file). */
static size_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static struct slot *find(struct slot *slots, size_t cap, const char *ext)
{
	size_t i = hash(ext) & (cap - 1);

	while (slots[i].ext != NULL && strcmp(slots[i].ext, ext) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

/* Keep the load at most one half so probes stay short and always end. */
static int grow(struct table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256, i;
	struct slot *ns;

	if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
		return -1;
	for (i = 0; i < t->cap; i++)
		if (t->slots[i].ext != NULL)
			*find(ns, ncap, t->slots[i].ext) = t->slots[i];
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

/* The first definition of an extension wins, as it does in the file's order. */
static int insert(struct table *t, const char *ext, const char *type)
{
	struct slot *s;
	char *e;

	if ((t->count + 1) * 2 > t->cap && grow(t) == -1)
		return -1;
	s = find(t->slots, t->cap, ext);
	if (s->ext != NULL)
		return 0;
	if ((e = arena_strdup(t, ext, strlen(ext))) == NULL)
		return -1;
	s->ext = e;
	s->type = type;
	t->count++;
	return 0;
}

/* ---- parsing ---- */

/* Every byte must be fit for a header value; no CR/LF can reach a response. */
static int token_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int type_ok(const char *s)
{
	const char *slash = strchr(s, '/');

	return token_ok(s) && slash != NULL && slash != s && slash[1] != '\0' &&
	    strchr(slash + 1, '/') == NULL && strlen(s) < TYPE_MAX;
}

static int wants_charset(const char *type)
{
	if (strncasecmp(type, "text/", 5) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(text_like) / sizeof(text_like[0]); i++)
		if (strcasecmp(type, text_like[i]) == 0)
			return 1;
	return 0;
}

/* Lowercase ext into buf; 0 if it is usable as a key. */
static int ext_key(const char *ext, size_t n, char *buf)
{
	if (n == 0 || n >= EXT_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)ext[i] <= 0x20 || ext[i] == '/' || ext[i] == '.' ||
		    (unsigned char)ext[i] >= 0x7f)
			return -1;
		buf[i] = (char)tolower((unsigned char)ext[i]);
	}
	buf[n] = '\0';
	return 0;
}

/* One "type ext ext ..." line; malformed lines and words are skipped. */
static int parse_line(struct table *t, char *line)
{
	static const char ws[] = " \t\r\n\v\f";
	char full[TYPE_MAX + sizeof(MIME_CHARSET)], key[EXT_MAX], *tok, *save;
	const char *type = NULL;
	char *hash_at;

	if ((hash_at = strchr(line, '#')) != NULL)
		*hash_at = '\0';
	if ((tok = strtok_r(line, ws, &save)) == NULL || !type_ok(tok))
		return 0;
	snprintf(full, sizeof(full), "%s%s", tok, wants_charset(tok) ? MIME_CHARSET : "");
	while ((tok = strtok_r(NULL, ws, &save)) != NULL) {
		if (ext_key(tok, strlen(tok), key) == -1)
			continue;
		/* the type is stored once per line, on its first usable extension */
		if (type == NULL && (type = arena_strdup(t, full, strlen(full))) == NULL)
			return -1;
		if (insert(t, key, type) == -1)
			return -1;
	}
	return 0;
}

static int load_builtin(struct table *t)
{
	char line[256];
	const char *p = builtin, *nl;
	size_t n;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		n = (size_t)(nl - p);
		memcpy(line, p, n);
		line[n] = '\0';
		if (parse_line(t, line) == -1)
			return -1;
	}
	return 0;
}

static int load_file(struct table *t, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	while (r == 0 && getline(&line, &cap, fp) != -1)
		r = parse_line(t, line);
	if (r == 0 && ferror(fp))
		r = -1;
	free(line);
	return r;
}

/* ---- interface ---- */

/*
 * A file that cannot be opened, or that defines nothing, leaves us the
 * built-in table: a server with no types at all would serve everything
 * as octet-stream. The old table survives a failed reload.
 */
int mime_init(const char *path)
{
	struct table t;
	FILE *fp = NULL;
	int r = 0;

	memset(&t, 0, sizeof(t));
	if (path != NULL && (fp = fopen(path, "re")) == NULL)
		log_warn("%s, using built-in types", path);
	if (fp != NULL) {
		r = load_file(&t, fp);
		fclose(fp);
		if (r == 0 && t.count == 0) {
			log_warnx("%s: no types, using built-in types", path);
			table_free(&t);
		}
	}
	if (r == 0 && t.count == 0)
		r = load_builtin(&t);
	if (r == -1) {
		log_warn("mime types");
		table_free(&t);
		return -1;
	}
	table_free(&cur);
	cur = t;
	return (int)cur.count;
}

void mime_free(void) { table_free(&cur); }

const char *mime_lookup(const char *filename)
{
	const char *base, *dot;
	char key[EXT_MAX];
	struct slot *s;

	if ((base = strrchr(filename, '/')) != NULL)
		filename = base + 1;
	/* leading dots name a hidden file, they do not start an extension */
	while (*filename == '.')
		filename++;
	if ((dot = strrchr(filename, '.')) == NULL)
		return MIME_DEFAULT;
	dot++;
	if (cur.cap == 0 && mime_init(NULL) == -1)
		return MIME_DEFAULT;
	if (ext_key(dot, strlen(dot), key) == -1)
		return MIME_DEFAULT;
	s = find(cur.slots, cur.cap, key);
	return s->ext != NULL ? s->type : MIME_DEFAULT;
}
