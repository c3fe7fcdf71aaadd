#include <stdio.h>

void byte_histogram(const unsigned char *s, unsigned long n, unsigned *counts);
int most_common_byte(const unsigned *counts);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    unsigned counts[257];
    counts[256] = 0xabcdef;
    const char *text = "mississippi";
    byte_histogram((const unsigned char *)text, 11, counts);
    CHECK(counts['m'] == 1 && counts['i'] == 4 && counts['s'] == 4 && counts['p'] == 2);
    CHECK(counts['a'] == 0 && counts[0] == 0 && counts[255] == 0);
    CHECK(counts[256] == 0xabcdef);
    CHECK(most_common_byte(counts) == 'i'); /* ties go to the lower byte */
    unsigned char all[512];
    for (int i = 0; i < 512; i++) all[i] = (unsigned char)(i * 3);
    all[7] = 200;
    byte_histogram(all, 512, counts);
    unsigned total = 0;
    for (int i = 0; i < 256; i++) total += counts[i];
    CHECK(total == 512);
    CHECK(counts[200] == 3 && counts[21] == 1 && counts[0] == 2);
    CHECK(most_common_byte(counts) == 200);
    byte_histogram(all, 0, counts);
    CHECK(counts[0] == 0 && counts[200] == 0 && most_common_byte(counts) == 0);
    return failures != 0;
}
