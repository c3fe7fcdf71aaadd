#include <stdio.h>

unsigned crc32(const unsigned char *data, unsigned long n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(crc32((const unsigned char *)"", 0) == 0);
    CHECK(crc32((const unsigned char *)"123456789", 9) == 0xcbf43926u);
    CHECK(crc32((const unsigned char *)"a", 1) == 0xe8b7be43u);
    CHECK(crc32((const unsigned char *)"The quick brown fox jumps over the lazy dog", 43) == 0x414fa339u);
    return failures != 0;
}
