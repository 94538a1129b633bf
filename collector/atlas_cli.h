/* collector/atlas_cli.h - "anycast-collector atlas import": RIPE Atlas result
 * files stored as results of the vantage points atlas:PRB_ID (docs/ATLAS.md). */
#ifndef ANYCAST_ATLAS_CLI_H
#define ANYCAST_ATLAS_CLI_H

/* Entry point of `anycast-collector atlas import --config INV [--db FILE]
 * [--verbose] FILE...`; argv[0] is "atlas". Exit codes: 0 every result
 * stored or already there, 1 some results skipped (counted by reason on
 * stdout; each one with --verbose on stderr), 2 usage, unreadable file,
 * bad inventory or database error (nothing of the failing chunk stored). */
int atlas_cli_main(int argc, char **argv);

#endif
