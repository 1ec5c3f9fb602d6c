/* Common includes for the cmocka unit tests.  Each test/unit/test_<module>.c
 * is one program linked with every library object (see Makefile) and run
 * by test/run with CMOCKA_MESSAGE_OUTPUT=TAP. */
#ifndef RF_UNIT_H
#define RF_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#endif
