#include <stdio.h>

long max_subarray(const int *a, int n, int *start, int *end);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static long max_subarray_ref(const int *a, int n)
{
    long best = a[0];
    for (int i = 0; i < n; i++) {
        long s = 0;
        for (int j = i; j < n; j++) {
            s += a[j];
            if (s > best) best = s;
        }
    }
    return best;
}

int main(void)
{
    int s, e;
    static const int a[9] = {-2, 1, -3, 4, -1, 2, 1, -5, 4};
    CHECK(max_subarray(a, 9, &s, &e) == 6 && s == 3 && e == 6);
    static const int neg[3] = {-5, -2, -9};
    CHECK(max_subarray(neg, 3, &s, &e) == -2 && s == 1 && e == 1);
    static const int one[1] = {7};
    CHECK(max_subarray(one, 1, &s, &e) == 7 && s == 0 && e == 0);
    static const int big[3] = {2000000000, 2000000000, -1};
    CHECK(max_subarray(big, 3, &s, &e) == 4000000000L && s == 0 && e == 1);
    int r[64];
    unsigned v = 99;
    for (int round = 0; round < 30; round++) {
        int n = 1 + round * 2;
        for (int i = 0; i < n; i++) {
            v = v * 1664525u + 1013904223u;
            r[i] = (int)(v >> 20) - 2048;
        }
        long got = max_subarray(r, n, &s, &e);
        CHECK(got == max_subarray_ref(r, n));
        long check = 0;
        for (int i = s; i <= e; i++) check += r[i];
        CHECK(s <= e && check == got);
    }
    return failures != 0;
}
