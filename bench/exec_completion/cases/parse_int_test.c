#include <stdio.h>

long parse_int(const char *s);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(parse_int("0") == 0);
    CHECK(parse_int("7") == 7);
    CHECK(parse_int("42") == 42);
    CHECK(parse_int("-42") == -42);
    CHECK(parse_int("+19") == 19);
    CHECK(parse_int("   123") == 123);
    CHECK(parse_int("\t -8x9") == -8);
    CHECK(parse_int("1234567890123") == 1234567890123L);
    CHECK(parse_int("-9223372036854775807") == -9223372036854775807L);
    CHECK(parse_int("abc") == 0);
    CHECK(parse_int("") == 0);
    CHECK(parse_int("00017") == 17);
    return failures != 0;
}
