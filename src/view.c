/* SPDX-License-Identifier: MIT */
/* Placeholder: being written (issue #6). */
#include <errno.h>

#include "view.h"

void view_status(FILE *f, struct json_object *status)
{
	fputs(json_object_to_json_string_ext(status, JSON_C_TO_STRING_PRETTY),
	      f);
	fputc('\n', f);
}

int view_top(const char *ctl_path, double interval, char *err, size_t errlen)
{
	(void)ctl_path; (void)interval;
	snprintf(err, errlen, "not written yet");
	return -ENOSYS;
}
