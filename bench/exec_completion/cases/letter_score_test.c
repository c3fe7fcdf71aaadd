#include <stdio.h>

int letter_score(const char *word);

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void)
{
    CHECK(letter_score("") == 0);
    CHECK(letter_score("a") == 1);
    CHECK(letter_score("cabbage") == 14);
    CHECK(letter_score("QUIZ") == 22);
    CHECK(letter_score("street") == 6);
    CHECK(letter_score("OxyphenButazone") == 41);
    CHECK(letter_score("jukebox") == 27);
    CHECK(letter_score("a-b c!") == 7);
    CHECK(letter_score("fizzy") == 29);
    return failures != 0;
}
