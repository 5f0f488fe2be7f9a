/*
 * Mapping a request target to an open file beneath the document root.
 * Nothing outside the root is ever opened: the kernel enforces it with
 * openat2(RESOLVE_BENEATH); where openat2 is unavailable (ENOSYS, or EPERM
 * from a seccomp sandbox) a fallback checks the opened file's real path.
 */
#ifndef WSD_RESOLVE_H
#define WSD_RESOLVE_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * Turn an origin-form target ("/a/b%20c?q") into a clean relative path
 * ("a/b c"): query dropped, percent-escapes decoded, "." and ".." and
 * repeated slashes removed. Returns 0, or an HTTP status: 400 for a bad
 * escape, a NUL, a target not starting with '/', or ".." above the root;
 * 404 for any component starting with '.'; 414 if it does not fit.
 * An empty result means the root itself. Control bytes (< 0x20, 0x7f),
 * raw or encoded, are 400. "%2F" is decoded to '/' before normalising,
 * so it is an ordinary separator and cannot hide a "..".
 */
int resolve_target(const char *target, size_t len, char *out, size_t outlen);

/*
 * The same, and *dir = 1 when the target names a directory: its path ends
 * in '/', "." or ".." ("/a/", "/a/.", "/a/b/..", "/"). A regular file
 * asked for that way is 404, and a directory asked for otherwise is
 * redirected to it. The one hidden name allowed is ".well-known" as the
 * first component (RFC 8615, ACME HTTP-01).
 */
int resolve_target_dir(const char *target, size_t len, char *out, size_t outlen, int *dir);

/*
 * A clean relative path (as resolve_target made it) percent-encoded again
 * for a URL path: every byte outside RFC 3986 pchar, '%' among them, as
 * %XX; '/' stays a separator. Returns the length written (NUL added), or 0
 * when it does not fit in outlen (or path is empty). The result never starts with '/' or
 * a backslash, so "/" + it is never a scheme-relative URL. Also safe to log: no
 * control bytes, spaces or quotes.
 */
size_t resolve_encode(const char *path, char *out, size_t outlen);

/*
 * Open a clean relative path beneath rootfd (an O_PATH|O_DIRECTORY fd of
 * the root). A directory is served by its index.html. On success returns
 * an O_RDONLY|O_CLOEXEC fd of a regular file and fills *st. On failure
 * returns -1 and sets *status: 404 missing, or a hidden name (a component
 * starting with '.') on the path actually opened, symlinks followed;
 * 403 symlink leaving the root / directory without index.html / not a
 * regular file / no permission (resolve_why() says which), 414 name too
 * long, 500 anything else. The fd also carries O_NONBLOCK (so a FIFO
 * never blocks the open), which regular files ignore.
 *
 * Cost: one openat2 with RESOLVE_NO_SYMLINKS when no symlink is on the
 * path (the lexical check in resolve_target already proved it clean).
 * Only a symlink (ELOOP) or an absolute name (EXDEV) takes the slow path:
 * open following links, then check the opened file's real path, read from
 * /proc/self/fd, against the root's: beneath it, and no hidden component.
 * So absolute links that land inside the root are served too.
 */
int resolve_open(int rootfd, const char *relpath, struct stat *st, int *status);

/*
 * The same, and *isdir = 1 when relpath named a directory: on success the
 * fd is its index.html (the content type must then come from
 * RESOLVE_INDEX, not from relpath); on failure its index was missing
 * (403) or unusable.
 */
#define RESOLVE_INDEX "index.html"
int resolve_open_idx(int rootfd, const char *relpath, struct stat *st, int *status, int *isdir);

/* Why the last resolve_open*() of this process answered 403: a constant string. */
const char *resolve_why(void);

/* Tests: 1 forces the fallback path as if openat2 answered ENOSYS. */
void resolve_force_fallback(int on);

#endif
