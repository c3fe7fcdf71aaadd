struct node {
    long value;
    struct node *next;
};

long list_sum(const struct node *n)
{
    long s = 0;
    for (; n; n = n->next)
        s += n->value;
    return s;
}

struct node *list_reverse(struct node *head)
{
    struct node *prev = 0;
    while (head) {
        struct node *next = head->next;
        head->next = prev;
        prev = head;
        head = next;
    }
    return prev;
}
