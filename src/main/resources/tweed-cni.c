/*
 * tweed-cni: the CNI plugin executable. It hands the call to the node agent over a local
 * socket and relays the answer, so that a runtime pays for a small exec, not a JVM start.
 * Framing (see AgentSocketProtocol.java): CNI_* variables as KEY=VALUE lines, an empty line,
 * stdin verbatim; the answer is the exit code on one line, then stdout verbatim.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static const char *VERSION_JSON =
    "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}";

/* Reads a top-level string field of the configuration; enough for agentSocket and cniVersion. */
static int json_string(const char *json, const char *key, char *out, size_t cap) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char *p = strstr(json, pattern);
  if (!p) return 0;
  p += strlen(pattern);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return 0;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return 0;
  size_t n = 0;
  while (*p && *p != '"' && n + 1 < cap) out[n++] = *p++;
  out[n] = 0;
  return *p == '"';
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

static void fail(const char *version, const char *msg, const char *path) {
  printf("{\"cniVersion\":\"%s\",\"code\":11,\"msg\":\"tweed agent not reachable at %s\","
         "\"details\":\"%s\"}", version, path, msg);
  exit(1);
}

int main(void) {
  const char *cmd = getenv("CNI_COMMAND");
  if (cmd && strcmp(cmd, "VERSION") == 0) {
    fputs(VERSION_JSON, stdout);
    return 0;
  }
  size_t cap = 65536, len = 0;
  char *in = malloc(cap + 1);
  for (;;) {
    if (len == cap) in = realloc(in, (cap *= 2) + 1);
    ssize_t r = read(0, in + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  in[len] = 0;

  char path[sizeof(((struct sockaddr_un *)0)->sun_path)] = "/run/tweed/agent.sock";
  char version[32] = "1.1.0";
  json_string(in, "agentSocket", path, sizeof path);
  json_string(in, "cniVersion", version, sizeof version);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail(version, strerror(errno), path);

  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) == 0 && !strchr(*e, '\n')) {
      if (write_all(fd, *e, strlen(*e)) < 0 || write_all(fd, "\n", 1) < 0) fail(version, strerror(errno), path);
    }
  }
  if (write_all(fd, "\n", 1) < 0 || write_all(fd, in, len) < 0) fail(version, strerror(errno), path);
  shutdown(fd, SHUT_WR);

  char buf[65536];
  int code = -1;
  char head[16];
  size_t hlen = 0;
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) != 0) {
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(version, strerror(errno), path);
    }
    size_t off = 0;
    while (code < 0 && off < (size_t)r) {
      char c = buf[off++];
      if (c == '\n') {
        head[hlen] = 0;
        code = atoi(head);
      } else if (hlen + 1 < sizeof head) {
        head[hlen++] = c;
      }
    }
    if (off < (size_t)r) write_all(1, buf + off, (size_t)r - off);
  }
  if (code < 0) fail(version, "agent closed the connection without an answer", path);
  return code;
}
