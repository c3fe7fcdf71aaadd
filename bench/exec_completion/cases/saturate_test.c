#include <stdio.h>

short sat_add16(short a, short b);
unsigned char sat_sub_u8(unsigned char a, unsigned char b);
signed char clamp_i8(long v);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(sat_add16(1, 2) == 3);
    CHECK(sat_add16(-5, 3) == -2);
    CHECK(sat_add16(30000, 30000) == 32767);
    CHECK(sat_add16(-30000, -30000) == -32768);
    CHECK(sat_add16(32767, -32768) == -1);
    CHECK(sat_sub_u8(10, 3) == 7);
    CHECK(sat_sub_u8(3, 10) == 0);
    CHECK(sat_sub_u8(255, 0) == 255);
    CHECK(sat_sub_u8(200, 200) == 0);
    CHECK(clamp_i8(5) == 5 && clamp_i8(-5) == -5);
    CHECK(clamp_i8(128) == 127 && clamp_i8(-129) == -128);
    CHECK(clamp_i8(1L << 40) == 127 && clamp_i8(-(1L << 40)) == -128);
    for (int a = -32768; a <= 32767; a += 251)
        for (int b = -32768; b <= 32767; b += 997) {
            int s = a + b;
            int want = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
            CHECK(sat_add16((short)a, (short)b) == want);
        }
    for (int a = 0; a < 256; a += 5)
        for (int b = 0; b < 256; b += 7)
            CHECK(sat_sub_u8((unsigned char)a, (unsigned char)b) == (a > b ? a - b : 0));
    return failures != 0;
}
