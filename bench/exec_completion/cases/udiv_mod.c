unsigned long udiv_mod(unsigned long a, unsigned long b, unsigned long *rem)
{
    unsigned long q = a / b;
    *rem = a - q * b;
    return q;
}

unsigned long digit_sum_u64(unsigned long v)
{
    unsigned long s = 0;
    while (v) {
        s += v % 10;
        v /= 10;
    }
    return s;
}
