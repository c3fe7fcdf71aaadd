long max_subarray(const int *a, int n, int *start, int *end)
{
    long best = a[0], cur = 0;
    int cur_start = 0;
    *start = *end = 0;
    for (int i = 0; i < n; i++) {
        if (cur <= 0) {
            cur = a[i];
            cur_start = i;
        } else {
            cur += a[i];
        }
        if (cur > best) {
            best = cur;
            *start = cur_start;
            *end = i;
        }
    }
    return best;
}
