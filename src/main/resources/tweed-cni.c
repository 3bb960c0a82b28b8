/*
 * tweed-cni: the CNI plugin executable. It hands the call to the node agent over a local
 * socket and relays the answer, so that a runtime pays for a small exec, not a JVM start.
 * Framing (see AgentSocketProtocol.java): CNI_* variables as KEY=VALUE lines, an empty line,
 * stdin verbatim; the answer is the exit code on one line, then stdout verbatim.
 *
 * The shim opens CNI_NETNS itself and passes the open descriptor with its first byte
 * (SCM_RIGHTS): the runtime's namespace path lives in the runtime's mount (and maybe PID)
 * namespace, which the agent need not share. Input is checked here first, so that a malformed
 * call gets the spec's answer even when no agent runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static const char *VERSION_JSON =
    "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":"
    "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}";

/* A strict JSON syntax check (RFC 8259), depth-limited: enough to tell a decodable
 * configuration from one that is not, as the spec's error code 6 requires. */
static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}
static const char *value(const char *p, int depth);
static const char *string(const char *p) {
  if (*p++ != '"') return NULL;
  for (;;) {
    unsigned char c = (unsigned char)*p++;
    if (c == '"') return p;
    if (c < 0x20) return NULL;
    if (c == '\\') {
      c = (unsigned char)*p++;
      if (c == 'u') {
        for (int i = 0; i < 4; i++, p++)
          if (!strchr("0123456789abcdefABCDEF", *p) || !*p) return NULL;
      } else if (!c || !strchr("\"\\/bfnrt", c)) {
        return NULL;
      }
    }
  }
}
static const char *number(const char *p) {
  if (*p == '-') p++;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
  else return NULL;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9') return NULL;
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (*p < '0' || *p > '9') return NULL;
    while (*p >= '0' && *p <= '9') p++;
  }
  return p;
}
static const char *value(const char *p, int depth) {
  if (depth > 64) return NULL;
  p = ws(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        if (!(p = string(ws(p)))) return NULL;
        p = ws(p);
        if (*p++ != ':') return NULL;
      }
      if (!(p = value(p, depth + 1))) return NULL;
      p = ws(p);
      if (*p == close) return p + 1;
      if (*p++ != ',') return NULL;
    }
  }
  if (*p == '"') return string(p);
  if (!strncmp(p, "true", 4)) return p + 4;
  if (!strncmp(p, "false", 5)) return p + 5;
  if (!strncmp(p, "null", 4)) return p + 4;
  return number(p);
}
/* 1 when the whole input is one JSON object. */
static int is_json_object(const char *in, size_t len) {
  if (strlen(in) != len) return 0; /* a NUL byte inside */
  const char *p = ws(in);
  if (*p != '{') return 0;
  p = value(p, 0);
  return p && *ws(p) == 0;
}

static void answer_error(const char *version, int code, const char *msg, const char *details) {
  printf("{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":\"%s\"", version, code, msg);
  if (!*details) {
    putchar('}');
    exit(1);
  }
  fputs(",\"details\":\"", stdout);
  for (const char *d = details; *d; d++) {
    if (*d == '"' || *d == '\\') putchar('\\');
    if ((unsigned char)*d >= 0x20) putchar(*d);
  }
  fputs("\"}", stdout);
  exit(1);
}

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
  char m[256];
  snprintf(m, sizeof m, "tweed agent not reachable at %s", path);
  answer_error(version, 11, m, msg);
}

/* Sends buf with the descriptor fd (if >= 0) attached to its first byte. */
static int send_with_fd(int sock, const char *buf, size_t len, int fd) {
  if (fd < 0) return write_all(sock, buf, len);
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t w;
  do w = sendmsg(sock, &msg, 0); while (w < 0 && errno == EINTR);
  if (w < 0) return -1;
  return write_all(sock, buf + w, len - (size_t)w);
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
  if (!is_json_object(in, len))
    answer_error(version, 6, "cannot decode network configuration", "stdin is not a JSON object");
  json_string(in, "agentSocket", path, sizeof path);
  json_string(in, "cniVersion", version, sizeof version);
  if (!cmd || !*cmd) answer_error(version, 4, "CNI_COMMAND is not set", "");

  /* ADD and CHECK need the namespace; DEL and GC may name one that is gone already. */
  int netns = -1;
  const char *netns_path = getenv("CNI_NETNS");
  if (netns_path && *netns_path) {
    netns = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (netns < 0 && (!strcmp(cmd, "ADD") || !strcmp(cmd, "CHECK")))
      answer_error(version, 4, "cannot open CNI_NETNS", strerror(errno));
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail(version, strerror(errno), path);

  size_t hcap = 4096, hlen0 = 0;
  char *headers = malloc(hcap);
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) == 0 && !strchr(*e, '\n')) {
      size_t n = strlen(*e);
      while (hlen0 + n + 2 > hcap) headers = realloc(headers, hcap *= 2);
      memcpy(headers + hlen0, *e, n);
      headers[hlen0 + n] = '\n';
      hlen0 += n + 1;
    }
  }
  headers[hlen0++] = '\n';
  if (send_with_fd(fd, headers, hlen0, netns) < 0 || write_all(fd, in, len) < 0)
    fail(version, strerror(errno), path);
  if (netns >= 0) close(netns);
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
