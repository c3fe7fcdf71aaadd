#include <stdio.h>

double poly_eval(const double *coef, int degree, double x);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    static const double c[4] = {1.0, -3.0, 0.5, 2.0}; /* 1 - 3x + x^2/2 + 2x^3 */
    CHECK(poly_eval(c, 3, 0.0) == 1.0);
    CHECK(poly_eval(c, 3, 1.0) == 0.5);
    CHECK(poly_eval(c, 3, 2.0) == 13.0);
    CHECK(poly_eval(c, 3, -1.0) == 2.5);
    CHECK(poly_eval(c, 3, 0.5) == -0.125);
    CHECK(poly_eval(c, 0, 123.0) == 1.0);
    CHECK(poly_eval(c, 1, 4.0) == -11.0);
    static const double d[6] = {0, 0, 0, 0, 0, 1.0};
    CHECK(poly_eval(d, 5, 3.0) == 243.0);
    CHECK(poly_eval(d, 5, -2.0) == -32.0);
    return failures != 0;
}
