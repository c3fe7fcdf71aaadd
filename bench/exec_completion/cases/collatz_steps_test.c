#include <stdio.h>

int collatz_steps(unsigned long n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(collatz_steps(0) == 0);
    CHECK(collatz_steps(1) == 0);
    CHECK(collatz_steps(2) == 1);
    CHECK(collatz_steps(3) == 7);
    CHECK(collatz_steps(6) == 8);
    CHECK(collatz_steps(7) == 16);
    CHECK(collatz_steps(27) == 111);
    CHECK(collatz_steps(97) == 118);
    CHECK(collatz_steps(871) == 178);
    CHECK(collatz_steps(1UL << 40) == 40);
    CHECK(collatz_steps(63728127) == 949);
    return failures != 0;
}
