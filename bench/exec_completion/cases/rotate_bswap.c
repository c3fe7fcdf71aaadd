unsigned long rotl64(unsigned long x, unsigned r)
{
    r &= 63;
    if (r == 0)
        return x;
    return (x << r) | (x >> (64 - r));
}

unsigned bswap32_manual(unsigned x)
{
    return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}

unsigned long fnv1a_64(const unsigned char *p, unsigned long n)
{
    unsigned long h = 0xcbf29ce484222325UL;
    for (unsigned long i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3UL;
    }
    return h;
}
