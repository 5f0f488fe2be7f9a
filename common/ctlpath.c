/* The default control socket path and the checks on its directory. */
#include "ctlpath.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ctlpath_default(uid_t uid, const char *xdg_runtime_dir, char *buf, size_t len)
{
	int n;

	if (uid == 0)
		n = snprintf(buf, len, "%s", CTLPATH_SYSTEM);
	else if (xdg_runtime_dir != NULL && xdg_runtime_dir[0] == '/')
		n = snprintf(buf, len, "%s/wsd/wsd.sock", xdg_runtime_dir);
	else
		n = snprintf(buf, len, "/tmp/wsd-%u/wsd.sock", (unsigned)uid);
	return (n < 0 || (size_t)n >= len || (size_t)n > CTLPATH_MAX) ? -1 : 0;
}

static int copy_path(char *dst, const char *src, const char *what, char *err, size_t errlen)
{
	size_t n = strlen(src);

	if (n == 0 || n > CTLPATH_MAX) {
		snprintf(err, errlen, "%s: socket path %s (%zu bytes, at most %d)", what,
		    n ? "too long" : "empty", n, CTLPATH_MAX);
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int ctlpath_candidates(uid_t uid, const char *flag, const char *env, const char *xdg,
    char out[2][CTLPATH_MAX + 1], char *err, size_t errlen)
{
	if (flag != NULL)
		return copy_path(out[0], flag, "-s", err, errlen) < 0 ? 0 : 1;
	if (env != NULL && env[0] != '\0')
		return copy_path(out[0], env, CTLPATH_ENV, err, errlen) < 0 ? 0 : 1;
	if (ctlpath_default(uid, xdg, out[0], CTLPATH_MAX + 1) < 0) {
		snprintf(err, errlen, "default socket path too long (XDG_RUNTIME_DIR=%s)", xdg);
		return 0;
	}
	if (uid == 0)
		return 1;
	memcpy(out[1], CTLPATH_SYSTEM, sizeof(CTLPATH_SYSTEM));
	return 2;
}

/* The directory part of path into dir. */
static int parent_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (slash == NULL || slash == path)
		return -1;
	n = snprintf(dir, len, "%.*s", (int)(slash - path), path);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int ctlpath_prepare_dir(const char *sockpath, mode_t mode, char *err, size_t errlen)
{
	char dir[CTLPATH_MAX + 1];
	struct stat st;

	if (parent_dir(sockpath, dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "%s: no parent directory", sockpath);
		return -1;
	}
	if (mkdir(dir, mode) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		snprintf(err, errlen,
		    "%s: refused: must be a directory owned by uid %u and writable by no one else",
		    dir, (unsigned)geteuid());
		return -1;
	}
	return 0;
}
