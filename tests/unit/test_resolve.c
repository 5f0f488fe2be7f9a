/*
 * resolve: the lexical cleaning of targets, then opening beneath a real
 * temporary tree, once through openat2 and once through the /proc fallback.
 *
 *	base/outside			"OUTSIDE"	must never be served
 *	base/outdir/{f,index.html}	"OUTSIDE"
 *	base/rootevil/secret		"OUTSIDE"	shares the root's prefix
 *	base/root/			the document root
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "resolve.h"

static char base[] = "/tmp/wsd-resolve.XXXXXX";
static char root[64];
static int rootfd = -1;
static int have_unreadable, have_device;
static int have_openat2;
static int mode; /* 0 openat2, 1 fallback (forced, or openat2 missing) */

/* ---- resolve_target ---- */

struct tcase_t {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int status;
	const char *out;
};

static const struct tcase_t targets[] = {
    {"/", 0, 0, ""},
    {"/index.html", 0, 0, "index.html"},
    {"/a/b/c.txt", 0, 0, "a/b/c.txt"},
    {"/a/./b", 0, 0, "a/b"},
    {"/a//b", 0, 0, "a/b"},
    {"//a", 0, 0, "a"},
    {"///", 0, 0, ""},
    {"/a/", 0, 0, "a"},
    {"/./a/.", 0, 0, "a"},
    {"/a/../x", 0, 0, "x"},
    {"/a/b/../../x", 0, 0, "x"},
    {"/a/..", 0, 0, ""},
    {"/a/b/..", 0, 0, "a"},
    {"/%2e/x", 0, 0, "x"},
    {"/a%2fb", 0, 0, "a/b"}, /* %2F is a separator after decoding */
    {"/a%2F%2Fb", 0, 0, "a/b"},
    {"/a%2f..%2fb", 0, 0, "b"},
    {"/.git/../x", 0, 0, "x"}, /* the hidden part is gone */
    {"/a?../../x", 0, 0, "a"},
    {"/?x", 0, 0, ""},
    {"/a#../../x", 0, 0, "a"},
    {"/a%3fb", 0, 0, "a?b"},
    {"/a%23b", 0, 0, "a#b"},
    {"/a%20b", 0, 0, "a b"},
    {"/a%25", 0, 0, "a%"},
    {"/a%252e%252e", 0, 0, "a%2e%2e"}, /* decoded once only */
    {"/%252e%252e/x", 0, 0, "%2e%2e/x"},
    {"/caf%C3%a9", 0, 0, "caf\xc3\xa9"},
    {"/caf\xc3\xa9", 0, 0, "caf\xc3\xa9"},
    {"/a\\..\\b", 0, 0, "a\\..\\b"}, /* backslash is just a byte */
    {"/a..b", 0, 0, "a..b"},
    {"/a.", 0, 0, "a."},
    {"/abcdef", 3, 0, "ab"}, /* len is honoured */

    {"", 0, 400, NULL},
    {"x", 0, 400, NULL},
    {"a/b", 0, 400, NULL},
    {"%2fa", 0, 400, NULL},
    {"?/a", 0, 400, NULL},
    {"/..", 0, 400, NULL},
    {"/../x", 0, 400, NULL},
    {"/a/../../x", 0, 400, NULL},
    {"/a/../..", 0, 400, NULL},
    {"/%2e%2e/x", 0, 400, NULL},
    {"/%2E%2e%2fx", 0, 400, NULL},
    {"/..%2fx", 0, 400, NULL},
    {"/.%2e/x", 0, 400, NULL},
    {"/%2e./x", 0, 400, NULL},
    {"//..//x", 0, 400, NULL},
    {"/a/%2e%2e%2f%2e%2e%2fx", 0, 400, NULL},
    {"/a%2f..%2f..%2fx", 0, 400, NULL},
    {"/./../x", 0, 400, NULL},
    {"/a/./../../x", 0, 400, NULL},
    {"/%00", 0, 400, NULL},
    {"/a%00.html", 0, 400, NULL},
    {"/a/..%00", 0, 400, NULL},
    {"/a\0b", 4, 400, NULL}, /* a raw NUL inside len */
    {"/a%0", 0, 400, NULL},
    {"/a%", 0, 400, NULL},
    {"/a%?x", 0, 400, NULL},
    {"/a%0?x", 0, 400, NULL},
    {"/a%zz", 0, 400, NULL},
    {"/a%g1", 0, 400, NULL},
    {"/a%1g", 0, 400, NULL},
    {"/a%%41", 0, 400, NULL},
    {"/a%-1", 0, 400, NULL},
    {"/a%+f", 0, 400, NULL},
    {"/a%2f", 4, 400, NULL}, /* escape cut by len */
    {"/a%01", 0, 400, NULL},
    {"/a%0a", 0, 400, NULL},
    {"/a%0D%0Ab", 0, 400, NULL},
    {"/a%1f", 0, 400, NULL},
    {"/a%7f", 0, 400, NULL},
    {"/a%7F", 0, 400, NULL},
    {"/a\tb", 0, 400, NULL},
    {"/a\x1f", 0, 400, NULL},
    {"/a\x7f", 0, 400, NULL},

    {"/.git/config", 0, 404, NULL},
    {"/.git", 0, 404, NULL},
    {"/a/.hidden", 0, 404, NULL},
    {"/.well-known/security.txt", 0, 0, ".well-known/security.txt"}, /* RFC 8615 */
    {"/.well-known", 0, 0, ".well-known"},
    {"/%2ewell-known/acme-challenge/t", 0, 0, ".well-known/acme-challenge/t"},
    {"/x/../.well-known/", 0, 0, ".well-known"},
    {"/a/.well-known/x", 0, 404, NULL}, /* the first component only */
    {"/.well-knownx", 0, 404, NULL},
    {"/.well-know", 0, 404, NULL},
    {"/.well-known/.x", 0, 404, NULL},
    {"/a/%2ehidden", 0, 404, NULL},
    {"/a%2f.hidden", 0, 404, NULL},
    {"/a/...", 0, 404, NULL},
    {"/.../x", 0, 404, NULL},
    {"/a/.%2e.", 0, 404, NULL},
    {"/.htaccess?x", 0, 404, NULL},
    {"/a/.x/..", 0, 0, "a"},
};

START_TEST(test_target_table)
{
	const struct tcase_t *t = &targets[_i];
	size_t len = t->len ? t->len : strlen(t->in);
	char out[256];
	int r;

	memset(out, 'Z', sizeof(out));
	r = resolve_target(t->in, len, out, sizeof(out));
	ck_assert_msg(
	    r == t->status, "target #%d \"%s\": got %d, want %d", _i, t->in, r, t->status);
	if (t->out != NULL)
		ck_assert_str_eq(out, t->out);
}
END_TEST

START_TEST(test_target_overlong)
{
	char in[64], out[16];
	int r;

	memset(in, 'a', sizeof(in));
	in[0] = '/';
	/* 15 bytes fit with their NUL, 16 do not */
	ck_assert_int_eq(resolve_target(in, 16, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 15);
	ck_assert_int_eq(resolve_target(in, 17, out, sizeof(out)), 414);
	ck_assert_int_eq(resolve_target(in, sizeof(in), out, sizeof(out)), 414);
	/* escapes count decoded: 15 x "%61" fits */
	{
		char enc[1 + 15 * 3 + 1];

		enc[0] = '/';
		for (int i = 0; i < 15; i++)
			memcpy(enc + 1 + i * 3, "%61", 3);
		enc[sizeof(enc) - 1] = '\0';
		r = resolve_target(enc, strlen(enc), out, sizeof(out));
		ck_assert_int_eq(r, 0);
		ck_assert_str_eq(out, "aaaaaaaaaaaaaaa");
	}
	/* components: "a/b/c/d/e/f/g/h" is 15 */
	ck_assert_int_eq(resolve_target("/a/b/c/d/e/f/g/h", 16, out, 16), 0);
	ck_assert_int_eq(resolve_target("/a/b/c/d/e/f/g/h/i", 18, out, 16), 414);
	ck_assert_int_eq(resolve_target("/", 1, out, 1), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(resolve_target("/a", 2, out, 1), 414);
	ck_assert_int_eq(resolve_target("/a", 2, out, 0), 414);
}
END_TEST

/* Which targets name a directory: a regular file asked for so is 404. */
START_TEST(test_target_dir_form)
{
	static const struct {
		const char *in;
		int dir;
	} c[] = {
	    {"/", 1},
	    {"/?q", 1},
	    {"/a/", 1},
	    {"/a/.", 1},
	    {"/a/b/..", 1},
	    {"/a//", 1},
	    {"/a/?x", 1},
	    {"/a/%2f", 1},
	    {"//x/..", 1},
	    {"/a", 0},
	    {"/a?x/", 0},
	    {"/a/b", 0},
	    {"/a.", 0},
	    {"/a..", 0},
	    {"/a/b..", 0},
	    {"/a#/", 0},
	};
	char out[64];
	int dir;

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		dir = -1;
		ck_assert_int_eq(
		    resolve_target_dir(c[k].in, strlen(c[k].in), out, sizeof(out), &dir), 0);
		ck_assert_msg(dir == c[k].dir, "%s: dir %d, want %d", c[k].in, dir, c[k].dir);
	}
}
END_TEST

/* Encoded again: only pchar and '/' stay, and decoding gives the path back. */
START_TEST(test_encode)
{
	static const struct {
		const char *in, *out;
	} c[] = {
	    {"a/b.txt", "a/b.txt"},
	    {"evil.example/sub", "evil.example/sub"},
	    {"\\evil.example", "%5Cevil.example"},
	    {"a b%?#\"\xc3\xa9", "a%20b%25%3F%23%22%C3%A9"},
	    {"~-._!$&'()*+,;=:@", "~-._!$&'()*+,;=:@"},
	    {"a<>[]^`{|}", "a%3C%3E%5B%5D%5E%60%7B%7C%7D"},
	};
	char out[128], back[160];

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		ck_assert_uint_eq(resolve_encode(c[k].in, out, sizeof(out)), strlen(c[k].out));
		ck_assert_str_eq(out, c[k].out);
		snprintf(back, sizeof(back), "/%s", out);
		ck_assert_int_eq(resolve_target(back, strlen(back), out, sizeof(out)), 0);
		ck_assert_str_eq(out, c[k].in);
	}
	/* exactly fitting, then one byte short */
	ck_assert_uint_eq(resolve_encode("a b", out, 6), 5);
	ck_assert_uint_eq(resolve_encode("a b", out, 5), 0);
	ck_assert_uint_eq(resolve_encode("ab", out, 2), 0);
}
END_TEST

/* Whatever the bytes, a clean result has no "..", no leading '/' or '.'. */
START_TEST(test_target_random)
{
	static const char alpha[] = "/.%2eEfF0a?#\\";
	char in[24], out[64];
	unsigned seed = 12345;

	for (int n = 0; n < 200000; n++) {
		size_t len = 1 + (seed = seed * 1103515245 + 12345) % sizeof(in);
		in[0] = '/';
		for (size_t i = 1; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			in[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		if (resolve_target(in, len, out, sizeof(out)) != 0)
			continue;
		ck_assert_msg(out[0] != '/' && out[0] != '.' && strstr(out, "/.") == NULL &&
		        strstr(out, "//") == NULL,
		    "\"%.*s\" -> \"%s\"", (int)len, in, out);
		ck_assert(strlen(out) == 0 || out[strlen(out) - 1] != '/');
	}
}
END_TEST

/* ---- the tree ---- */

static void put(const char *rel, const char *content)
{
	char p[PATH_MAX];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if ((fp = fopen(p, "w")) == NULL || fputs(content, fp) == EOF || fclose(fp) != 0) {
		perror(p);
		exit(2);
	}
}

static void mk(int r, const char *what)
{
	if (r == -1) {
		perror(what);
		exit(2);
	}
}

static void link_in(const char *target, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/root/%s", base, rel);
	mk(symlink(target, p), p);
}

static void tree_setup(void)
{
	char p[PATH_MAX];
	struct sockaddr_un sun;
	int s;

	mk(mkdtemp(base) ? 0 : -1, "mkdtemp");
	snprintf(root, sizeof(root), "%s/root", base);
#define D(rel) \
	do { \
		snprintf(p, sizeof(p), "%s/%s", base, rel); \
		mk(mkdir(p, 0755), p); \
	} while (0)
	D("root");
	D("root/sub");
	D("root/noindex");
	D("root/dirindex");
	D("root/dirindex/index.html");
	D("root/badindex");
	D("root/.git");
	D("root/.well-known");
	D("outdir");
	D("rootevil");
#undef D
	put("outside", "OUTSIDE");
	put("outdir/f", "OUTSIDE");
	put("outdir/index.html", "OUTSIDE");
	put("rootevil/secret", "OUTSIDE");
	put("root/index.html", "ROOTINDEX");
	put("root/a.txt", "INSIDE");
	put("root/sub/index.html", "SUBINDEX");
	put("root/sub/b.txt", "SUB-B");
	put("root/noindex/c.txt", "NOINDEX-C");
	put("root/.hidden", "HIDDEN");
	put("root/.git/config", "HIDDEN");
	put("root/.well-known/acme", "ACME");
	put("root/a b\xc3\xa9", "SPACED");

	link_in("a.txt", "link_in");
	link_in("sub/../a.txt", "link_dotdot_in");
	link_in("sub", "link_subdir");
	link_in("/etc/passwd", "link_passwd");
	link_in("../outside", "link_out");
	link_in("../outdir", "link_outdir");
	link_in("../rootevil/secret", "link_evil");
	link_in("sub/../../outside", "link_out2");
	link_in("/proc/self/root/etc/passwd", "link_proc");
	link_in("link_loop", "link_loop");
	link_in("missing", "link_dangling");
	snprintf(p, sizeof(p), "%s/a.txt", root);
	link_in(p, "link_abs_in"); /* absolute, yet inside */
	link_in("../../outside", "sub/link_up");
	link_in("../../outdir/index.html", "badindex/index.html");
	link_in(".hidden", "link_hidden");
	link_in(".git", "link_git");
	link_in(".git/config", "link_gitcfg");
	link_in("sub/../.git/config", "link_gitcfg2");
	link_in("../.git/config", "sub/link_gitcfg");
	link_in(".well-known/acme", "link_wk");
	link_in("../.well-known/acme", "sub/link_wk");
	snprintf(p, sizeof(p), "%s/sub", root);
	link_in(p, "link_abs_dir");
	snprintf(p, sizeof(p), "%s/.git/config", root);
	link_in(p, "link_abs_git");
	snprintf(p, sizeof(p), "%s/missing", root);
	link_in(p, "link_abs_dangling_in");
	link_in("/nonexistent-wsd/x", "link_abs_dangling_out");
	link_in("../nonexistent", "link_dangling_out");
	link_in("../../nonexistent/x", "sub/link_dangling_up");
	link_in("sub/../missing", "link_dangling_dotdot_in");

	snprintf(p, sizeof(p), "%s/fifo", root);
	mk(mkfifo(p, 0644), p);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", root);
	mk(s = socket(AF_UNIX, SOCK_STREAM, 0), "socket");
	mk(bind(s, (struct sockaddr *)&sun, sizeof(sun)), "bind");
	close(s);

	/* devices and permission bits need privilege, or its absence */
	snprintf(p, sizeof(p), "%s/null", root);
	have_device = mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0;
	if (geteuid() != 0) {
		put("root/secret", "NOPE");
		snprintf(p, sizeof(p), "%s/secret", root);
		mk(chmod(p, 0), p);
		have_unreadable = 1;
	}
	mk(rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), root);
	/* under valgrind, say, there is none and the fallback runs throughout */
	{
		struct open_how how = {.flags = O_PATH, .resolve = RESOLVE_BENEATH};
		int fd = (int)syscall(SYS_openat2, rootfd, ".", &how, sizeof(how));

		if ((have_openat2 = fd >= 0))
			close(fd);
		else
			fprintf(
			    stderr, "openat2: %s, both modes test the fallback\n", strerror(errno));
	}
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p);
}

static void tree_teardown(void)
{
	close(rootfd);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The lowest free descriptor: the same after a call means nothing leaked. */
static int lowest_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

static void expect_body(const char *rel, const char *body)
{
	struct stat st;
	char buf[64];
	int fd, status = 0, low = lowest_fd();
	ssize_t n;

	fd = resolve_open(rootfd, rel, &st, &status);
	ck_assert_msg(fd >= 0, "\"%.64s\": status %d", rel, status);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, body);
	ck_assert_int_eq(st.st_size, (off_t)strlen(body));
	close(fd);
	ck_assert_int_eq(lowest_fd(), low);
}

static void expect_status(const char *rel, int want)
{
	struct stat st;
	int fd, status = 0, low = lowest_fd();

	fd = resolve_open(rootfd, rel, &st, &status);
	if (fd >= 0)
		close(fd);
	ck_assert_msg(fd == -1 && status == want, "\"%.64s\" [%s]: fd %d status %d, want %d", rel,
	    mode ? "fallback" : "openat2", fd, status, want);
	ck_assert_int_eq(lowest_fd(), low);
}

/* _i: 0 openat2, 1 the /proc fallback. Each test runs forked, so state is fresh. */
#define MODE \
	do { \
		resolve_force_fallback(_i); \
		mode = _i || !have_openat2; \
	} while (0)

START_TEST(test_open_served)
{
	MODE;
	expect_body("", "ROOTINDEX");
	expect_body("index.html", "ROOTINDEX");
	expect_body("a.txt", "INSIDE");
	expect_body("sub", "SUBINDEX");
	expect_body("sub/b.txt", "SUB-B");
	expect_body("noindex/c.txt", "NOINDEX-C");
	expect_body("link_in", "INSIDE");
	expect_body("link_dotdot_in", "INSIDE");
	expect_body("link_subdir", "SUBINDEX");
	expect_body("link_subdir/b.txt", "SUB-B");
	expect_body("a b\xc3\xa9", "SPACED");
}
END_TEST

START_TEST(test_open_escapes)
{
	MODE;
	expect_status("link_passwd", 403);
	expect_status("link_out", 403);
	expect_status("link_out2", 403);
	expect_status("link_outdir", 403);
	expect_status("link_outdir/f", 403);
	expect_status("link_outdir/index.html", 403);
	/* A missing name outside answers as an existing one: no probing outside. */
	expect_status("link_outdir/no-such-file", 403);
	expect_status("link_outdir/no/such/path", 403);
	/* A dangling link is judged by where it points: out is 403, as openat2 says. */
	expect_status("link_abs_dangling_out", 403);
	expect_status("link_dangling_out", 403);
	expect_status("sub/link_dangling_up", 403);
	expect_status("link_abs_dangling_out/y", 403);
	expect_status("../no-such-file", 403);
	expect_status("link_evil", 403);
	expect_status("link_proc", 403);
	expect_status("sub/link_up", 403);
	expect_status("badindex", 403);
	expect_status("badindex/index.html", 403);
	/* not from resolve_target, but must still stay inside */
	expect_status("../outside", 403);
	expect_status("sub/../../outside", 403);
	expect_status("/etc/passwd", 403);
}
END_TEST

START_TEST(test_open_refused)
{
	MODE;
	expect_status("noindex", 403);
	expect_status("dirindex", 403); /* index.html is a directory */
	expect_status("fifo", 403);     /* and the open did not block */
	expect_status("sock", 403);
	expect_status("link_loop", 403);
	if (have_device)
		expect_status("null", 403);
	if (have_unreadable)
		expect_status("secret", 403);
}
END_TEST

START_TEST(test_open_missing)
{
	char name[400];

	MODE;
	expect_status("nope", 404);
	expect_status("sub/nope", 404);
	expect_status("nodir/x", 404);
	expect_status("a.txt/x", 404); /* ENOTDIR */
	expect_status("link_dangling", 404);
	expect_status("link_dangling_dotdot_in", 404);
	expect_status("link_abs_dangling_in", 404);
	expect_status("link_abs_dangling_in/x", 404);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	expect_status(name, 414); /* NAME_MAX */
}
END_TEST

/* The caller learns when an index was served, to type it as HTML. */
START_TEST(test_open_isindex)
{
	static const struct {
		const char *rel;
		int isindex;
	} c[] = {
	    {"", 1},
	    {"sub", 1},
	    {"link_subdir", 1},
	    {"index.html", 0},
	    {"a.txt", 0},
	    {"sub/index.html", 0},
	};
	struct stat st;
	int fd, status, isindex;

	MODE;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		isindex = -1;
		fd = resolve_open_idx(rootfd, c[k].rel, &st, &status, &isindex);
		ck_assert_msg(fd >= 0, "%s: %d", c[k].rel, status);
		close(fd);
		ck_assert_int_eq(isindex, c[k].isindex);
	}
	isindex = -1;
	/* a directory without an index is still a directory: redirected first */
	ck_assert_int_eq(resolve_open_idx(rootfd, "noindex", &st, &status, &isindex), -1);
	ck_assert_int_eq(status, 403);
	ck_assert_int_eq(isindex, 1);
	isindex = -1;
	ck_assert_int_eq(resolve_open_idx(rootfd, "nope", &st, &status, &isindex), -1);
	ck_assert_int_eq(isindex, 0);
}
END_TEST

/* Absolute symlinks that land inside the root are served, whatever the mode. */
START_TEST(test_open_abs_inside)
{
	MODE;
	expect_body("link_abs_in", "INSIDE");
	expect_body("link_abs_dir", "SUBINDEX");
	expect_body("link_abs_dir/b.txt", "SUB-B");
	expect_status("link_passwd", 403);
}
END_TEST

/* The hidden-name rule holds for the path opened, symlinks followed. */
START_TEST(test_open_hidden_via_link)
{
	MODE;
	expect_status("link_hidden", 404);
	expect_status("link_gitcfg", 404);
	expect_status("link_gitcfg2", 404);
	expect_status("sub/link_gitcfg", 404);
	expect_status("link_git/config", 404);
	expect_status("link_git", 404);
	expect_status("link_abs_git", 404);
	expect_body("link_wk", "ACME");
	expect_body("sub/link_wk", "ACME");
	expect_body(".well-known/acme", "ACME");
}
END_TEST

/* Every 403 says why, for the error log. */
START_TEST(test_open_why)
{
	static const struct {
		const char *rel, *why;
	} c[] = {
	    {"noindex", "directory without index"},
	    {"link_out", "symlink leaves the root"},
	    {"link_outdir/f", "symlink leaves the root"},
	    {"link_outdir/nope", "symlink leaves the root"},
	    {"fifo", "not a regular file"},
	    {"dirindex", "not a regular file"},
	};
	struct stat st;
	int status;

	MODE;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		ck_assert_int_eq(resolve_open(rootfd, c[k].rel, &st, &status), -1);
		ck_assert_int_eq(status, 403);
		ck_assert_msg(strcmp(resolve_why(), c[k].why) == 0, "%s [%s]: why \"%s\"", c[k].rel,
		    mode ? "fallback" : "openat2", resolve_why());
	}
	if (have_unreadable) {
		ck_assert_int_eq(resolve_open(rootfd, "secret", &st, &status), -1);
		ck_assert_str_eq(resolve_why(), "permission denied");
	}
}
END_TEST

/* Target and open together, as a request would use them. */
START_TEST(test_target_then_open)
{
	static const struct {
		const char *t;
		int status;
		const char *body;
	} c[] = {
	    {"/", 0, "ROOTINDEX"},
	    {"/sub/", 0, "SUBINDEX"},
	    {"/sub/../a.txt?x=1", 0, "INSIDE"},
	    {"/a%20b%C3%A9", 0, "SPACED"},
	    {"/%2e%2e/outside", 400, NULL},
	    {"/sub/..%2f..%2foutside", 400, NULL},
	    {"/.hidden", 404, NULL},
	    {"/link_out", 403, NULL},
	    {"/link_outdir/f", 403, NULL},
	};
	char rel[PATH_MAX];
	struct stat st;
	char buf[64];
	int fd, status;
	ssize_t n;

	MODE;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		status = resolve_target(c[k].t, strlen(c[k].t), rel, sizeof(rel));
		if (status == 0 && (fd = resolve_open(rootfd, rel, &st, &status)) >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			ck_assert_int_ge(n, 0);
			buf[n] = '\0';
			ck_assert_ptr_nonnull(c[k].body);
			ck_assert_str_eq(buf, c[k].body);
			continue;
		}
		ck_assert_msg(status == c[k].status, "%s: %d", c[k].t, status);
	}
}
END_TEST

/*
 * Real directories nested to a path that fits PATH_MAX but not with
 * "/index.html" added. Made and removed by fd, as the full path is too long.
 */
#define DEEP 16
START_TEST(test_open_index_too_long)
{
	char rel[PATH_MAX], name[DEEP][NAME_MAX + 1];
	int fds[DEEP + 1], k;
	size_t len = 0, n;

	MODE;
	fds[0] = open(root, O_PATH | O_DIRECTORY);
	for (k = 0; k < DEEP; k++) {
		n = k < DEEP - 1 ? NAME_MAX : 250;
		memset(name[k], _i ? 'e' : 'd', n); /* a failure leaves no clash */
		name[k][n] = '\0';
		ck_assert_int_eq(mkdirat(fds[k], name[k], 0755), 0);
		fds[k + 1] = openat(fds[k], name[k], O_PATH | O_DIRECTORY);
		ck_assert_int_ge(fds[k + 1], 0);
		len += (size_t)snprintf(
		    rel + len, sizeof(rel) - len, "%s%s", k ? "/" : "", name[k]);
	}
	ck_assert_uint_eq(len, 4090);
	/* the fallback cannot read back a real path this long: it refuses */
	expect_status(rel, mode ? 403 : 414);
	for (k = DEEP; k > 0; k--) {
		close(fds[k]);
		ck_assert_int_eq(unlinkat(fds[k - 1], name[k - 1], AT_REMOVEDIR), 0);
	}
	close(fds[0]);
}
END_TEST

#if defined(__x86_64__)
#define TEST_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_ARCH AUDIT_ARCH_AARCH64
#endif

/*
 * A seccomp filter answering openat2 with ENOSYS (_i 0) or EPERM (_i 1),
 * as container sandboxes do: the fallback must switch on by itself. The
 * filter dies with this forked test process.
 */
START_TEST(test_open_seccomp)
{
#ifdef TEST_ARCH
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_ARCH, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (_i ? EPERM : ENOSYS)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0)
		return; /* the filter would outlive this test */
	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
	resolve_force_fallback(0);
	mode = 1;
	expect_body("a.txt", "INSIDE");
	expect_body("link_abs_in", "INSIDE");
	expect_status("link_gitcfg", 404);
	expect_body("sub", "SUBINDEX");
	expect_status("link_out", 403);
	expect_status("link_evil", 403);
	expect_status("link_passwd", 403);
	expect_status("link_outdir/f", 403);
	expect_status("noindex", 403);
	expect_status("nope", 404);
#endif
}
END_TEST

static Suite *resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc;

	tc = tcase_create("target");
	tcase_add_loop_test(tc, test_target_table, 0, (int)(sizeof(targets) / sizeof(targets[0])));
	tcase_add_test(tc, test_target_overlong);
	tcase_add_test(tc, test_target_random);
	tcase_add_test(tc, test_target_dir_form);
	tcase_add_test(tc, test_encode);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_unchecked_fixture(tc, tree_setup, tree_teardown);
	tcase_add_loop_test(tc, test_open_served, 0, 2);
	tcase_add_loop_test(tc, test_open_escapes, 0, 2);
	tcase_add_loop_test(tc, test_open_refused, 0, 2);
	tcase_add_loop_test(tc, test_open_missing, 0, 2);
	tcase_add_loop_test(tc, test_open_abs_inside, 0, 2);
	tcase_add_loop_test(tc, test_open_hidden_via_link, 0, 2);
	tcase_add_loop_test(tc, test_open_why, 0, 2);
	tcase_add_loop_test(tc, test_open_isindex, 0, 2);
	tcase_add_loop_test(tc, test_target_then_open, 0, 2);
	tcase_add_loop_test(tc, test_open_index_too_long, 0, 2);
	tcase_add_loop_test(tc, test_open_seccomp, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(resolve_suite());

	return check_run(sr, CK_NORMAL);
}
