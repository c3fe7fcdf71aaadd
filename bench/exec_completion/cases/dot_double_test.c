#include <stdio.h>

double dot_double(const double *a, const double *b, int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    /* Dyadic values: every product and partial sum is exact. */
    static const double a[5] = {1.5, -2.0, 0.25, 8.0, 3.0};
    static const double b[5] = {2.0, 0.5, 4.0, -0.125, 1.75};
    CHECK(dot_double(a, b, 5) == 7.25);
    CHECK(dot_double(a, b, 1) == 3.0);
    CHECK(dot_double(a, b, 0) == 0.0);
    CHECK(dot_double(a, a, 5) == 2.25 + 4.0 + 0.0625 + 64.0 + 9.0);
    double x[100], y[100];
    for (int i = 0; i < 100; i++) { x[i] = i; y[i] = 0.5; }
    CHECK(dot_double(x, y, 100) == 2475.0);
    return failures != 0;
}
