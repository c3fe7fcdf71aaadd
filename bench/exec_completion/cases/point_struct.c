struct point {
    int x;
    int y;
};

long manhattan(struct point a, struct point b)
{
    long dx = (long)a.x - b.x;
    long dy = (long)a.y - b.y;
    return (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
}

struct point centroid(const struct point *p, int n)
{
    struct point c = {0, 0};
    long sx = 0, sy = 0;
    if (n <= 0)
        return c;
    for (int i = 0; i < n; i++) {
        sx += p[i].x;
        sy += p[i].y;
    }
    c.x = (int)(sx / n);
    c.y = (int)(sy / n);
    return c;
}
