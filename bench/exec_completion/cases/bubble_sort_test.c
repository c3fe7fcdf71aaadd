#include <stdio.h>
#include <stdlib.h>

void bubble_sort(int *a, int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

int main(void)
{
    int a[6] = {5, -1, 3, 3, 0, 9};
    bubble_sort(a, 6);
    CHECK(a[0] == -1 && a[1] == 0 && a[2] == 3 && a[3] == 3 && a[4] == 5 && a[5] == 9);
    int one[1] = {4};
    bubble_sort(one, 1);
    CHECK(one[0] == 4);
    bubble_sort(one, 0);
    CHECK(one[0] == 4);
    int two[3] = {2, 1, 77};
    bubble_sort(two, 2);
    CHECK(two[0] == 1 && two[1] == 2 && two[2] == 77);
    unsigned v = 12345;
    for (int round = 0; round < 20; round++) {
        int x[41], y[41];
        int n = 1 + round * 2;
        for (int i = 0; i < n; i++) {
            v = v * 1103515245u + 12345u;
            x[i] = y[i] = (int)(v >> 8) % 1000 - 500;
        }
        x[n] = y[n] = 31337;
        bubble_sort(x, n);
        qsort(y, (size_t)n, sizeof y[0], cmp_int);
        for (int i = 0; i <= n; i++)
            CHECK(x[i] == y[i]);
    }
    return failures != 0;
}
