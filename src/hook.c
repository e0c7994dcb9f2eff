/* SPDX-License-Identifier: MIT */
/* Hook commands and the keeper process that runs on_down as root. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"
#include "log.h"

extern char **environ;

/* Appends "NAME=value" to e, if it fits. */
static void add(struct hook_env *e, size_t *used, size_t *n, const char *name,
		const char *value)
{
	size_t room = sizeof(e->buf) - *used;
	int len = snprintf(e->buf + *used, room, "%s=%s", name, value);

	if (len < 0 || (size_t)len >= room || *n + 1 >= HOOK_VARS)
		return;
	e->vars[(*n)++] = e->buf + *used;
	*used += (size_t)len + 1;
}

void hook_env_fill(struct hook_env *e, const struct cfg *c,
		   const char *device, const char *config_path)
{
	char addrs[1024] = "", links[1024] = "", mtu[16];
	size_t used = 0, n = 0;

	for (size_t i = 0; i < c->naddrs; i++) {
		char ip[64];
		const void *a = c->addrs[i].family == AF_INET ?
				(const void *)&c->addrs[i].v4 :
				(const void *)&c->addrs[i].v6;

		inet_ntop(c->addrs[i].family, a, ip, sizeof(ip));
		snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs),
			 "%s%s/%u", i ? " " : "", ip, c->addrs[i].prefix);
	}
	for (size_t i = 0; i < c->nlinks; i++)
		snprintf(links + strlen(links), sizeof(links) - strlen(links),
			 "%s%s", i ? " " : "", c->links[i].name);
	snprintf(mtu, sizeof(mtu), "%u", c->mtu);
	memset(e, 0, sizeof(*e));
	add(e, &used, &n, "BRAID_DEVICE", device);
	add(e, &used, &n, "BRAID_MODE", c->master ? "master" : "slave");
	add(e, &used, &n, "BRAID_ADDRESSES", addrs);
	add(e, &used, &n, "BRAID_MTU", mtu);
	add(e, &used, &n, "BRAID_LINKS", links);
	add(e, &used, &n, "BRAID_CONFIG", config_path);
}

/* In the child: the daemon's environment plus e. */
static char **child_env(const struct hook_env *e)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + HOOK_VARS + 1, sizeof(*env));
	if (!env)
		return environ;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "BRAID_", 6))
			env[k++] = environ[i];
	for (size_t i = 0; e->vars[i]; i++)
		env[k++] = e->vars[i];
	return env;
}

int hook_run(const char *what, const char *cmd, const struct hook_env *e)
{
	int status;
	pid_t pid;

	log_info("%s: running %s", what, cmd);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* ignored signals would stay ignored across exec */
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		close_range(3, ~0U, 0);
		execve(argv[0], argv, child_env(e));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status)) {
		log_warnx("%s: killed by signal %d", what, WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	if (WEXITSTATUS(status))
		log_warnx("%s: exited with status %d", what,
			  WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

#define CHUNK 65536
#define KEEPER_TIMEOUT 5000	/* ms the daemon waits for the config */

/* Sends the config's text as messages of up to CHUNK bytes, after a
 * first one of the request's number and "0" (ok) or "1" and why not; an
 * empty one ends it. */
static void send_config(int fd, const char *cfg_path, char seq)
{
	char err[CFG_ERR_LEN + 2] = { seq, '1' };
	char *text = cfg_read_text(cfg_path, err + 2, sizeof(err) - 2);
	char ok[2] = { seq, '0' };
	size_t len, off = 0;

	if (!text) {
		send(fd, err, 2 + strlen(err + 2), MSG_NOSIGNAL);
		send(fd, "", 0, MSG_NOSIGNAL);
		return;
	}
	len = strlen(text);
	send(fd, ok, 2, MSG_NOSIGNAL);
	while (off < len) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		if (send(fd, text + off, n, MSG_NOSIGNAL) < 0)
			break;
		off += n;
	}
	send(fd, "", 0, MSG_NOSIGNAL);
	explicit_bzero(text, len);
	free(text);
}

static void keeper(int fd, const struct hook_keeper *k)
{
	struct stat st;
	char req[2];
	ssize_t n;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	/* nothing of the daemon's: its TUN device and sockets close with it */
	if (fd != 3) {
		dup2(fd, 3);
		fd = 3;
	}
	close_range(4, ~0U, 0);
	while ((n = recv(fd, req, sizeof(req), 0)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 2 && req[0] == 'R')
			send_config(fd, k->cfg_path, req[1]);
	}
	/* a daemon that was killed left its routing: nothing must send
	 * the host's traffic into a TUN that is gone */
	if (k->routes && tun_policy_sweep(k->routes) < 0)
		log_warnx("keeper: cannot remove braid's routing rules");
	if (lstat(k->ctl_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(k->ctl_path);
	if (*k->on_down)
		hook_run("on_down", k->on_down, &k->env);
	_exit(0);
}

int hook_keeper_start(const struct hook_keeper *k, int *chan)
{
	int p[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[1]);
		keeper(p[0], k);
	}
	/* the keeper sees its end close when the daemon ends */
	close(p[0]);
	*chan = p[1];
	return 0;
}

static ssize_t recv_wait(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, KEEPER_TIMEOUT);

	if (n <= 0)
		return n == 0 ? -ETIMEDOUT : -errno;
	n = (int)recv(fd, buf, len, 0);
	return n < 0 ? -errno : n;
}

/* Reads messages up to and including the next empty one. */
static void skip_reply(int chan)
{
	char buf[CHUNK];

	while (recv_wait(chan, buf, sizeof(buf)) > 0)
		;
}

char *hook_keeper_config(int chan, char *err, size_t errlen)
{
	static char seq;
	char *text = NULL, *more;
	size_t len = 0;
	char first[CFG_ERR_LEN + 2];
	char req[2] = { 'R', ++seq };
	ssize_t n;

	if (send(chan, req, sizeof(req), MSG_NOSIGNAL) < 0) {
		snprintf(err, errlen, "the keeper process is gone");
		return NULL;
	}
	/* a reply to an earlier request that timed out is skipped */
	while ((n = recv_wait(chan, first, sizeof(first) - 1)) >= 2 &&
	       first[0] != seq)
		skip_reply(chan);
	if (n < 2) {
		snprintf(err, errlen, "the keeper process does not answer");
		return NULL;
	}
	first[n] = '\0';
	if (first[1] != '0') {
		snprintf(err, errlen, "%s", first + 2);
		skip_reply(chan);
		return NULL;
	}
	for (;;) {
		more = realloc(text, len + CHUNK + 1);
		if (!more)
			break;
		text = more;
		n = recv_wait(chan, text + len, CHUNK);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!text || n != 0) {
		if (text)
			explicit_bzero(text, len);
		free(text);
		snprintf(err, errlen, "the keeper process failed to read the "
			 "config");
		return NULL;
	}
	text[len] = '\0';
	return text;
}
