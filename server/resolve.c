/*
 * Request target to file descriptor, never leaving the document root.
 *
 * Two layers. resolve_target() is purely lexical: it decodes the target
 * and removes every "." and ".." so the path handed on has none, and
 * refuses hidden names. Then resolve_open() lets the kernel walk that
 * path with openat2(2), RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS: with no
 * symlink on it, the lexical check holds for the file opened. A path with
 * a symlink (or where openat2 is missing or filtered) is opened with
 * openat(2), and its real path, read back from /proc, must lie under the
 * root's and hold no hidden name.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it). */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_LARGEFILE)
#define EAGAIN_TRIES 3

enum { OA2_UNKNOWN, OA2_WORKS, OA2_MISSING };

static int oa2_state = OA2_UNKNOWN;
static int force_fallback;

void resolve_force_fallback(int on) { force_fallback = on; }

/* ---- lexical part ---- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Finish the component out[cs..*o): drop it if empty or ".", and for ".."
 * drop it with its parent. mark is where the component's '/' was written.
 */
static int end_component(char *out, size_t mark, size_t cs, size_t *o)
{
	size_t n = *o - cs;

	if (n == 0 || (n == 1 && out[cs] == '.')) {
		*o = mark;
		return 0;
	}
	if (n == 2 && out[cs] == '.' && out[cs + 1] == '.') {
		if (mark == 0)
			return 400; /* would climb above the root */
		*o = mark;
		while (*o > 0 && out[*o - 1] != '/')
			(*o)--;
		if (*o > 0)
			(*o)--; /* the parent's own separator */
		return 0;
	}
	return 0;
}

#define WELL_KNOWN ".well-known"

/*
 * After normalisation "." and ".." are gone: any leading dot is a hidden
 * name, except ".well-known" as the first component (RFC 8615).
 */
static int has_hidden(const char *p, size_t n)
{
	size_t wk = sizeof(WELL_KNOWN) - 1;

	for (size_t i = 0; i < n; i++)
		if (p[i] == '.' && (i == 0 || p[i - 1] == '/')) {
			if (i == 0 && n >= wk && memcmp(p, WELL_KNOWN, wk) == 0 &&
			    (n == wk || p[wk] == '/'))
				continue;
			return 1;
		}
	return 0;
}

/* The last component [cs, o) names a directory: empty, "." or "..". */
static int dir_form(const char *out, size_t cs, size_t o)
{
	size_t n = o - cs;

	return n == 0 || (n == 1 && out[cs] == '.') ||
	    (n == 2 && out[cs] == '.' && out[cs + 1] == '.');
}

/*
 * %2F decodes to '/' and is then a separator like any other: every
 * decoded byte goes through the same normalisation, so an encoded slash
 * or dot can never smuggle a ".." past it. Intermediate results count
 * against outlen too, so "/<long>/../x" may give 414 although "x" fits.
 */
int resolve_target_dir(const char *target, size_t len, char *out, size_t outlen, int *dir)
{
	size_t i, o = 0, mark = 0, cs = 0;
	unsigned char c;
	int hi, lo, r;

	if (outlen == 0)
		return 414;
	if (len == 0 || target[0] != '/')
		return 400;
	for (i = 1;; i++) {
		if (i == len || target[i] == '?' || target[i] == '#')
			break;
		c = (unsigned char)target[i];
		if (c == '%') {
			if (len - i < 3 || (hi = hexval(target[i + 1])) < 0 ||
			    (lo = hexval(target[i + 2])) < 0)
				return 400;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return 400; /* NUL and control bytes, raw or encoded */
		if (c == '/') {
			if ((r = end_component(out, mark, cs, &o)) != 0)
				return r;
			mark = cs = o;
			continue;
		}
		if (o == cs && o > 0) {
			/* first byte of a component after another: separator */
			if (o + 1 >= outlen)
				return 414;
			out[o++] = '/';
			cs = o;
		}
		if (o + 1 >= outlen)
			return 414;
		out[o++] = (char)c;
	}
	*dir = dir_form(out, cs, o);
	if ((r = end_component(out, mark, cs, &o)) != 0)
		return r;
	out[o] = '\0';
	return has_hidden(out, o) ? 404 : 0;
}

int resolve_target(const char *target, size_t len, char *out, size_t outlen)
{
	int dir;

	return resolve_target_dir(target, len, out, outlen, &dir);
}

/* RFC 3986 pchar, less pct-encoded: unreserved, sub-delims, ':' and '@'. */
static int is_pchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

size_t resolve_encode(const char *path, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (is_pchar(*p) || (*p == '/' && o > 0)) {
			if (o + 1 >= outlen)
				return 0;
			out[o++] = (char)*p;
			continue;
		}
		if (o + 3 >= outlen)
			return 0;
		out[o++] = '%';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 0xf];
	}
	if (o >= outlen)
		return 0;
	out[o] = '\0';
	return o;
}

/* ---- opening ---- */

static const char *why = "";

const char *resolve_why(void) { return why; }

/* A 403, and why, for the error log. */
static int forbidden(const char *reason)
{
	why = reason;
	return 403;
}

static int errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return 404;
	case EXDEV: /* a symlink out of the root */
		return forbidden("symlink leaves the root");
	case ELOOP:
		return forbidden("too many levels of symlinks");
	case EACCES:
	case EPERM:
		return forbidden("permission denied");
	case ENXIO: /* a socket, or a device without a driver */
	case ENODEV:
		return forbidden("not a regular file");
	case ENAMETOOLONG:
		return 414;
	default:
		return 500;
	}
}

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = flags;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/*
 * Is openat2 usable? Decided on its first answer. ENOSYS is plain; EPERM
 * may be a seccomp filter or a real refusal of that one file, so ask
 * again about the root itself, which any honest kernel allows.
 */
static int oa2_missing(int rootfd, int e)
{
	int fd;

	if (oa2_state != OA2_UNKNOWN)
		return oa2_state == OA2_MISSING;
	if (e == EPERM) {
		fd = sys_openat2(rootfd, ".", O_PATH | O_CLOEXEC, 0);
		if (fd >= 0)
			close(fd);
		else
			e = errno;
	}
	oa2_state = (e == ENOSYS || e == EPERM) ? OA2_MISSING : OA2_WORKS;
	if (oa2_state == OA2_MISSING)
		log_warnx("openat2 unavailable (%s), checking paths via /proc", strerror(e));
	return oa2_state == OA2_MISSING;
}

/* Real path of an fd; 0 only if it fit completely. */
static int fd_path(int fd, char *buf, size_t size, size_t *len)
{
	char link[32];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size);
	if (n <= 0 || (size_t)n >= size || buf[0] != '/')
		return -1;
	*len = (size_t)n;
	return 0;
}

/*
 * Fallback proof that fd lies beneath rootfd: 1 beneath, 0 not, -1
 * beneath but through a hidden name (a component starting with '.',
 * ".well-known" first excepted), as a symlink may lead. The root's path is
 * read afresh each time: a cached copy keyed by fd number would go stale
 * if the root were reopened or renamed, and stale here means unsafe.
 * No /proc means no proof, and no proof means refuse.
 */
static int beneath(int rootfd, int fd)
{
	static int warned;
	char root[PATH_MAX], path[PATH_MAX];
	size_t rlen, plen;

	if (fd_path(rootfd, root, sizeof(root), &rlen) == -1 ||
	    fd_path(fd, path, sizeof(path), &plen) == -1) {
		if (!warned) {
			warned = 1;
			log_warnx("cannot read a real path from /proc/self/fd, "
			          "refusing what cannot be proven beneath the root");
		}
		return 0;
	}
	if (rlen == 1)
		rlen = 0; /* the root is "/" */
	/* readlink does not terminate: equal lengths mean the root itself */
	if (plen < rlen || memcmp(root, path, rlen) != 0 || (plen > rlen && path[rlen] != '/'))
		return 0;
	return plen > rlen && has_hidden(path + rlen + 1, plen - rlen - 1) ? -1 : 1;
}

/* Cut the last component off p: "a/b" -> "a", "a" -> "", "/a" -> "/". */
static void cut_last(char *p)
{
	char *slash = strrchr(p, '/');

	if (slash == NULL)
		p[0] = '\0';
	else if (slash == p)
		p[1] = '\0';
	else
		*slash = '\0';
}

/*
 * Does the deepest existing part of p (from dirfd; an absolute p from
 * "/") lie beneath the root? p is cut in place. An empty p is dirfd.
 */
static int deepest_beneath(int rootfd, int dirfd, char *p)
{
	int fd, inside;

	for (;;) {
		if ((fd = openat(dirfd, p[0] ? p : ".", O_PATH | O_CLOEXEC)) >= 0) {
			inside = beneath(rootfd, fd) != 0;
			close(fd);
			return inside;
		}
		if (p[0] == '\0' || strcmp(p, "/") == 0)
			return 0;
		cut_last(p);
	}
}

/*
 * A dangling symlink at prefix, pointing to target: judged by where the
 * deepest existing part of its target lies, relative targets from the
 * link's own directory.
 */
static int dangling_status(int rootfd, const char *prefix, char *target, int status)
{
	char joined[PATH_MAX];
	const char *slash = strrchr(prefix, '/');
	int n, inside;

	if (target[0] == '/')
		inside = deepest_beneath(rootfd, AT_FDCWD, target);
	else {
		n = snprintf(joined, sizeof(joined), "%.*s%s%s", slash ? (int)(slash - prefix) : 0,
		    prefix, slash ? "/" : "", target);
		inside = n > 0 && (size_t)n < sizeof(joined) &&
		    deepest_beneath(rootfd, rootfd, joined);
	}
	return inside ? status : forbidden("symlink leaves the root");
}

/*
 * A missing name: 404 only if the deepest part of the path that exists
 * lies beneath the root, and a dangling symlink on the way points beneath
 * it. Through a symlink leading out, 403 whether or not the outside name
 * exists, as openat2 answers: no probing outside.
 */
static int missing_status(int rootfd, const char *path, int status)
{
	char prefix[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(prefix, sizeof(prefix), "%s", path) >= (int)sizeof(prefix))
		return forbidden("symlink leaves the root");
	while (prefix[0] != '\0') {
		if ((fd = openat(rootfd, prefix, O_PATH | O_CLOEXEC)) >= 0) {
			close(fd);
			break;
		}
		n = readlinkat(rootfd, prefix, target, sizeof(target));
		if (n > 0 && (size_t)n < sizeof(target)) {
			target[n] = '\0';
			return dangling_status(rootfd, prefix, target, status);
		}
		cut_last(prefix);
	}
	return deepest_beneath(rootfd, rootfd, prefix) ? status :
	                                                 forbidden("symlink leaves the root");
}

/*
 * Fallback: the path is first opened O_PATH, which opens nothing for real
 * (no device is touched), proven beneath the root, and only then reopened
 * for reading through /proc/self/fd.
 */
static int open_fallback(int rootfd, const char *path, int *status)
{
	char link[32];
	int pfd, fd, inside;

	if ((pfd = openat(rootfd, path, O_PATH | O_CLOEXEC)) == -1) {
		*status = errno_status(errno);
		if (*status == 404)
			*status = missing_status(rootfd, path, 404);
		return -1;
	}
	if ((inside = beneath(rootfd, pfd)) != 1) {
		close(pfd);
		*status = inside == -1 ? 404 : forbidden("symlink leaves the root");
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", pfd);
	if ((fd = open(link, OPEN_FLAGS)) == -1)
		*status = errno_status(errno);
	close(pfd);
	return fd;
}

/*
 * One path beneath the root, by whichever means this process has. The
 * fast path refuses every symlink: with none on the way, the lexical check
 * already proved the path clean, in one syscall. A symlink (ELOOP) or an
 * absolute name (EXDEV) goes the slow way, which follows links and then
 * judges the real path: beneath the root, no hidden name on it.
 */
static int open_beneath(int rootfd, const char *path, int *status)
{
	int fd, e, tries = 0;

	if (force_fallback || oa2_state == OA2_MISSING)
		return open_fallback(rootfd, path, status);
	/* EAGAIN: a rename raced the walk; the kernel asks us to retry */
	while ((fd = sys_openat2(rootfd, path, OPEN_FLAGS, RESOLVE_NO_SYMLINKS)) == -1 &&
	    errno == EAGAIN && ++tries < EAGAIN_TRIES)
		;
	if (fd >= 0) {
		oa2_state = OA2_WORKS;
		return fd;
	}
	e = errno;
	if (e == ELOOP || e == EXDEV)
		return open_fallback(rootfd, path, status);
	if ((e == ENOSYS || e == EPERM) && oa2_missing(rootfd, e))
		return open_fallback(rootfd, path, status);
	*status = errno_status(e);
	return -1;
}

/* Open path and fstat it; a directory is left open for the caller to judge. */
static int open_stat(int rootfd, const char *path, struct stat *st, int *status)
{
	int fd;

	if ((fd = open_beneath(rootfd, path, status)) == -1)
		return -1;
	if (fstat(fd, st) == -1) {
		close(fd);
		*status = 500;
		return -1;
	}
	return fd;
}

int resolve_open_idx(int rootfd, const char *relpath, struct stat *st, int *status, int *isdir)
{
	char ipath[PATH_MAX];
	int fd, n;

	*isdir = 0;
	if ((fd = open_stat(rootfd, relpath[0] == '\0' ? "." : relpath, st, status)) == -1)
		return -1;
	if (S_ISDIR(st->st_mode)) {
		/* from the root again, so the index too is proven beneath it */
		close(fd);
		*isdir = 1;
		n = relpath[0] == '\0' ?
		    snprintf(ipath, sizeof(ipath), "%s", RESOLVE_INDEX) :
		    snprintf(ipath, sizeof(ipath), "%s/%s", relpath, RESOLVE_INDEX);
		if (n < 0 || (size_t)n >= sizeof(ipath)) {
			*status = 414;
			return -1;
		}
		if ((fd = open_stat(rootfd, ipath, st, status)) == -1) {
			if (*status == 404)
				*status = forbidden("directory without index");
			return -1;
		}
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		*status = forbidden("not a regular file");
		return -1;
	}
	return fd;
}

int resolve_open(int rootfd, const char *relpath, struct stat *st, int *status)
{
	int isdir;

	return resolve_open_idx(rootfd, relpath, st, status, &isdir);
}
