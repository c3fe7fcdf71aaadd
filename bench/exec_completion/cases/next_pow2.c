unsigned long next_pow2(unsigned long x)
{
    if (x <= 1)
        return 1;
    x--;
    x |= x >> 1;
    x |= x >> 2;
    x |= x >> 4;
    x |= x >> 8;
    x |= x >> 16;
    x |= x >> 32;
    return x + 1;
}

int is_pow2(unsigned long x)
{
    return x != 0 && (x & (x - 1)) == 0;
}
