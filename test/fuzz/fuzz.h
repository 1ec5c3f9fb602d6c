/* Common to the libFuzzer harnesses (test/fuzz/fuzz_*.c): CHECK, an
 * assertion that stays on in every build and makes libFuzzer keep the
 * input that broke it. */
#ifndef RF_FUZZ_H
#define RF_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* Aborts, naming the file, line and condition, when cond is false. */
#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: broken: %s\n", __FILE__,  \
				__LINE__, #cond);                          \
			abort();                                           \
		}                                                          \
	} while (0)

#endif
