void caesar(char *s, int k)
{
    k %= 26;
    if (k < 0)
        k += 26;
    for (; *s; s++) {
        char c = *s;
        if (c >= 'a' && c <= 'z')
            *s = (char)('a' + (c - 'a' + k) % 26);
        else if (c >= 'A' && c <= 'Z')
            *s = (char)('A' + (c - 'A' + k) % 26);
    }
}
