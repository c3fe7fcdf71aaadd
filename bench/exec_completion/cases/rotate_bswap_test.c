#include <stdio.h>

unsigned long rotl64(unsigned long x, unsigned r);
unsigned bswap32_manual(unsigned x);
unsigned long fnv1a_64(const unsigned char *p, unsigned long n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static unsigned long rotl_ref(unsigned long x, unsigned r)
{
    for (unsigned i = 0; i < (r & 63); i++)
        x = (x << 1) | (x >> 63);
    return x;
}

int main(void)
{
    CHECK(rotl64(1, 1) == 2);
    CHECK(rotl64(0x8000000000000000UL, 1) == 1);
    CHECK(rotl64(0x0123456789abcdefUL, 4) == 0x123456789abcdef0UL);
    CHECK(rotl64(0x0123456789abcdefUL, 64) == 0x0123456789abcdefUL);
    CHECK(rotl64(0x0123456789abcdefUL, 0) == 0x0123456789abcdefUL);
    for (unsigned r = 0; r < 130; r += 3)
        CHECK(rotl64(0xdeadbeefcafef00dUL, r) == rotl_ref(0xdeadbeefcafef00dUL, r));
    CHECK(bswap32_manual(0x12345678u) == 0x78563412u);
    CHECK(bswap32_manual(0xff000000u) == 0xffu);
    CHECK(bswap32_manual(0) == 0);
    unsigned v = 1;
    for (int i = 0; i < 300; i++, v = v * 2654435761u + 7)
        CHECK(bswap32_manual(v) == __builtin_bswap32(v));
    CHECK(fnv1a_64((const unsigned char *)"", 0) == 0xcbf29ce484222325UL);
    CHECK(fnv1a_64((const unsigned char *)"a", 1) == 0xaf63dc4c8601ec8cUL);
    CHECK(fnv1a_64((const unsigned char *)"foobar", 6) == 0x85944171f73967e8UL);
    return failures != 0;
}
