/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets and the seed writer: fixed keys, checks. */
#ifndef BRAID_FUZZ_H
#define BRAID_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* fuzz_wire opens packets under this session key and index; the sealed
 * packets in its corpus are made with the same (see seeds.c). */
#define FUZZ_SESSION 0x01020304u
static const uint8_t fuzz_key[32] = {
	0x62, 0x72, 0x61, 0x69, 0x64, 0x2d, 0x66, 0x75,	/* "braid-fuzz" */
	0x7a, 0x7a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
};

/* A broken invariant of the code under test: a crash libFuzzer saves as
 * a reproducer. Unlike assert() never compiled out. */
#define FUZZ_FAIL(...)                                                    \
	do {                                                              \
		fprintf(stderr, "fuzz check failed: " __VA_ARGS__);       \
		fputc('\n', stderr);                                      \
		abort();                                                  \
	} while (0)
#define FUZZ_CHECK(cond)                                                  \
	do {                                                              \
		if (!(cond))                                              \
			FUZZ_FAIL("%s:%d: %s", __FILE__, __LINE__, #cond);\
	} while (0)

/* The libFuzzer entry points, declared for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
