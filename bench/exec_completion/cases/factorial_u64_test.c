#include <stdio.h>

unsigned long factorial_u64(unsigned n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static unsigned long fact_ref(unsigned n) { return n <= 1 ? 1 : n * fact_ref(n - 1); }

int main(void)
{
    CHECK(factorial_u64(0) == 1);
    CHECK(factorial_u64(1) == 1);
    CHECK(factorial_u64(5) == 120);
    CHECK(factorial_u64(10) == 3628800);
    CHECK(factorial_u64(20) == 2432902008176640000UL);
    CHECK(factorial_u64(21) == 14197454024290336768UL); /* wraps mod 2^64 */
    for (unsigned n = 0; n < 40; n++)
        CHECK(factorial_u64(n) == fact_ref(n));
    return failures != 0;
}
