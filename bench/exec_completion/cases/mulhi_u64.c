unsigned long mulhi_u64(unsigned long a, unsigned long b)
{
    unsigned long a_lo = a & 0xffffffffUL, a_hi = a >> 32;
    unsigned long b_lo = b & 0xffffffffUL, b_hi = b >> 32;
    unsigned long lo_lo = a_lo * b_lo;
    unsigned long hi_lo = a_hi * b_lo;
    unsigned long lo_hi = a_lo * b_hi;
    unsigned long hi_hi = a_hi * b_hi;
    unsigned long cross = (lo_lo >> 32) + (hi_lo & 0xffffffffUL) + lo_hi;
    return hi_hi + (hi_lo >> 32) + (cross >> 32);
}
