/*
 * orchidd: the server. Reads the config and command line, then hands over to
 * the master (master.c). -n only checks the config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: orchidd [-c FILE] [-d DATADIR] [-s SOCKET] [-w WORKERS] [-f] [-n]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct config cfg;
	const char *file = NULL, *dir = NULL, *sock = NULL, *workers = NULL;
	bool foreground = false, check_only = false;
	char err[1024];
	int ch;

	while ((ch = getopt(argc, argv, "c:d:s:w:fnh")) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'd': dir = optarg; break;
		case 's': sock = optarg; break;
		case 'w': workers = optarg; break;
		case 'f': foreground = true; break;
		case 'n': check_only = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	config_defaults(&cfg);
	if ((file != NULL && config_load(&cfg, file, err, sizeof(err)) == -1) ||
	    (dir != NULL && config_set(&cfg, "datadir", dir, err, sizeof(err)) == -1) ||
	    (sock != NULL && config_set(&cfg, "socket", sock, err, sizeof(err)) == -1) ||
	    (workers != NULL && config_set(&cfg, "workers", workers, err, sizeof(err)) == -1) ||
	    config_check(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidd: %s\n", err);
		return 78;
	}
	if (check_only) {
		printf("orchidd: configuration ok (datadir %s, socket %s, %d workers, "
		    "durability %s)\n", cfg.datadir, cfg.socket, cfg.workers,
		    config_durability_name(cfg.durability));
		return 0;
	}
	if (!foreground && daemon(0, 1) == -1) {
		perror("orchidd: daemon");
		return 1;
	}
	return master_run(&cfg);
}
