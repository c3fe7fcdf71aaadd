#include <stdio.h>

unsigned long my_strlen(const char *s);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(my_strlen("") == 0);
    CHECK(my_strlen("a") == 1);
    CHECK(my_strlen("hello") == 5);
    CHECK(my_strlen("hello, world") == 12);
    CHECK(my_strlen("abc\0def") == 3);
    char buf[300];
    for (int i = 0; i < 299; i++) buf[i] = 'x';
    buf[299] = 0;
    CHECK(my_strlen(buf) == 299);
    buf[170] = 0;
    CHECK(my_strlen(buf) == 170);
    CHECK(my_strlen(buf + 169) == 1);
    return failures != 0;
}
