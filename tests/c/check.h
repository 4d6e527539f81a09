/* The C test programs' assertion, shared by every one of them: CHECK(cond, printf-style
 * message) counts the check in g_checks and, when cond is false, the failure in g_failures,
 * printing where it failed and why (the first CHECK_PRINT_MAX failures: a broken kernel fails
 * thousands of element checks). Each program ends by printing the counts and returning
 * nonzero after any failure. */
#ifndef NNFAST_TEST_CHECK_H
#define NNFAST_TEST_CHECK_H

#include <stdio.h>

static int g_failures = 0;
static int g_checks = 0;

#define CHECK_PRINT_MAX 50

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        g_checks++;                                                                           \
        if (!(cond)) {                                                                        \
            if (++g_failures <= CHECK_PRINT_MAX) {                                            \
                printf("FAIL %s:%d: ", __FILE__, __LINE__);                                   \
                printf(__VA_ARGS__);                                                          \
                printf("\n");                                                                 \
            }                                                                                 \
        }                                                                                     \
    } while (0)

#endif /* NNFAST_TEST_CHECK_H */
