#include <stdio.h>

unsigned isqrt64(unsigned long x);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int is_floor_sqrt(unsigned long x, unsigned long r)
{
    return r * r <= x && (r + 1) * (r + 1) > x;
}

int main(void)
{
    CHECK(isqrt64(0) == 0);
    CHECK(isqrt64(1) == 1);
    CHECK(isqrt64(3) == 1);
    CHECK(isqrt64(4) == 2);
    CHECK(isqrt64(99) == 9);
    CHECK(isqrt64(100) == 10);
    CHECK(isqrt64(0xffffffffffffffffUL) == 0xffffffffu);
    CHECK(isqrt64(0xfffffffe00000001UL) == 0xffffffffu);
    CHECK(isqrt64(0xfffffffe00000000UL) == 0xfffffffeu);
    for (unsigned long x = 0; x < 3000; x++)
        CHECK(is_floor_sqrt(x, isqrt64(x)));
    unsigned long v = 7;
    for (int i = 0; i < 300; i++) {
        v = v * 6364136223846793005UL + 1;
        unsigned long x = v >> 2;  /* keeps (r + 1)^2 from overflowing */
        CHECK(is_floor_sqrt(x, isqrt64(x)));
    }
    return failures != 0;
}
