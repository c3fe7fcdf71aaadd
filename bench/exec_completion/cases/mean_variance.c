void mean_variance(const double *x, int n, double *mean, double *var)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    double m = n > 0 ? sum / n : 0.0;
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - m;
        ss += d * d;
    }
    *mean = m;
    *var = n > 1 ? ss / (n - 1) : 0.0;
}
