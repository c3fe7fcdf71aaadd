int to_q16(float f)
{
    float scaled = f * 65536.0f;
    if (scaled >= 2147483647.0f)
        return 2147483647;
    if (scaled <= -2147483648.0f)
        return -2147483647 - 1;
    return (int)(scaled + (scaled < 0 ? -0.5f : 0.5f));
}

float from_q16(int q)
{
    return (float)q / 65536.0f;
}

int q16_mul(int a, int b)
{
    return (int)(((long)a * b) >> 16);
}
