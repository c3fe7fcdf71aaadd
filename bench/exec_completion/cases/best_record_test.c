#include <stdio.h>

struct record {
    char name[12];
    int score;
    double weight;
};

int best_record(const struct record *r, int n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    struct record r[5] = {
        {"ann", 10, 1.5},    /* 15 */
        {"bob", 7, 2.5},     /* 17.5 */
        {"cy", -40, -0.5},   /* 20 */
        {"dee", 20, 1.0},    /* 20, not greater than cy */
        {"eve", 3, 0.25},    /* 0.75 */
    };
    CHECK(best_record(r, 5) == 2);
    CHECK(best_record(r, 2) == 1);
    CHECK(best_record(r, 1) == 0);
    CHECK(best_record(r, 0) == -1);
    CHECK(best_record(r + 3, 2) == 0);
    CHECK(best_record(r + 4, 1) == 0);
    struct record neg[3] = {{"x", -1, 1.0}, {"y", -3, 1.0}, {"z", -2, 0.25}};
    CHECK(best_record(neg, 3) == 2);
    return failures != 0;
}
