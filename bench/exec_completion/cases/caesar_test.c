#include <stdio.h>
#include <string.h>

void caesar(char *s, int k);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int shifts_to(const char *in, int k, const char *expected)
{
    char buf[64];
    strcpy(buf, in);
    caesar(buf, k);
    return strcmp(buf, expected) == 0;
}

int main(void)
{
    CHECK(shifts_to("abc", 1, "bcd"));
    CHECK(shifts_to("xyz", 3, "abc"));
    CHECK(shifts_to("Hello, World!", 13, "Uryyb, Jbeyq!"));
    CHECK(shifts_to("Uryyb, Jbeyq!", 13, "Hello, World!"));
    CHECK(shifts_to("abc", -1, "zab"));
    CHECK(shifts_to("ABC xyz", 27, "BCD yza"));
    CHECK(shifts_to("ABC xyz", -53, "ZAB wxy"));
    CHECK(shifts_to("0123 []{}", 5, "0123 []{}"));
    CHECK(shifts_to("", 4, ""));
    return failures != 0;
}
