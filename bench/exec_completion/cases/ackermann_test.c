#include <stdio.h>

unsigned long hanoi_moves(int n, int from, int to, int via, int *last_from);
int ackermann(int m, int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    int last = -1;
    CHECK(hanoi_moves(0, 1, 3, 2, &last) == 0 && last == -1);
    CHECK(hanoi_moves(1, 1, 3, 2, &last) == 1 && last == 1);
    CHECK(hanoi_moves(2, 1, 3, 2, &last) == 3 && last == 2);
    CHECK(hanoi_moves(3, 1, 3, 2, &last) == 7 && last == 1);
    for (int n = 1; n <= 16; n++)
        CHECK(hanoi_moves(n, 1, 3, 2, &last) == (1UL << n) - 1);
    CHECK(ackermann(0, 0) == 1);
    CHECK(ackermann(0, 5) == 6);
    CHECK(ackermann(1, 2) == 4);
    CHECK(ackermann(2, 3) == 9);
    CHECK(ackermann(3, 3) == 61);
    CHECK(ackermann(3, 5) == 253);
    return failures != 0;
}
