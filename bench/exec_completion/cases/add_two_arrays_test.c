#include <stdio.h>

void add_two_arrays(const int *a, const int *b, int *out, int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    int a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40}, out[5] = {0, 0, 0, 0, -7};
    add_two_arrays(a, b, out, 4);
    CHECK(out[0] == 11 && out[1] == 22 && out[2] == 33 && out[3] == 44);
    CHECK(out[4] == -7); /* nothing written past n */

    int c[3] = {-5, 0x7fffffff, -100}, d[3] = {5, 0, 58}, e[3] = {9, 9, 9};
    add_two_arrays(c, d, e, 3);
    CHECK(e[0] == 0 && e[1] == 0x7fffffff && e[2] == -42);

    int f[1] = {123};
    add_two_arrays(a, b, f, 0);
    CHECK(f[0] == 123); /* n == 0 writes nothing */

    /* Longer arrays, against values built by formula. */
    int x[37], y[37], z[38];
    for (int i = 0; i < 37; i++) { x[i] = i * i; y[i] = 1000 - 3 * i; }
    z[37] = 555;
    add_two_arrays(x, y, z, 37);
    for (int i = 0; i < 37; i++)
        CHECK(z[i] == i * i - 3 * i + 1000);
    CHECK(z[37] == 555);
    return failures != 0;
}
