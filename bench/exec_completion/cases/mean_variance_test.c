#include <stdio.h>

void mean_variance(const double *x, int n, double *mean, double *var);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    double m = -1, v = -1;
    static const double a[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    mean_variance(a, 8, &m, &v);
    CHECK(m == 5.0 && v == 32.0 / 7.0);
    static const double b[4] = {1.5, 2.5, -0.5, 0.5};
    mean_variance(b, 4, &m, &v);
    CHECK(m == 1.0 && v == 5.0 / 3.0);
    mean_variance(b, 1, &m, &v);
    CHECK(m == 1.5 && v == 0.0);
    mean_variance(b, 0, &m, &v);
    CHECK(m == 0.0 && v == 0.0);
    static const double c[3] = {1e6, 1e6, 1e6};
    mean_variance(c, 3, &m, &v);
    CHECK(m == 1e6 && v == 0.0);
    return failures != 0;
}
