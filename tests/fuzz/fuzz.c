/* SPDX-License-Identifier: MIT */
/* Linked into every fuzz target: sanitizer defaults a run must not
 * depend on the caller's environment for. */
#include "fuzz.h"

/* UBSan only prints and carries on unless told to halt; libFuzzer then
 * never sees the error. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}
