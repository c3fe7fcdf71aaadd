/* The bundled example: compiled with
 *   aarch64-linux-gnu-gcc -O0 -fno-asynchronous-unwind-tables -fno-unwind-tables -S add_two_arrays.c
 * and one instruction removed from add_two_arrays.s to leave a hole for the model. */
void add_two_arrays(int *out, const int *a, const int *b, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

int dot(const int *a, const int *b, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}
