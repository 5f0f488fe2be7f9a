/*
 * Shared by the fuzz harnesses: a failed check aborts, which libFuzzer
 * reports as a crash with the input that caused it.
 */
#ifndef WSD_FUZZ_CHECK_H
#define WSD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) \
	do { \
		if (!(c)) { \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			abort(); \
		} \
	} while (0)

/*
 * What resolve_target() promises on success: a relative path of
 * non-empty components, none starting with '.' (so no "." or ".."),
 * no control bytes, terminated within outlen.
 */
static inline void check_clean_path(const char *out, size_t outlen)
{
	size_t n = strnlen(out, outlen), cs = 0;

	CHECK(n < outlen);
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)out[i];

		if (i == n || c == '/') {
			CHECK(n == 0 || i > cs); /* no empty component */
			cs = i + 1;
			continue;
		}
		CHECK(c >= 0x20 && c != 0x7f);
		/* no hidden name, but ".well-known" first (RFC 8615) */
		CHECK(i != cs || c != '.' ||
		    (cs == 0 && strncmp(out, ".well-known", 11) == 0 &&
		        (n == 11 || out[11] == '/')));
	}
}

#endif
