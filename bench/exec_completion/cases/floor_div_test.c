#include <stdio.h>

int floor_div(int a, int b);
int floor_mod(int a, int b);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    /* Expected values follow Python's // and %. */
    CHECK(floor_div(7, 2) == 3 && floor_mod(7, 2) == 1);
    CHECK(floor_div(-7, 2) == -4 && floor_mod(-7, 2) == 1);
    CHECK(floor_div(7, -2) == -4 && floor_mod(7, -2) == -1);
    CHECK(floor_div(-7, -2) == 3 && floor_mod(-7, -2) == -1);
    CHECK(floor_div(6, 3) == 2 && floor_mod(6, 3) == 0);
    CHECK(floor_div(-6, 3) == -2 && floor_mod(-6, 3) == 0);
    CHECK(floor_div(0, -5) == 0 && floor_mod(0, -5) == 0);
    CHECK(floor_div(-1, 1000) == -1 && floor_mod(-1, 1000) == 999);
    CHECK(floor_div(2147483647, -1) == -2147483647);
    CHECK(floor_div(-2147483647 - 1, 3) == -715827883 && floor_mod(-2147483647 - 1, 3) == 1);
    for (int a = -50; a <= 50; a++)
        for (int b = -7; b <= 7; b++)
            if (b != 0)
                CHECK(floor_div(a, b) * b + floor_mod(a, b) == a);
    return failures != 0;
}
