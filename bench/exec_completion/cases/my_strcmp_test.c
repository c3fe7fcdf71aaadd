#include <stdio.h>

int my_strcmp(const char *a, const char *b);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int sign(int v) { return (v > 0) - (v < 0); }

int main(void)
{
    CHECK(my_strcmp("", "") == 0);
    CHECK(my_strcmp("abc", "abc") == 0);
    CHECK(sign(my_strcmp("abc", "abd")) == -1);
    CHECK(sign(my_strcmp("abd", "abc")) == 1);
    CHECK(sign(my_strcmp("ab", "abc")) == -1);
    CHECK(sign(my_strcmp("abc", "ab")) == 1);
    CHECK(sign(my_strcmp("", "a")) == -1);
    CHECK(my_strcmp("b", "a") == 1);
    CHECK(my_strcmp("a", "c") == -2);
    CHECK(my_strcmp("\xff", "a") == 0xff - 'a'); /* bytes compare unsigned */
    CHECK(my_strcmp("same prefix X", "same prefix Z") == 'X' - 'Z');
    return failures != 0;
}
