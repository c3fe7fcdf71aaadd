#include <stdio.h>

unsigned long udiv_mod(unsigned long a, unsigned long b, unsigned long *rem);
unsigned long digit_sum_u64(unsigned long v);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    unsigned long r = 99;
    CHECK(udiv_mod(17, 5, &r) == 3 && r == 2);
    CHECK(udiv_mod(0, 5, &r) == 0 && r == 0);
    CHECK(udiv_mod(5, 17, &r) == 0 && r == 5);
    CHECK(udiv_mod(0xffffffffffffffffUL, 10, &r) == 1844674407370955161UL && r == 5);
    CHECK(udiv_mod(0xffffffffffffffffUL, 0x100000000UL, &r) == 0xffffffffUL && r == 0xffffffffUL);
    CHECK(udiv_mod(0x8000000000000000UL, 3, &r) == 3074457345618258602UL && r == 2);
    CHECK(udiv_mod(1000000007UL * 998244353UL + 12345, 998244353UL, &r) == 1000000007UL && r == 12345);
    CHECK(digit_sum_u64(0) == 0);
    CHECK(digit_sum_u64(9) == 9);
    CHECK(digit_sum_u64(12345) == 15);
    CHECK(digit_sum_u64(0xffffffffffffffffUL) == 87); /* 18446744073709551615 */
    CHECK(digit_sum_u64(10000000000000000000UL) == 1);
    return failures != 0;
}
