#include <stdio.h>

float sqrt_newton(float x);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int near(float got, float want) { float d = got - want; if (d < 0) d = -d; return d <= 1e-5f * (want > 1 ? want : 1); }

int main(void)
{
    CHECK(sqrt_newton(0.0f) == 0.0f);
    CHECK(sqrt_newton(-4.0f) == 0.0f);
    CHECK(near(sqrt_newton(1.0f), 1.0f));
    CHECK(near(sqrt_newton(4.0f), 2.0f));
    CHECK(near(sqrt_newton(2.0f), 1.4142135f));
    CHECK(near(sqrt_newton(0.25f), 0.5f));
    CHECK(near(sqrt_newton(1e6f), 1000.0f));
    CHECK(near(sqrt_newton(10.0f), 3.1622777f));
    CHECK(near(sqrt_newton(0.01f), 0.1f));
    for (int i = 1; i < 200; i++) {
        float r = (float)i * 0.75f;
        CHECK(near(sqrt_newton(r * r), r));
    }
    return failures != 0;
}
