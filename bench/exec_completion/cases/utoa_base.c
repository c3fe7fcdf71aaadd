int utoa_base(unsigned long value, unsigned base, char *buf)
{
    char tmp[65];
    int n = 0;
    do {
        unsigned digit = (unsigned)(value % base);
        tmp[n++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value != 0);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}
