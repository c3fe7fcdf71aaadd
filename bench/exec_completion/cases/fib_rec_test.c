#include <stdio.h>

long fib_rec(int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    static const long expected[] = {0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610,
                                    987, 1597, 2584, 4181, 6765};
    for (int i = 0; i <= 20; i++)
        CHECK(fib_rec(i) == expected[i]);
    CHECK(fib_rec(25) == 75025);
    CHECK(fib_rec(-3) == -3);
    return failures != 0;
}
