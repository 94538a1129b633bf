/* common/text.c - the characters a person must not be shown raw (common/text.h). */
#include "common/text.h"

size_t text_hidden_len(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;

	if (s[0] == '\0')
		return 0;
	if (s[0] < 0x20 || s[0] == 0x7f)
		return 1;
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	if (s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x8b && s[2] <= 0x8f) || (s[2] >= 0xaa && s[2] <= 0xae)))
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa0 && s[2] <= 0xa9)
		return 3;
	if (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return 3;
	return 0;
}

void text_neutralise(char *s, char rep)
{
	char *o = s;

	while (*s != '\0') {
		size_t n = text_hidden_len(s);

		if (n > 0) {
			*o++ = rep;
			s += n;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}
