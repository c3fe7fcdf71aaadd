#include <stdio.h>

unsigned long mulhi_u64(unsigned long a, unsigned long b);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static unsigned long mulhi_ref(unsigned long a, unsigned long b)
{
    return (unsigned long)(((unsigned __int128)a * b) >> 64);
}

int main(void)
{
    CHECK(mulhi_u64(0, 0) == 0);
    CHECK(mulhi_u64(1UL << 32, 1UL << 32) == 1);
    CHECK(mulhi_u64(0xffffffffffffffffUL, 0xffffffffffffffffUL) == 0xfffffffffffffffeUL);
    CHECK(mulhi_u64(0xffffffffffffffffUL, 2) == 1);
    CHECK(mulhi_u64(123456789, 987654321) == 0);
    unsigned long v = 0x9e3779b97f4a7c15UL;
    for (int i = 0; i < 500; i++) {
        unsigned long a = v;
        v ^= v << 13; v ^= v >> 7; v ^= v << 17;
        CHECK(mulhi_u64(a, v) == mulhi_ref(a, v));
        CHECK(mulhi_u64(a >> (i % 64), v) == mulhi_ref(a >> (i % 64), v));
    }
    return failures != 0;
}
