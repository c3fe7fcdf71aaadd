unsigned adler32(const unsigned char *data, unsigned long n)
{
    unsigned a = 1, b = 0;
    for (unsigned long i = 0; i < n; i++) {
        a = (a + data[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}
