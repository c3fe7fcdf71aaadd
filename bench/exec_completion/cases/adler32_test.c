#include <stdio.h>
#include <string.h>

unsigned adler32(const unsigned char *data, unsigned long n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(adler32((const unsigned char *)"", 0) == 1);
    CHECK(adler32((const unsigned char *)"a", 1) == 0x00620062u);
    CHECK(adler32((const unsigned char *)"abc", 3) == 0x024d0127u);
    CHECK(adler32((const unsigned char *)"Wikipedia", 9) == 0x11e60398u);
    static unsigned char big[100000];
    memset(big, 0xff, sizeof big);
    /* a = 1 + 255*100000 mod 65521, b = sum over i of (1 + 255*i) mod 65521 */
    unsigned long a = 1, b = 0;
    for (unsigned long i = 1; i <= sizeof big; i++) {
        a = 1 + 255 * i;
        b += a;
    }
    CHECK(adler32(big, sizeof big) == (unsigned)(((b % 65521) << 16) | (a % 65521)));
    return failures != 0;
}
