/* SPDX-License-Identifier: MIT */
/* Commands that talk to a running daemon: status, top, link. */
#ifndef BRAID_CLI_H
#define BRAID_CLI_H

int cli_status(int argc, char **argv);
int cli_top(int argc, char **argv);
int cli_link(int argc, char **argv);
int cli_reload(int argc, char **argv);

#endif
