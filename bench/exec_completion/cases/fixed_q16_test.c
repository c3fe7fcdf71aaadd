#include <stdio.h>

int to_q16(float f);
float from_q16(int q);
int q16_mul(int a, int b);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(to_q16(0.0f) == 0);
    CHECK(to_q16(1.0f) == 65536);
    CHECK(to_q16(-1.0f) == -65536);
    CHECK(to_q16(0.5f) == 32768);
    CHECK(to_q16(-2.25f) == -147456);
    CHECK(to_q16(1.0f / 131072.0f * 3.0f) == 2);   /* 1.5 ulp rounds away from zero */
    CHECK(to_q16(-1.0f / 131072.0f * 3.0f) == -2);
    CHECK(to_q16(40000.0f) == 2147483647);
    CHECK(to_q16(-40000.0f) == -2147483647 - 1);
    CHECK(from_q16(65536) == 1.0f);
    CHECK(from_q16(-98304) == -1.5f);
    CHECK(from_q16(1) == 1.0f / 65536.0f);
    CHECK(q16_mul(65536 * 3, 32768) == 98304);
    CHECK(q16_mul(-65536 * 2, 65536 * 7) == -65536 * 14);
    CHECK(q16_mul(65536 * 300, 65536 * 100) == 65536 * 30000);
    for (int i = -100; i <= 100; i++)
        CHECK(to_q16(from_q16(i * 1000)) == i * 1000);
    return failures != 0;
}
