unsigned long factorial_u64(unsigned n)
{
    unsigned long r = 1;
    for (unsigned i = 2; i <= n; i++)
        r *= i;
    return r;
}
