/* The end of every Check test's main(). */
#ifndef WSD_CHECK_RUN_H
#define WSD_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

/* Run every test, free the runner; the exit status tells ctest. */
static inline int check_run(SRunner *sr, enum print_output how)
{
	int failed;

	srunner_run_all(sr, how);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
