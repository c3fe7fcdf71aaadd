#include <stdio.h>

struct node {
    long value;
    struct node *next;
};

long list_sum(const struct node *n);
struct node *list_reverse(struct node *head);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(list_sum(0) == 0);
    CHECK(list_reverse(0) == 0);
    struct node n[5];
    for (int i = 0; i < 5; i++) {
        n[i].value = (i + 1) * 10;
        n[i].next = i < 4 ? &n[i + 1] : 0;
    }
    CHECK(list_sum(n) == 150);
    CHECK(list_sum(&n[3]) == 90);
    struct node *r = list_reverse(n);
    CHECK(r == &n[4]);
    CHECK(n[4].next == &n[3] && n[3].next == &n[2] && n[1].next == &n[0] && n[0].next == 0);
    CHECK(list_sum(r) == 150);
    struct node single = {-5000000000L, 0};
    CHECK(list_reverse(&single) == &single && single.next == 0);
    CHECK(list_sum(&single) == -5000000000L);
    return failures != 0;
}
