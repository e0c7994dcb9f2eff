/* SPDX-License-Identifier: MIT */
/* Placeholder while issue #6 is being written. */
#include <check.h>
#include <stdlib.h>

START_TEST(placeholder)
{
	ck_assert_msg(1, "placeholder");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("placeholder");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, placeholder);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
