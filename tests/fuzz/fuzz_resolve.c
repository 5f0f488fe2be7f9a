/*
 * libFuzzer: arbitrary bytes as a request target for resolve_target(),
 * then, for what it accepts, resolve_open_idx() in a small tree made once
 * in a temporary directory: by openat2 and by the /proc fallback, which
 * must agree on whether a file opens and on which file it is, and never
 * hand out anything but a regular file beneath the root, nor leak an fd.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "resolve.h"

static char root[64];
static size_t rootlen;
static int rootfd = -1, lowfd;

/* The tree: files, a directory with and one without an index, symlinks
 * that stay in and that leave, a hidden file, a FIFO. */
static const char *const dirs[] = {"dir", "empty", "dir/sub", NULL};
static const char *const files[] = {
    "index.html", "a.txt", "dir/index.html", "dir/b.txt", ".hidden", "dir/sub/c", NULL};
static const char *const links[][2] = {{"link-in", "a.txt"}, {"link-dir", "dir"},
    {"link-out", "/etc"}, {"dir/up", "../a.txt"}, {"dir/loop", "loop"}, {"link-hidden", ".hidden"},
    {"dir/hidden", "../.hidden"}, {NULL, NULL}};

static void at_root(char *buf, size_t len, const char *rel)
{
	CHECK((size_t)snprintf(buf, len, "%s/%s", root, rel) < len);
}

static void tree_remove(void)
{
	char p[PATH_MAX];

	for (int i = 0; links[i][0]; i++) {
		at_root(p, sizeof(p), links[i][0]);
		unlink(p);
	}
	for (int i = 0; files[i]; i++) {
		at_root(p, sizeof(p), files[i]);
		unlink(p);
	}
	at_root(p, sizeof(p), "fifo");
	unlink(p);
	for (int i = 2; i >= 0; i--) {
		at_root(p, sizeof(p), dirs[i]);
		rmdir(p);
	}
	rmdir(root);
}

static void tree_make(void)
{
	char p[PATH_MAX];
	int fd;

	snprintf(root, sizeof(root), "/tmp/wsd-fuzz-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	rootlen = strlen(root);
	for (int i = 0; dirs[i]; i++) {
		at_root(p, sizeof(p), dirs[i]);
		CHECK(mkdir(p, 0755) == 0);
	}
	for (int i = 0; files[i]; i++) {
		at_root(p, sizeof(p), files[i]);
		CHECK((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
		CHECK(write(fd, files[i], strlen(files[i])) > 0);
		close(fd);
	}
	for (int i = 0; links[i][0]; i++) {
		at_root(p, sizeof(p), links[i][0]);
		CHECK(symlink(links[i][1], p) == 0);
	}
	at_root(p, sizeof(p), "fifo");
	CHECK(mkfifo(p, 0644) == 0);
	atexit(tree_remove);
	CHECK((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	tree_make();
	/* The lowest free descriptor: it must be free again after each input. */
	CHECK((lowfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	close(lowfd);
	return 0;
}

/* A descriptor resolve_open handed out: a regular file under our root. */
static void check_opened(int fd, const struct stat *st)
{
	char link[32], real[PATH_MAX];
	struct stat fst;
	ssize_t n;

	CHECK(fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode));
	CHECK(fst.st_ino == st->st_ino && fst.st_dev == st->st_dev);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real));
	CHECK(n > 0 && (size_t)n < sizeof(real));
	CHECK((size_t)n > rootlen && memcmp(real, root, rootlen) == 0 && real[rootlen] == '/');
	real[n] = '\0';
	CHECK(strstr(real + rootlen, "/.") == NULL); /* no hidden file, even through a link */
}

static int open_one(const char *rel, int fallback, struct stat *st, int *status)
{
	int fd, isindex;

	resolve_force_fallback(fallback);
	*status = 0;
	fd = resolve_open_idx(rootfd, rel, st, status, &isindex);
	resolve_force_fallback(0);
	if (fd >= 0) {
		check_opened(fd, st);
		CHECK(isindex == 0 || isindex == 1);
	} else {
		CHECK(fd == -1);
		CHECK(*status == 403 || *status == 404 || *status == 414 || *status == 500);
	}
	return fd;
}

/* Both ways of opening agree on success and on the file. */
static void check_open(const char *rel)
{
	struct stat st1, st2;
	int s1, s2, fd1, fd2, probe;

	fd1 = open_one(rel, 0, &st1, &s1);
	fd2 = open_one(rel, 1, &st2, &s2);
	CHECK((fd1 >= 0) == (fd2 >= 0));
	if (fd1 >= 0) {
		CHECK(st1.st_ino == st2.st_ino);
		close(fd1);
		close(fd2);
	}
	CHECK((probe = open("/dev/null", O_RDONLY | O_CLOEXEC)) == lowfd);
	close(probe);
}

/* Encoded again (as a redirect's Location is), it cleans back to itself. */
static void check_encode(const char *out, int dir)
{
	char enc[3 * PATH_MAX], in[3 * PATH_MAX + 2], again[PATH_MAX];
	size_t n;
	int dir2;

	if (out[0] == '\0')
		return;
	n = resolve_encode(out, enc, sizeof(enc));
	CHECK(n > 0 && enc[0] != '/' && enc[0] != '\\');
	CHECK(strpbrk(enc, "?#\\\" ") == NULL);
	n = (size_t)snprintf(in, sizeof(in), "/%s%s", enc, dir ? "/" : "");
	CHECK(resolve_target_dir(in, n, again, sizeof(again), &dir2) == 0);
	CHECK(strcmp(again, out) == 0 && dir2 == dir);
}

/* Cleaning a clean path again changes nothing (when nothing decodes). */
static void check_idempotent(const char *out)
{
	char in[PATH_MAX], again[PATH_MAX];
	int n;

	if (strpbrk(out, "%?#") != NULL)
		return;
	n = snprintf(in, sizeof(in), "/%s", out);
	CHECK(n > 0 && (size_t)n < sizeof(in));
	CHECK(resolve_target(in, (size_t)n, again, sizeof(again)) == 0);
	CHECK(strcmp(again, out) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data;
	char out[PATH_MAX - 16], small[12];
	int rc, rcs, dir;

	rc = resolve_target_dir(t, size, out, sizeof(out), &dir);
	CHECK(rc == 0 || rc == 400 || rc == 404 || rc == 414);
	/* A short buffer may add 414, never a different path. */
	rcs = resolve_target(t, size, small, sizeof(small));
	CHECK(rcs == rc || rcs == 414);
	if (rcs == 0)
		CHECK(strcmp(small, out) == 0);
	if (rc != 0)
		return 0;
	check_clean_path(out, sizeof(out));
	check_idempotent(out);
	check_encode(out, dir);
	check_open(out);
	return 0;
}
