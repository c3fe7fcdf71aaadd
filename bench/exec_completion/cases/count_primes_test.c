#include <stdio.h>

int count_primes(int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int is_prime_ref(int n)
{
    if (n < 2) return 0;
    for (int d = 2; d * d <= n; d++)
        if (n % d == 0) return 0;
    return 1;
}

int main(void)
{
    CHECK(count_primes(0) == 0);
    CHECK(count_primes(1) == 0);
    CHECK(count_primes(2) == 1);
    CHECK(count_primes(10) == 4);
    CHECK(count_primes(100) == 25);
    CHECK(count_primes(1000) == 168);
    CHECK(count_primes(10000) == 1229);
    CHECK(count_primes(100000) == 9592);
    int running = 0;
    for (int n = 0; n < 300; n++) {
        running += is_prime_ref(n);
        CHECK(count_primes(n) == running);
    }
    return failures != 0;
}
