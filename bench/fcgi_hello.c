/*
 * fcgi_hello: the minimal prefork libfcgi responder of
 * shared/reference/performance-anchors.md section B, used by script/bench as
 * the ceiling for anything behind nginx's FastCGI hop on this machine.
 *
 *   fcgi_hello SOCKET_PATH [WORKERS]
 *
 * FCGX_Init, FCGX_OpenSocket(SOCKET_PATH, backlog 1024), fork WORKERS
 * (default 4) children; each runs FCGX_InitRequest and an FCGX_Accept_r loop
 * answering every request with Status 200, application/json and a tiny body.
 * The parent waits; SIGTERM/SIGINT to the parent stops the children too.
 * Not part of Orchid: built by script/bench with "cc -O2 ... -lfcgi".
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define MAX_WORKERS 256

static pid_t children[MAX_WORKERS];
static int nchildren;
static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void serve(int listen_fd)
{
	FCGX_Request req;

	/* The children die on SIGTERM by default; restore it. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (FCGX_InitRequest(&req, listen_fd, 0) != 0) {
		fprintf(stderr, "fcgi_hello: FCGX_InitRequest failed\n");
		_exit(1);
	}
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Status: 200 OK\r\n"
			  "Content-Type: application/json\r\n"
			  "\r\n"
			  "{\"hello\":\"world\"}\n",
			  req.out);
		FCGX_Finish_r(&req);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int listen_fd, n, i;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: fcgi_hello SOCKET_PATH [WORKERS]\n");
		return 2;
	}
	n = argc == 3 ? atoi(argv[2]) : 4;
	if (n < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "fcgi_hello: WORKERS must be 1..%d\n", MAX_WORKERS);
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "fcgi_hello: FCGX_Init failed\n");
		return 1;
	}
	unlink(argv[1]);
	listen_fd = FCGX_OpenSocket(argv[1], 1024);
	if (listen_fd < 0) {
		fprintf(stderr, "fcgi_hello: cannot listen on %s\n", argv[1]);
		return 1;
	}
	/* nginx's workers may run as another user than this process. */
	chmod(argv[1], 0666);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fcgi_hello: fork");
			break;
		}
		if (pid == 0)
			serve(listen_fd);
		children[nchildren++] = pid;
	}

	while (!stopping) {
		pid_t pid = wait(NULL);
		if (pid < 0 && errno == ECHILD)
			break;
	}
	for (i = 0; i < nchildren; i++)
		kill(children[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	unlink(argv[1]);
	return 0;
}
