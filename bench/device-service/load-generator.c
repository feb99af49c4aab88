/*
 * Simulated devices for the ingestion benchmark, the native twin of load-generator.ts: each device
 * connects over mutual TLS with its own enrolled certificate, says CONNECT as MQTT 3.1.1 with its
 * id and MQTT password, waits for the word to start, then publishes its events at QoS 1 on
 * devices/<id>/events with up to INFLIGHT of them awaiting their PUBACK. The publishes a device
 * makes while answering the PUBACKs of one read leave in one TLS record, as firmware with a queue
 * of events fills a segment; the events are the same JSON as load-generator.ts sends.
 *
 * Why C in a TypeScript project: the simulated devices share this 2-core machine with the broker,
 * cert-service, device-service and PostgreSQL they measure. load-generator.ts costs 14-20 us of
 * CPU per event, a fifth of the whole run's, most of it JavaScript around the TLS and system calls
 * that are the protocol's real cost; devices in the field spend none of this machine's CPU at all.
 * A load generator has to cost much less than what it measures.
 *
 * Usage: load-generator MANIFEST HOST PORT CA_FILE EVENTS INFLIGHT
 * MANIFEST has a line per device: id, MQTT password, certificate PEM and key PEM, the last two in
 * base64, separated by spaces. Standard output says how far it got, a line each:
 *   connected N | ready | acked N | done ACKED SECONDS
 * Standard input says when: "go" to start publishing; "stop" (or its end) to disconnect and exit.
 * Exits 1 when the broker refuses or drops a device, 2 on any other failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECTING_AT_ONCE 16
#define KEEPALIVE_SECONDS 600
#define MAX_INFLIGHT 64
#define READ_SIZE 16384
#define STDIN_TAG ((void *)1)

enum state { IDLE, TCP_CONNECTING, HANDSHAKING, AWAITING_CONNACK, READY, CLOSED };

struct device {
  char *id;
  char *password;
  char *cert_pem;
  char *key_pem;
  int fd;
  SSL *ssl;
  enum state state;
  /* Unparsed bytes of what the broker sent. */
  unsigned char *in;
  size_t in_used, in_size;
  /* Packets to send, joined into the next write. */
  unsigned char *out;
  size_t out_used, out_size;
  int want_write;
  long next_event;
  int awaiting;
  unsigned short awaiting_ids[MAX_INFLIGHT];
  unsigned short next_id;
  int queued_for_flush;
};

static struct device *devices;
static int device_count;
static long events_each;
static int inflight;
static long total_acked;
static int epoll_fd;
static SSL_CTX *tls;
static struct sockaddr_in broker_address;
static int publishing;
static struct device **to_flush;
static int to_flush_count;

static void fail(const char *what) {
  fprintf(stderr, "load-generator: %s: %s\n", what, errno ? strerror(errno) : "");
  unsigned long code;
  while ((code = ERR_get_error()) != 0) fprintf(stderr, "  %s\n", ERR_error_string(code, NULL));
  exit(2);
}

static void device_lost(struct device *d, const char *why) {
  fprintf(stderr, "device %s %s\n", d->id, why);
  exit(1);
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *grow(void *buffer, size_t *size, size_t needed) {
  if (needed <= *size) return buffer;
  size_t next = *size ? *size : 256;
  while (next < needed) next *= 2;
  buffer = realloc(buffer, next);
  if (!buffer) fail("out of memory");
  *size = next;
  return buffer;
}

static char *from_base64(const char *text) {
  size_t length = strlen(text);
  unsigned char *decoded = malloc(length + 1);
  if (!decoded) fail("out of memory");
  int n = EVP_DecodeBlock(decoded, (const unsigned char *)text, (int)length);
  if (n < 0) fail("a manifest line's PEM is not base64");
  /* EVP_DecodeBlock counts the padding as bytes. */
  while (length > 0 && text[length - 1] == '=') length--, n--;
  decoded[n] = 0;
  return (char *)decoded;
}

static void read_manifest(const char *path) {
  FILE *file = fopen(path, "r");
  if (!file) fail(path);
  size_t size = 0;
  char *line = NULL;
  int capacity = 0;
  while (getline(&line, &size, file) > 0) {
    char *save = NULL;
    char *id = strtok_r(line, " \n", &save);
    char *password = strtok_r(NULL, " \n", &save);
    char *cert = strtok_r(NULL, " \n", &save);
    char *key = strtok_r(NULL, " \n", &save);
    if (!id) continue;
    if (!password || !cert || !key) fail("a manifest line has fewer than four fields");
    if (device_count == capacity) {
      capacity = capacity ? capacity * 2 : 1024;
      devices = realloc(devices, sizeof(struct device) * (size_t)capacity);
      if (!devices) fail("out of memory");
    }
    struct device *d = &devices[device_count++];
    memset(d, 0, sizeof *d);
    d->id = strdup(id);
    d->password = strdup(password);
    d->cert_pem = from_base64(cert);
    d->key_pem = from_base64(key);
    d->fd = -1;
    d->next_id = 1;
  }
  free(line);
  fclose(file);
}

/* MQTT's remaining length (MQTT 3.1.1 section 2.2.3). */
static size_t put_length(unsigned char *at, size_t length) {
  size_t n = 0;
  do {
    unsigned char byte = length % 128;
    length /= 128;
    at[n++] = byte | (length > 0 ? 0x80 : 0);
  } while (length > 0);
  return n;
}

static size_t put_string(unsigned char *at, const char *text, size_t length) {
  at[0] = (unsigned char)(length >> 8);
  at[1] = (unsigned char)length;
  memcpy(at + 2, text, length);
  return length + 2;
}

static void queue_packet(struct device *d, const unsigned char *packet, size_t length) {
  d->out = grow(d->out, &d->out_size, d->out_used + length);
  memcpy(d->out + d->out_used, packet, length);
  d->out_used += length;
  if (!d->queued_for_flush) {
    d->queued_for_flush = 1;
    to_flush[to_flush_count++] = d;
  }
}

static void queue_connect(struct device *d) {
  size_t id_length = strlen(d->id), password_length = strlen(d->password);
  size_t body = 10 + (2 + id_length) * 2 + 2 + password_length;
  unsigned char *packet = malloc(body + 5);
  if (!packet) fail("out of memory");
  size_t n = 0;
  packet[n++] = 0x10;
  n += put_length(packet + n, body);
  n += put_string(packet + n, "MQTT", 4);
  packet[n++] = 4;    /* protocol level: 3.1.1 */
  packet[n++] = 0xc2; /* username, password, clean session */
  packet[n++] = KEEPALIVE_SECONDS >> 8;
  packet[n++] = KEEPALIVE_SECONDS & 0xff;
  n += put_string(packet + n, d->id, id_length);
  n += put_string(packet + n, d->id, id_length);
  n += put_string(packet + n, d->password, password_length);
  queue_packet(d, packet, n);
  free(packet);
}

static void queue_event(struct device *d) {
  char topic[256], payload[256], stamp[32];
  long step = d->next_event++;
  int topic_length = snprintf(topic, sizeof topic, "devices/%s/events", d->id);
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  struct tm utc;
  gmtime_r(&wall.tv_sec, &utc);
  size_t stamped = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(stamp + stamped, sizeof stamp - stamped, ".%03ldZ", wall.tv_nsec / 1000000);
  int payload_length = snprintf(payload, sizeof payload,
                                "{\"id\":\"e-%ld\",\"type\":\"cycle.progress\",\"time\":\"%s\","
                                "\"data\":{\"step\":%ld,\"rpm\":1200}}",
                                step, stamp, step);
  unsigned short id = d->next_id;
  d->next_id = d->next_id == 65535 ? 1 : d->next_id + 1;
  d->awaiting_ids[d->awaiting++] = id;
  unsigned char packet[600];
  size_t body = 2 + (size_t)topic_length + 2 + (size_t)payload_length;
  size_t n = 0;
  packet[n++] = 0x32; /* PUBLISH, QoS 1 */
  n += put_length(packet + n, body);
  n += put_string(packet + n, topic, (size_t)topic_length);
  packet[n++] = (unsigned char)(id >> 8);
  packet[n++] = (unsigned char)id;
  memcpy(packet + n, payload, (size_t)payload_length);
  n += (size_t)payload_length;
  queue_packet(d, packet, n);
}

static void fill_window(struct device *d) {
  while (d->awaiting < inflight && d->next_event < events_each) queue_event(d);
}

static void watch(struct device *d, int op) {
  struct epoll_event event = {.events = EPOLLIN | (d->want_write ? EPOLLOUT : 0), .data.ptr = d};
  if (epoll_ctl(epoll_fd, op, d->fd, &event) < 0) fail("epoll_ctl");
}

static void set_want_write(struct device *d, int want) {
  if (d->want_write == want) return;
  d->want_write = want;
  watch(d, EPOLL_CTL_MOD);
}

static void flush(struct device *d) {
  size_t sent = 0;
  while (sent < d->out_used) {
    int n = SSL_write(d->ssl, d->out + sent, (int)(d->out_used - sent));
    if (n > 0) {
      sent += (size_t)n;
      continue;
    }
    int error = SSL_get_error(d->ssl, n);
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) break;
    device_lost(d, "could not be written to");
  }
  memmove(d->out, d->out + sent, d->out_used - sent);
  d->out_used -= sent;
  set_want_write(d, d->out_used > 0);
}

static void flush_queued(void) {
  for (int i = 0; i < to_flush_count; i++) {
    struct device *d = to_flush[i];
    d->queued_for_flush = 0;
    if (d->state == AWAITING_CONNACK || d->state == READY) flush(d);
  }
  to_flush_count = 0;
}

static int connecting;
static int next_to_connect;
static int connected_count;

static void start_connect(struct device *d) {
  d->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (d->fd < 0) fail("socket");
  int one = 1;
  setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(d->fd, (struct sockaddr *)&broker_address, sizeof broker_address) < 0 &&
      errno != EINPROGRESS)
    fail("connect");
  d->ssl = SSL_new(tls);
  if (!d->ssl) fail("SSL_new");
  BIO *cert_bio = BIO_new_mem_buf(d->cert_pem, -1);
  BIO *key_bio = BIO_new_mem_buf(d->key_pem, -1);
  X509 *cert = PEM_read_bio_X509(cert_bio, NULL, NULL, NULL);
  EVP_PKEY *key = PEM_read_bio_PrivateKey(key_bio, NULL, NULL, NULL);
  if (!cert || !key || SSL_use_certificate(d->ssl, cert) != 1 || SSL_use_PrivateKey(d->ssl, key) != 1)
    fail("a device's certificate or key");
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cert_bio);
  BIO_free(key_bio);
  SSL_set_tlsext_host_name(d->ssl, "localhost");
  if (SSL_set1_host(d->ssl, "localhost") != 1) fail("SSL_set1_host");
  SSL_set_fd(d->ssl, d->fd);
  SSL_set_connect_state(d->ssl);
  d->state = TCP_CONNECTING;
  d->want_write = 1;
  watch(d, EPOLL_CTL_ADD);
  connecting++;
}

static void connect_more(void) {
  while (connecting < CONNECTING_AT_ONCE && next_to_connect < device_count)
    start_connect(&devices[next_to_connect++]);
}

static void handshake(struct device *d) {
  int n = SSL_do_handshake(d->ssl);
  if (n == 1) {
    d->state = AWAITING_CONNACK;
    set_want_write(d, 0);
    queue_connect(d);
    return;
  }
  int error = SSL_get_error(d->ssl, n);
  if (error == SSL_ERROR_WANT_READ) set_want_write(d, 0);
  else if (error == SSL_ERROR_WANT_WRITE) set_want_write(d, 1);
  else device_lost(d, "failed the TLS handshake");
}

static void on_puback(struct device *d, unsigned short id) {
  for (int i = 0; i < d->awaiting; i++) {
    if (d->awaiting_ids[i] != id) continue;
    d->awaiting_ids[i] = d->awaiting_ids[--d->awaiting];
    total_acked++;
    if (publishing) fill_window(d);
    return;
  }
  device_lost(d, "got a PUBACK for no publish of its own");
}

/* Reads whole packets off the front of what the broker sent. */
static void parse(struct device *d) {
  size_t at = 0;
  while (d->in_used - at >= 2) {
    size_t length = 0, multiplier = 1, header = 1;
    for (;;) {
      if (at + header >= d->in_used) goto incomplete;
      unsigned char byte = d->in[at + header++];
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if (!(byte & 0x80)) break;
      if (header > 4) device_lost(d, "was sent a malformed packet");
    }
    if (d->in_used - at < header + length) break;
    unsigned char type = d->in[at] >> 4;
    const unsigned char *body = d->in + at + header;
    if (type == 2) { /* CONNACK */
      if (length < 2 || body[1] != 0) device_lost(d, "was refused: CONNACK not accepted");
      if (d->state == AWAITING_CONNACK) {
        d->state = READY;
        connecting--;
        connected_count++;
        printf("connected %d\n", connected_count);
        fflush(stdout);
        connect_more();
      }
    } else if (type == 4 && length >= 2) { /* PUBACK */
      on_puback(d, (unsigned short)(body[0] << 8 | body[1]));
    } else if (type != 13) { /* anything but PINGRESP */
      device_lost(d, "was sent a packet it never asked for");
    }
    at += header + length;
  }
incomplete:
  memmove(d->in, d->in + at, d->in_used - at);
  d->in_used -= at;
}

static void on_readable(struct device *d) {
  for (;;) {
    d->in = grow(d->in, &d->in_size, d->in_used + READ_SIZE);
    int n = SSL_read(d->ssl, d->in + d->in_used, READ_SIZE);
    if (n > 0) {
      d->in_used += (size_t)n;
      /* A short read with nothing left in OpenSSL drained the socket, as far as this turn goes:
       * another read would only say EAGAIN, a system call per event on this machine. */
      if (n < READ_SIZE && SSL_pending(d->ssl) == 0) break;
      continue;
    }
    int error = SSL_get_error(d->ssl, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
    d->state = CLOSED;
    device_lost(d, "was disconnected by the broker");
  }
  parse(d);
}

static void on_event(struct device *d, unsigned int events) {
  if (d->state == TCP_CONNECTING) {
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error) {
      errno = error;
      fail("connect to the broker");
    }
    d->state = HANDSHAKING;
  }
  if (d->state == HANDSHAKING) {
    handshake(d);
    return;
  }
  if (events & EPOLLOUT) flush(d);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(d);
}

static long acked_total_events(void) { return (long)device_count * events_each; }

/* Waits for the broker's answers and handles them; also reads commands when asked to. */
static void turn(int timeout_ms, char *command, size_t command_size) {
  struct epoll_event events[256];
  int n = epoll_wait(epoll_fd, events, 256, timeout_ms);
  if (n < 0 && errno != EINTR) fail("epoll_wait");
  for (int i = 0; i < n; i++) {
    if (events[i].data.ptr == STDIN_TAG) {
      ssize_t got = read(STDIN_FILENO, command, command_size - 1);
      command[got > 0 ? got : 0] = 0;
      if (got <= 0) strcpy(command, "stop");
      continue;
    }
    on_event(events[i].data.ptr, events[i].events);
  }
  flush_queued();
}

static void send_pings(double now, double *last_ping) {
  /* Half the keep-alive, as a client with nothing else to say sends PINGREQ. */
  if (now - *last_ping < KEEPALIVE_SECONDS / 2.0) return;
  *last_ping = now;
  static const unsigned char pingreq[] = {0xc0, 0x00};
  for (int i = 0; i < device_count; i++) queue_packet(&devices[i], pingreq, sizeof pingreq);
  flush_queued();
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: load-generator MANIFEST HOST PORT CA_FILE EVENTS INFLIGHT\n");
    return 2;
  }
  read_manifest(argv[1]);
  broker_address.sin_family = AF_INET;
  broker_address.sin_port = htons((unsigned short)atoi(argv[3]));
  if (inet_pton(AF_INET, argv[2], &broker_address.sin_addr) != 1) fail("HOST is not an IPv4 address");
  events_each = atol(argv[5]);
  inflight = atoi(argv[6]);
  if (inflight < 1 || inflight > MAX_INFLIGHT) fail("INFLIGHT must be from 1 to 64");
  to_flush = calloc((size_t)device_count + 1, sizeof *to_flush);

  tls = SSL_CTX_new(TLS_client_method());
  if (!tls) fail("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(tls, argv[4], NULL) != 1) fail("CA_FILE");
  SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  epoll_fd = epoll_create1(0);
  if (epoll_fd < 0) fail("epoll_create1");
  char command[64] = "";
  struct epoll_event stdin_event = {.events = EPOLLIN, .data.ptr = STDIN_TAG};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &stdin_event) < 0) fail("epoll_ctl stdin");

  connect_more();
  while (connected_count < device_count) {
    turn(1000, command, sizeof command);
    if (strncmp(command, "stop", 4) == 0) return 0;
  }
  printf("ready\n");
  fflush(stdout);
  while (strncmp(command, "go", 2) != 0) {
    turn(1000, command, sizeof command);
    if (strncmp(command, "stop", 4) == 0) return 0;
  }

  double started = now_seconds(), last_report = started, last_ping = started;
  publishing = 1;
  for (int i = 0; i < device_count; i++) fill_window(&devices[i]);
  flush_queued();
  while (total_acked < acked_total_events()) {
    turn(250, command, sizeof command);
    double now = now_seconds();
    if (now - last_report >= 0.25) {
      printf("acked %ld\n", total_acked);
      fflush(stdout);
      last_report = now;
    }
    send_pings(now, &last_ping);
    if (strncmp(command, "stop", 4) == 0) return 0;
  }
  printf("done %ld %.6f\n", total_acked, now_seconds() - started);
  fflush(stdout);

  while (strncmp(command, "stop", 4) != 0) {
    turn(1000, command, sizeof command);
    send_pings(now_seconds(), &last_ping);
  }
  static const unsigned char disconnect[] = {0xe0, 0x00};
  for (int i = 0; i < device_count; i++) {
    queue_packet(&devices[i], disconnect, sizeof disconnect);
  }
  flush_queued();
  for (int i = 0; i < device_count; i++) {
    SSL_shutdown(devices[i].ssl);
    close(devices[i].fd);
  }
  return 0;
}
