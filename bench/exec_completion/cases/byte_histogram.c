void byte_histogram(const unsigned char *s, unsigned long n, unsigned *counts)
{
    for (int i = 0; i < 256; i++)
        counts[i] = 0;
    for (unsigned long i = 0; i < n; i++)
        counts[s[i]]++;
}

int most_common_byte(const unsigned *counts)
{
    int best = 0;
    for (int i = 1; i < 256; i++)
        if (counts[i] > counts[best])
            best = i;
    return best;
}
