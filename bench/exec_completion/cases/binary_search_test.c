#include <stdio.h>

int binary_search(const int *a, int n, int key);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    static const int a[10] = {-20, -3, 0, 4, 9, 15, 22, 100, 101, 5000};
    CHECK(binary_search(a, 10, -20) == 0);
    CHECK(binary_search(a, 10, 4) == 3);
    CHECK(binary_search(a, 10, 9) == 4);
    CHECK(binary_search(a, 10, 5000) == 9);
    CHECK(binary_search(a, 10, 101) == 8);
    CHECK(binary_search(a, 10, 5) == -1);
    CHECK(binary_search(a, 10, -21) == -1);
    CHECK(binary_search(a, 10, 9999) == -1);
    CHECK(binary_search(a, 0, 4) == -1);
    CHECK(binary_search(a, 1, -20) == 0);
    int big[1000];
    for (int i = 0; i < 1000; i++) big[i] = 3 * i + 1;
    for (int i = 0; i < 1000; i++) {
        CHECK(binary_search(big, 1000, 3 * i + 1) == i);
        CHECK(binary_search(big, 1000, 3 * i + 2) == -1);
    }
    return failures != 0;
}
