#include <stdio.h>

unsigned long next_pow2(unsigned long x);
int is_pow2(unsigned long x);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static unsigned long next_pow2_ref(unsigned long x)
{
    unsigned long p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

int main(void)
{
    CHECK(next_pow2(0) == 1);
    CHECK(next_pow2(1) == 1);
    CHECK(next_pow2(2) == 2);
    CHECK(next_pow2(3) == 4);
    CHECK(next_pow2(1000) == 1024);
    CHECK(next_pow2(0x100000001UL) == 0x200000000UL);
    CHECK(next_pow2(0x8000000000000000UL) == 0x8000000000000000UL);
    CHECK(!is_pow2(0) && is_pow2(1) && is_pow2(2) && !is_pow2(3) && is_pow2(1UL << 63));
    CHECK(!is_pow2(0xffffffffffffffffUL) && !is_pow2(6) && is_pow2(4096));
    for (unsigned long x = 1; x < 5000; x += 3)
        CHECK(next_pow2(x) == next_pow2_ref(x));
    for (int s = 0; s < 63; s++) {
        CHECK(next_pow2((1UL << s) + 1) == 1UL << (s + 1));
        CHECK(is_pow2(1UL << s) && !is_pow2((1UL << s) + 5));
    }
    return failures != 0;
}
