#include <stdio.h>
#include <string.h>

void *my_memmove(void *dst, const void *src, unsigned long n);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    char buf[32];
    strcpy(buf, "0123456789");
    CHECK(my_memmove(buf + 2, buf, 5) == buf + 2);
    CHECK(strcmp(buf, "0101234789") == 0);  /* forward overlap */
    strcpy(buf, "0123456789");
    my_memmove(buf, buf + 3, 6);
    CHECK(strcmp(buf, "3456786789") == 0);  /* backward overlap */
    strcpy(buf, "abcdef");
    my_memmove(buf, buf, 6);
    CHECK(strcmp(buf, "abcdef") == 0);
    char dst[16] = "xxxxxxxxxxxxxxx";
    my_memmove(dst, "hello", 5);
    CHECK(memcmp(dst, "helloxxxxx", 10) == 0);
    my_memmove(dst, "zzz", 0);
    CHECK(dst[0] == 'h');
    return failures != 0;
}
