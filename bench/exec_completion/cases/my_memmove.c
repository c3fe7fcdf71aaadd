void *my_memmove(void *dst, const void *src, unsigned long n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        for (unsigned long i = 0; i < n; i++)
            d[i] = s[i];
    } else if (d > s) {
        while (n > 0) {
            n--;
            d[n] = s[n];
        }
    }
    return dst;
}
