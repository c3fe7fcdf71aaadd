#include <stdio.h>

void matmul(const int *a, const int *b, int *c, int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    static const int a[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const int b[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    static const int ab[9] = {30, 24, 18, 84, 69, 54, 138, 114, 90};
    int c[10];
    c[9] = -1;
    matmul(a, b, c, 3);
    for (int i = 0; i < 9; i++)
        CHECK(c[i] == ab[i]);
    CHECK(c[9] == -1);

    static const int p[4] = {2, -1, 0, 3}, q[4] = {1, 4, -2, 5};
    matmul(p, q, c, 2);
    CHECK(c[0] == 4 && c[1] == 3 && c[2] == -6 && c[3] == 15);

    /* Identity times M is M, for a 6x6 M. */
    int id[36], m[36], r[36];
    for (int i = 0; i < 36; i++) {
        id[i] = (i / 6 == i % 6);
        m[i] = i * 7 - 50;
    }
    matmul(id, m, r, 6);
    for (int i = 0; i < 36; i++)
        CHECK(r[i] == m[i]);
    matmul(m, id, r, 6);
    for (int i = 0; i < 36; i++)
        CHECK(r[i] == m[i]);
    return failures != 0;
}
