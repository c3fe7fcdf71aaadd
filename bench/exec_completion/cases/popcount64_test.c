#include <stdio.h>

int popcount64(unsigned long x);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int popcount_ref(unsigned long x)
{
    int n = 0;
    for (int i = 0; i < 64; i++)
        n += (int)((x >> i) & 1);
    return n;
}

int main(void)
{
    CHECK(popcount64(0) == 0);
    CHECK(popcount64(1) == 1);
    CHECK(popcount64(0xff) == 8);
    CHECK(popcount64(0x8000000000000001UL) == 2);
    CHECK(popcount64(0xffffffffffffffffUL) == 64);
    CHECK(popcount64(0xf0f0f0f0f0f0f0f0UL) == 32);
    unsigned long v = 88172645463325252UL;
    for (int i = 0; i < 500; i++) {
        v ^= v << 13; v ^= v >> 7; v ^= v << 17;
        CHECK(popcount64(v) == popcount_ref(v));
        CHECK(popcount64(v & (v >> 3)) == popcount_ref(v & (v >> 3)));
    }
    return failures != 0;
}
