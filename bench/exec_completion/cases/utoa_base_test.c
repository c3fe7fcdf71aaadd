#include <stdio.h>
#include <string.h>

int utoa_base(unsigned long value, unsigned base, char *buf);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int gives(unsigned long v, unsigned base, const char *expected)
{
    char buf[80];
    memset(buf, '#', sizeof buf);
    int n = utoa_base(v, base, buf);
    return n == (int)strlen(expected) && strcmp(buf, expected) == 0;
}

int main(void)
{
    CHECK(gives(0, 10, "0"));
    CHECK(gives(7, 10, "7"));
    CHECK(gives(1234567890, 10, "1234567890"));
    CHECK(gives(255, 16, "ff"));
    CHECK(gives(5, 2, "101"));
    CHECK(gives(35, 36, "z"));
    CHECK(gives(36, 36, "10"));
    CHECK(gives(0xffffffffffffffffUL, 10, "18446744073709551615"));
    CHECK(gives(0xffffffffffffffffUL, 2, "1111111111111111111111111111111111111111111111111111111111111111"));
    /* A different implementation for many values: printf. */
    unsigned long v = 1;
    for (int i = 0; i < 200; i++) {
        char expect[40];
        v = v * 6364136223846793005UL + 1442695040888963407UL;
        unsigned long w = v >> (i % 64);
        snprintf(expect, sizeof expect, "%lu", w);
        CHECK(gives(w, 10, expect));
        snprintf(expect, sizeof expect, "%lx", w);
        CHECK(gives(w, 16, expect));
        snprintf(expect, sizeof expect, "%lo", w);
        CHECK(gives(w, 8, expect));
    }
    return failures != 0;
}
