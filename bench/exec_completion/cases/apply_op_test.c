#include <stdio.h>

long apply_op(int op, long a, long b);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(apply_op(0, 5, 7) == 12);
    CHECK(apply_op(1, 5, 7) == -2);
    CHECK(apply_op(2, -6, 7) == -42);
    CHECK(apply_op(3, 100, 7) == 14);
    CHECK(apply_op(3, -100, 7) == -14);
    CHECK(apply_op(3, 100, 0) == 0);
    CHECK(apply_op(4, 0xf0f0, 0xff00) == 0xf000);
    CHECK(apply_op(5, 0xf0f0, 0x0f00) == 0xfff0);
    CHECK(apply_op(6, 0xff, 0x0f) == 0xf0);
    CHECK(apply_op(7, 3, 4) == 48);
    CHECK(apply_op(7, 1, 68) == 16);
    CHECK(apply_op(8, -64, 2) == -16);
    CHECK(apply_op(9, -3, 2) == -3);
    CHECK(apply_op(10, -3, 2) == 2);
    CHECK(apply_op(11, 9, 0) == -9);
    CHECK(apply_op(12, 1, 1) == 0x7eadbeef);
    CHECK(apply_op(-1, 1, 1) == 0x7eadbeef);
    CHECK(apply_op(1000, 1, 1) == 0x7eadbeef);
    return failures != 0;
}
