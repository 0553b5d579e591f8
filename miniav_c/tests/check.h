/* Minimal test helpers: CHECK prints where and why, and the test exits non-zero. */
#ifndef MINIAV_TEST_CHECK_H
#define MINIAV_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef _WIN32
/* The CRT's environment, which getenv() in the library reads. */
static inline int setenv(const char *name, const char *value, int overwrite) {
    if (!overwrite && getenv(name)) return 0;
    return _putenv_s(name, value);
}
static inline int unsetenv(const char *name) { return _putenv_s(name, ""); }
#endif

static int check_failures;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                                       \
    do {                                                                                                         \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                                    \
        if (va_ != vb_) {                                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld) %s\n", __FILE__, __LINE__, #a, #b, va_, \
                    vb_, MiniAV_GetLastErrorMessage());                                                          \
            check_failures++;                                                                                    \
        }                                                                                                        \
    } while (0)
#define TEST_DONE()                                                               \
    do {                                                                          \
        if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures); \
        else printf("all checks passed\n");                                       \
        return check_failures ? 1 : 0;                                            \
    } while (0)

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to timeout_ms for *flag to become true (polled). */
#define WAIT_FOR(cond, timeout_ms)                                    \
    do {                                                              \
        for (long w_ = 0; !(cond) && w_ < (timeout_ms); w_ += 2) sleep_ms(2); \
    } while (0)
#endif
