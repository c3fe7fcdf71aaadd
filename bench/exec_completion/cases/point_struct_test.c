#include <stdio.h>

struct point {
    int x;
    int y;
};

long manhattan(struct point a, struct point b);
struct point centroid(const struct point *p, int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    struct point o = {0, 0}, a = {3, -4}, b = {-2, 10};
    CHECK(manhattan(o, a) == 7);
    CHECK(manhattan(a, b) == 19);
    CHECK(manhattan(b, b) == 0);
    struct point far1 = {2147483647, -2147483647 - 1}, far2 = {-2147483647 - 1, 2147483647};
    CHECK(manhattan(far1, far2) == 2L * 4294967295L);
    struct point pts[4] = {{0, 0}, {4, 8}, {8, -4}, {-4, 4}};
    struct point c = centroid(pts, 4);
    CHECK(c.x == 2 && c.y == 2);
    c = centroid(pts, 1);
    CHECK(c.x == 0 && c.y == 0);
    c = centroid(pts + 1, 2);
    CHECK(c.x == 6 && c.y == 2);
    c = centroid(pts, 0);
    CHECK(c.x == 0 && c.y == 0);
    struct point odd[3] = {{1, -1}, {2, -2}, {4, -4}};
    c = centroid(odd, 3);
    CHECK(c.x == 2 && c.y == -2);
    return failures != 0;
}
