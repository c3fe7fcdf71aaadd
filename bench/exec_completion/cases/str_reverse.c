void str_reverse(char *s)
{
    char *end = s;
    while (*end)
        end++;
    if (end == s)
        return;
    end--;
    while (s < end) {
        char t = *s;
        *s++ = *end;
        *end-- = t;
    }
}
