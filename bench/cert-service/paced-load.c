/*
 * An open-loop HTTP/1.1 load generator for one prebuilt request, the native twin of
 * paced-client.mjs: request i is due at start + i / rate whether or not earlier ones were answered,
 * it leaves on a free keep-alive connection (one request in flight each, as VerneMQ's webhook pool
 * sends them), and its latency counts from when it was due, so a stall delays every request queued
 * behind it in the figures too.
 *
 * Why C in a TypeScript project: at 15,000 requests/s the Node client costs 20-40 us of CPU per
 * request on this 2-core machine, as much as the service it measures, and its own event loop puts
 * milliseconds into every latency it reads (a bare TCP server answering a fixed body measured a
 * p99 of 5 ms through it). A load generator has to cost much less than the thing it measures; this
 * one spends its time in the two system calls each request needs.
 *
 * Usage: paced-load HOST PORT RATE SECONDS CONNECTIONS EXPECT < request
 * The request is read whole from standard input. An answer counts as an error unless its status is
 * 200 and its body contains EXPECT. Prints one JSON object.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_SIZE 16384
#define STALL_SECONDS 30.0

struct connection {
  int fd;
  int busy;
  double due_at;
  size_t used;
  char buffer[BUFFER_SIZE];
};

static void fail(const char *what) {
  fprintf(stderr, "paced-load: %s: %s\n", what, strerror(errno));
  exit(2);
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double percentile(double *sorted, long count, double q) {
  long at = (long)((double)count * q);
  return sorted[at < count ? at : count - 1];
}

static char *read_all(FILE *in, size_t *length) {
  size_t capacity = 4096, used = 0;
  char *data = malloc(capacity);
  for (size_t n; data && (n = fread(data + used, 1, capacity - used, in)) > 0;) {
    used += n;
    if (used == capacity) data = realloc(data, capacity *= 2);
  }
  if (!data) fail("reading the request");
  *length = used;
  return data;
}

/** The body length a complete header announces; -1 when it announces none. */
static long content_length(const char *head, size_t head_length) {
  static const char name[] = "\r\ncontent-length:";
  for (size_t i = 0; i + sizeof name - 1 <= head_length; i++) {
    if (strncasecmp(head + i, name, sizeof name - 1) != 0) continue;
    return strtol(head + i + sizeof name - 1, NULL, 10);
  }
  return -1;
}

static struct sockaddr_in address = {.sin_family = AF_INET};

/** Connects c afresh and watches it: at start, and after the service closed an idle connection. */
static void open_connection(int epoll, struct connection *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&address, sizeof address) != 0) fail("connect");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  c->used = 0;
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, c->fd, &event) != 0) fail("epoll_ctl");
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: paced-load HOST PORT RATE SECONDS CONNECTIONS EXPECT < request\n");
    return 2;
  }
  const double rate = atof(argv[3]);
  const long total = (long)(rate * atof(argv[4]) + 0.5);
  const int count = atoi(argv[5]);
  const char *expect = argv[6];
  size_t request_length;
  const char *request = read_all(stdin, &request_length);
  if (rate <= 0 || total <= 0 || count <= 0 || request_length == 0) {
    fprintf(stderr, "paced-load: rate, seconds, connections and the request must be positive\n");
    return 2;
  }

  double *latencies = malloc(sizeof(double) * (size_t)total);
  double *send_lags = malloc(sizeof(double) * (size_t)total);
  // Free connections wait in a ring, first freed first used, so that every connection stays in
  // use and none outlives the service's keep-alive timeout unused.
  struct connection **idle = malloc(sizeof(struct connection *) * (size_t)count);
  struct connection *pool = calloc((size_t)count, sizeof(struct connection));
  int epoll = epoll_create1(0);
  if (!latencies || !send_lags || !idle || !pool || epoll < 0) fail("setting up");
  address.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) fail("host must be an IPv4 address");
  int idle_count = 0, idle_head = 0;
  for (int i = 0; i < count; i++) {
    open_connection(epoll, &pool[i]);
    idle[idle_count++] = &pool[i];
  }
  long reconnects = 0;

  long sent = 0, answered = 0, errors = 0;
  const double start = now_seconds();
  double last_progress = start;
  struct epoll_event events[256];
  while (answered < total) {
    double now = now_seconds();
    long due = (long)((now - start) * rate) + 1;
    if (due > total) due = total;
    // Requests that fell due leave on free connections, oldest first.
    while (sent < due && idle_count > 0) {
      struct connection *c = idle[idle_head];
      idle_head = (idle_head + 1) % count;
      idle_count--;
      c->busy = 1;
      c->due_at = start + (double)sent / rate;
      send_lags[sent++] = now - c->due_at;
      // A request this small always fits an idle connection's send buffer.
      if (write(c->fd, request, request_length) != (ssize_t)request_length) fail("write");
    }
    struct timespec timeout = {0, 0};
    if (sent < total && idle_count > 0) {
      double wait = start + (double)sent / rate - now;
      if (wait > 0) timeout = (struct timespec){(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    } else {
      timeout.tv_nsec = 1000000;
    }
    int ready = epoll_pwait2(epoll, events, 256, &timeout, NULL);
    if (ready < 0 && errno != EINTR) fail("epoll_pwait2");
    now = now_seconds();
    for (int e = 0; e < ready; e++) {
      struct connection *c = events[e].data.ptr;
      ssize_t n = read(c->fd, c->buffer + c->used, BUFFER_SIZE - c->used);
      if (n < 0 && errno == EAGAIN) continue;
      if (n <= 0) {
        // Closed by the service: an error if it held a request, which is not sent again.
        close(c->fd);
        open_connection(epoll, c);
        reconnects++;
        if (!c->busy) continue;
        errors++;
        latencies[answered++] = now - c->due_at;
        c->busy = 0;
        idle[(idle_head + idle_count++) % count] = c;
        continue;
      }
      c->used += (size_t)n;
      char *end = memmem(c->buffer, c->used, "\r\n\r\n", 4);
      if (!end) continue;
      size_t head_length = (size_t)(end - c->buffer) + 4;
      long body_length = content_length(c->buffer, head_length);
      if (body_length < 0 || c->used < head_length + (size_t)body_length) continue;
      int ok = c->used > 12 && strncmp(c->buffer + 9, "200", 3) == 0 &&
               memmem(c->buffer + head_length, (size_t)body_length, expect, strlen(expect)) != NULL;
      if (!ok) errors++;
      latencies[answered++] = now - c->due_at;
      // One request in flight per connection: nothing can follow the answer.
      c->used = 0;
      c->busy = 0;
      idle[(idle_head + idle_count++) % count] = c;
      last_progress = now;
    }
    if (now - last_progress > STALL_SECONDS) {
      errno = ETIMEDOUT;
      fail("no answer for 30 s");
    }
  }
  const double elapsed = now_seconds() - start;

  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  qsort(latencies, (size_t)total, sizeof(double), by_value);
  qsort(send_lags, (size_t)total, sizeof(double), by_value);
  printf("{\"sent\":%ld,\"errors\":%ld,\"perSecond\":%.1f,\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
         "\"max\":%.3f,\"sendLagP99\":%.3f,\"cpuSeconds\":%.3f,\"reconnects\":%ld}\n",
         total, errors, (double)total / elapsed, percentile(latencies, total, 0.5) * 1e3,
         percentile(latencies, total, 0.99) * 1e3, percentile(latencies, total, 0.999) * 1e3,
         latencies[total - 1] * 1e3, percentile(send_lags, total, 0.99) * 1e3,
         (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
             (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6,
         reconnects);
  return 0;
}
