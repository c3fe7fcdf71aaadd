#include <stdio.h>

unsigned gcd_u(unsigned a, unsigned b);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

/* Reference: subtraction-based Euclid (no division). */
static unsigned gcd_ref(unsigned a, unsigned b)
{
    if (a == 0) return b;
    if (b == 0) return a;
    while (a != b) {
        if (a > b) a -= b; else b -= a;
    }
    return a;
}

int main(void)
{
    CHECK(gcd_u(12, 18) == 6);
    CHECK(gcd_u(17, 5) == 1);
    CHECK(gcd_u(0, 9) == 9);
    CHECK(gcd_u(9, 0) == 9);
    CHECK(gcd_u(1071, 462) == 21);
    CHECK(gcd_u(4294967295u, 65535) == 65535);
    CHECK(gcd_u(3000000000u, 1500000000u) == 1500000000u);
    for (unsigned a = 1; a < 60; a += 7)
        for (unsigned b = 1; b < 300; b += 13)
            CHECK(gcd_u(a * 12, b * 12) == gcd_ref(a * 12, b * 12));
    return failures != 0;
}
