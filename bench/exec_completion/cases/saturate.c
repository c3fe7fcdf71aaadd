short sat_add16(short a, short b)
{
    int s = a + b;
    if (s > 32767)
        return 32767;
    if (s < -32768)
        return -32768;
    return (short)s;
}

unsigned char sat_sub_u8(unsigned char a, unsigned char b)
{
    return a > b ? (unsigned char)(a - b) : 0;
}

signed char clamp_i8(long v)
{
    return v > 127 ? 127 : v < -128 ? -128 : (signed char)v;
}
