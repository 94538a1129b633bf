/* common/text.h - what of a string from the network may be shown to a person:
 * the one definition of the characters that must never reach a terminal, a
 * log, a mail or a chat message raw. */
#ifndef ANYCAST_TEXT_H
#define ANYCAST_TEXT_H

#include <stddef.h>

/* Bytes of the character at p when it must not be shown raw: C0 controls and
 * DEL (1), C1 controls U+0080-U+009F (2), zero-width and bidi controls
 * U+200B-U+200F, U+202A-U+202E, U+2060-U+2069 and U+FEFF (3), which can make
 * a made-up name read as another; 0 for any other character or the end. */
size_t text_hidden_len(const char *p);

/* Replace, in place, every such character of s with the byte rep. */
void text_neutralise(char *s, char rep);

#endif
