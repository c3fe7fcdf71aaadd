#include <stdio.h>
#include <string.h>

void str_reverse(char *s);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int rev_is(const char *in, const char *expected)
{
    char buf[64];
    strcpy(buf, in);
    buf[strlen(in) + 1] = '#';
    str_reverse(buf);
    return strcmp(buf, expected) == 0 && buf[strlen(in) + 1] == '#';
}

int main(void)
{
    CHECK(rev_is("", ""));
    CHECK(rev_is("a", "a"));
    CHECK(rev_is("ab", "ba"));
    CHECK(rev_is("abc", "cba"));
    CHECK(rev_is("hello", "olleh"));
    CHECK(rev_is("racecar", "racecar"));
    CHECK(rev_is("0123456789", "9876543210"));
    CHECK(rev_is("AArch64 asm!", "!msa 46hcrAA"));
    return failures != 0;
}
