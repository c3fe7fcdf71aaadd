float sqrt_newton(float x)
{
    if (x <= 0.0f)
        return 0.0f;
    float g = x > 1.0f ? x * 0.5f : 1.0f;
    for (int i = 0; i < 40; i++) {
        float next = 0.5f * (g + x / g);
        if (next == g)
            break;
        g = next;
    }
    return g;
}
