unsigned isqrt64(unsigned long x)
{
    unsigned long result = 0;
    unsigned long bit = 1UL << 62;
    while (bit > x)
        bit >>= 2;
    while (bit != 0) {
        if (x >= result + bit) {
            x -= result + bit;
            result = (result >> 1) + bit;
        } else {
            result >>= 1;
        }
        bit >>= 2;
    }
    return (unsigned)result;
}
