int count_primes(int n)
{
    static unsigned char composite[100001];
    if (n < 2)
        return 0;
    if (n > 100000)
        n = 100000;
    for (int i = 0; i <= n; i++)
        composite[i] = 0;
    int count = 0;
    for (int i = 2; i <= n; i++) {
        if (composite[i])
            continue;
        count++;
        for (long j = (long)i * i; j <= n; j += i)
            composite[j] = 1;
    }
    return count;
}
