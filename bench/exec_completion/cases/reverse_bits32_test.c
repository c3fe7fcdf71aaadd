#include <stdio.h>

unsigned reverse_bits32(unsigned x);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static unsigned reverse_ref(unsigned x)
{
    unsigned r = 0;
    for (int i = 0; i < 32; i++)
        if (x & (1u << i))
            r |= 1u << (31 - i);
    return r;
}

int main(void)
{
    CHECK(reverse_bits32(0) == 0);
    CHECK(reverse_bits32(1) == 0x80000000u);
    CHECK(reverse_bits32(0x80000000u) == 1);
    CHECK(reverse_bits32(0x0000000fu) == 0xf0000000u);
    CHECK(reverse_bits32(0x12345678u) == 0x1e6a2c48u);
    CHECK(reverse_bits32(0xffffffffu) == 0xffffffffu);
    unsigned v = 2463534242u;
    for (int i = 0; i < 500; i++) {
        v ^= v << 13; v ^= v >> 17; v ^= v << 5;
        CHECK(reverse_bits32(v) == reverse_ref(v));
    }
    return failures != 0;
}
