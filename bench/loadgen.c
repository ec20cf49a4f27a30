/*
 * loadgen: the load generator of bench/driver.py.
 *
 * One thread, epoll (edge-triggered), non-blocking sockets, a WebSocket
 * client of its own (RFC 6455 opening handshake, masked client frames, a
 * streaming parser of the server's frames), or raw TCP with --raw.  It does
 * as little as it can per message so that it is not the bottleneck:
 *
 *   - every client frame it sends is encoded and masked once, at start-up:
 *     the echo stream of a connection is that frame repeated, so "send one
 *     more message" is "add the frame's length to what is pending", and a
 *     write goes straight out of a buffer of back-to-back copies (no copy,
 *     no masking per message);
 *   - server frames are parsed in place, payloads are compared with the
 *     expected bytes (memcmp) but never copied;
 *   - every connection offers the same Sec-WebSocket-Key (RFC 6455's
 *     example, so the Sec-WebSocket-Accept to expect is a constant) and
 *     masks with the same key: a server cannot tell, and the client needs
 *     neither SHA-1 nor random numbers.
 *
 * Modes (see usage()):
 *   echo        N connections, K messages in flight each, every echo
 *               answered by one more message: messages/s (and MiB/s).
 *   large       the same with 1 MiB binary messages by default: MiB/s.
 *   broadcast   R receivers and one sender; the sender keeps W messages
 *               ("B" + sequence number) in flight, a message being done
 *               when every receiver has it: deliveries/s and
 *               send-to-last-receipt latency.
 *   idle        open N connections, print "ready N", hold them until a line
 *               (or EOF) on stdin or --hold seconds; the driver reads the
 *               server's RSS meanwhile.
 *   handshakes  C connections at a time, each: connect, opening handshake,
 *               close handshake, close: handshakes/s.  An answer other
 *               than 101, or a close from the server with a code other
 *               than 1000, is a refusal: counted ("refused"), not a
 *               handshake.  With --cookie every request carries a session
 *               cookie, with --sessions N one of N different ids in turn.
 *   serve       not a client: a minimal C WebSocket echo/broadcast server
 *               (the generator's own ceiling is measured against it).
 *
 * With --raw there is no WebSocket: a "message" is SIZE raw bytes of the
 * stream, and the "handshake" is the bytes of the HTTP request sent and
 * echoed back (so handshakes/s is connect + one round trip + close).
 *
 * With --deflate every connection offers permessage-deflate (RFC 7692) with
 * client_no_context_takeover and server_no_context_takeover, and the run
 * fails if the server does not accept it.  Since neither side keeps context
 * between messages, a client message is compressed once at start-up like
 * the rest of its frame (broadcast: see broadcast_send for the sequence
 * number).  A server message with RSV1 set is inflated through one z_stream
 * per connection, reset per message, and the inflated bytes are verified as
 * usual; a server may leave a message uncompressed too.  Broadcast
 * receivers inflate a message only if it is not byte-for-byte one already
 * inflated and verified (see memo_finish).  Received payload bytes are
 * counted both as on the wire and inflated.
 *
 * With --chat a message is chat-like JSON text instead of SIZE letters: one
 * of CHAT_TEXTS messages of 206 to 266 bytes, 243 on average (see CHAT).
 *
 * Output on stdout, one line each: "phase measure" when the measurement
 * starts, "phase end" when it ends (the driver reads the server's CPU time
 * at both), "ready N" (idle), and last "result {json}".  Every phase is
 * bounded in time; --timeout bounds the whole run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ------------------------------------------------------------------ */
/* Limits and constants                                                */

#define READ_BUF_SIZE (1 << 20)    /* one read() takes at most this      */
#define MAX_EVENTS 1024            /* events per epoll_wait()            */
#define MAX_HEAD 8192              /* largest handshake response head    */
#define BURST_MIN_BYTES (64 << 10) /* back-to-back frames per write()    */
#define MAX_LATENCIES (1 << 20)    /* latency samples kept (broadcast)   */
#define SEQ_CAPTURE 18             /* "B" kind + 16 hex digits           */
#define SEQ_FIELD 17               /* kind + 16 hex digits               */
#define MAX_CAPTURE 64             /* a message's head up to its SEQ_FIELD */
#define MAX_BCAST 8192             /* largest broadcast frame            */
#define INFLATE_CHUNK (64 << 10)   /* inflated bytes per inflate() call  */
#define MEMO_SIZE 4096             /* broadcast messages remembered (2^k) */
#define MEMO_WAYS 4                /* places a message may take in memo  */
#define SYNC_RESEND_S 0.2          /* broadcast: resend a sync message   */
#define STALL_S 10.0               /* broadcast: no progress this long   */
#define MAX_ERRORS 1000            /* connect errors before giving up    */
#define MAX_PORTS 16               /* server ports (--port P1,P2,...)    */

#define OP_CONT 0x0
#define OP_TEXT 0x1
#define OP_BINARY 0x2
#define OP_CLOSE 0x8
#define OP_PING 0x9
#define OP_PONG 0xA
#define RSV1 0x40                  /* first header byte: compressed      */

/* The tail that a permessage-deflate sender strips and the receiver puts
 * back (RFC 7692 section 7.2.2): an empty stored block's LEN and NLEN. */
static const uint8_t DEFLATE_TAIL[4] = {0x00, 0x00, 0xff, 0xff};
static const char DEFLATE_OFFER[] =
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

static const char WS_KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";
/* base64(sha1(WS_KEY + GUID)), RFC 6455 section 1.3. */
static const char WS_ACCEPT[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

enum mode { M_ECHO, M_LARGE, M_BROADCAST, M_IDLE, M_HANDSHAKES, M_SERVE };
enum cstate { C_FREE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSING };
enum role { R_ECHO, R_SENDER, R_RECEIVER, R_CYCLE, R_IDLE };
enum phase { P_CONNECT, P_SYNC, P_WARMUP, P_MEASURE, P_HOLD, P_DONE };
enum fstate { F_HDR, F_PAYLOAD };

/* ------------------------------------------------------------------ */
/* Options                                                             */

static struct {
    enum mode mode;
    const char *host;
    int port;        /* the first of ports: the broadcast sender's */
    int ports[MAX_PORTS], nports;
    const char *path;
    int raw;
    int conns;       /* echo/large/idle connections; broadcast receivers */
    size_t size;     /* message size */
    int inflight;    /* echo: messages in flight per connection */
    int binary;
    double warmup, duration, timeout, hold;
    int concurrency; /* connects/handshakes at a time */
    int sources;     /* loopback source addresses 127.0.0.2.. (0: none) */
    int window;      /* broadcast: messages in flight */
    int verify;
    int quickack;    /* TCP_QUICKACK after every read: no delayed ACKs */
    int deflate;     /* offer (serve: accept) permessage-deflate */
    int chat;        /* chat-like JSON messages instead of letters */
    int memo;        /* receivers: remember verified compressed messages */
    const char *cookie; /* "NAME=PREFIX": a Cookie header in every request */
    int sessions;    /* --cookie: ids PREFIX + 8 digits, 0..N-1 in turn */
} opt = {
    .host = "127.0.0.1", .port = 0, .path = "/", .conns = 64, .size = 32,
    .inflight = 16, .warmup = 1.0, .duration = 5.0, .timeout = 120.0,
    .hold = 30.0, .concurrency = 32, .sources = 16, .window = 16, .verify = 1,
    .memo = 1,
};

/* ------------------------------------------------------------------ */
/* Connections                                                         */

typedef struct conn {
    int fd;
    uint8_t state, role, fst, synced;
    uint8_t portidx;     /* which of opt.ports it connected to */
    uint8_t hdr[14], hdrlen, hdrneed;
    uint8_t op, fin, msgop;
    uint8_t zmsg;        /* the current message is compressed (RSV1) */
    uint8_t zstop;       /* ... and inflating it is over (end, error) */
    uint8_t bad;         /* receiver: the current message is wrong */
    uint8_t zkeep;       /* receiver: compressed message kept in zbuf */
    uint8_t cap[MAX_CAPTURE], caplen;
    uint8_t ctl[126], ctllen;
    int tidx;            /* receiver: template of the current message, -1 */
    uint64_t left;       /* payload bytes left in the current frame */
    uint64_t msgpos;     /* offset in the current message (inflated) */
    uint64_t msglen;
    uint64_t wirepos;    /* payload bytes of the current message as received */
    z_stream *zin;       /* --deflate: the inflater, made on first use */
    uint8_t *zbuf;       /* receiver: the compressed message so far */
    size_t zbuflen, zbufcap;
    char *head;          /* handshake response so far */
    size_t headlen;
    size_t rawhs;        /* raw: request bytes still to be echoed */
    uint8_t *dyn;        /* one-off output: request, pong, close, broadcast */
    size_t dynoff, dynlen, dyncap;
    uint64_t pend;       /* bytes of the repeated frame stream still to send */
    uint64_t spos;       /* position in the repeated frame, 0..flen-1 */
    uint64_t rpos;       /* raw: bytes received since the handshake */
    uint64_t msgs;
} conn;

static conn *conns;
static int nconns;     /* slots */
static int epfd;
static uint8_t *rbuf;

static uint8_t *payload;    /* the message payload (unmasked) */
static uint8_t *burst;      /* back-to-back copies of the frame, masked */
static size_t flen;         /* bytes of one frame on the wire */
static size_t burstlen;
static uint8_t *zout;       /* --deflate: inflated bytes, INFLATE_CHUNK */

/* Broadcast messages: every message is one of these, with the kind and
 * sequence number in SEQ_FIELD bytes at seqoff (so its template is
 * seq % ntmpl).  With --deflate, z is the part after that field, deflated
 * on its own (see broadcast_send). */
typedef struct {
    uint8_t *plain;
    size_t len;
    uint8_t *z;
    size_t zlen;
} tmpl_t;
static tmpl_t *tmpls;
static int ntmpl;
static size_t seqoff = 1;
static size_t capn = SEQ_CAPTURE; /* seqoff + SEQ_FIELD */
static size_t maxmsg;             /* longest message the server may send */
static double client_wire, client_plain; /* mean bytes of a client message */

/* Receivers' memo of compressed broadcast messages already inflated and
 * verified (see memo_finish): a message may be in any of MEMO_WAYS places
 * from its hash on (so that two in flight at once do not keep pushing each
 * other out), the longest unused of them is replaced. */
typedef struct {
    uint64_t hash, used;
    size_t len, plainlen;
    uint8_t *bytes;
    uint8_t cap[MAX_CAPTURE];
    int tidx;
} memo_t;
static memo_t memo[MEMO_SIZE];
static uint64_t memo_clock;
static char *request;
static size_t requestlen;
static uint8_t closeframe[8];

static struct {
    enum phase phase;
    double t0, tphase, tmeasure, tend;
    double deadline;    /* end of the current phase */
    int opened, connecting, started, failed, errors, dropped, verify_errors;
    int protocol_errors;
    int refused;        /* handshakes mode: refusals (see the top comment) */
    char refusal[128];  /* the first of them */
    uint64_t next_session;
    uint64_t msgs, bytes, deliveries, cycles;
    uint64_t m_msgs, m_bytes, m_deliveries, m_cycles;
    /* data messages received; their payload bytes on the wire and inflated */
    uint64_t rx, rxz, wire, plain, memo;
    uint64_t m_rx, m_rxz, m_wire, m_plain, m_memo;
    double cpu_measure0, cpu_measure;
    char error[256];
    /* broadcast */
    conn *sender;
    int synced;
    uint64_t syncseq;
    double synclast;
    uint64_t seq, done_seq, outstanding;
    double *sent_at;
    int *got;
    int ring;
    /* per port: connections open, broadcast deliveries (measured window) */
    int port_open[MAX_PORTS];
    uint64_t port_deliveries[MAX_PORTS], m_port_deliveries[MAX_PORTS];
    double lastprogress;
    double *lat;
    size_t nlat;
    int stdin_open;
} g;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void fail(const char *fmt, ...) {
    if (g.error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g.error, sizeof g.error, fmt, ap);
    va_end(ap);
    g.phase = P_DONE;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

/* ------------------------------------------------------------------ */
/* Frames                                                              */

/* Encode a masked client frame into out; returns its length. */
static size_t encode_frame(uint8_t *out, int op, const uint8_t *data, size_t n) {
    size_t h = 0;
    out[h++] = 0x80 | op;
    if (n < 126) {
        out[h++] = 0x80 | n;
    } else if (n < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = n >> 8;
        out[h++] = n & 0xff;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (uint64_t)n >> (8 * i);
    }
    memcpy(out + h, MASK, 4);
    h += 4;
    for (size_t i = 0; i < n; i++) out[h + i] = data[i] ^ MASK[i & 3];
    return h + n;
}

/* Deflate n bytes on their own as permessage-deflate does without context
 * takeover: raw deflate (windowBits -15), Z_SYNC_FLUSH, then without the
 * trailing 00 00 ff ff.  Returns a malloc'd buffer, its length in *zn. */
static uint8_t *deflate_message(const uint8_t *data, size_t n, size_t *zn) {
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2 failed");
    size_t cap = deflateBound(&z, n) + 64, len = 0;
    uint8_t *out = xmalloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = n;
    for (;;) {
        z.next_out = out + len;
        z.avail_out = cap - len;
        int r = deflate(&z, Z_SYNC_FLUSH);
        if (r != Z_OK && r != Z_BUF_ERROR) die("deflate failed: %d", r);
        len = cap - z.avail_out;
        if (z.avail_out > 0) break; /* all of it is out */
        cap *= 2;
        out = realloc(out, cap);
        if (!out) die("out of memory");
    }
    deflateEnd(&z);
    if (len < 4 || memcmp(out + len - 4, DEFLATE_TAIL, 4) != 0) die("deflate: no sync tail");
    *zn = len - 4;
    return out;
}

static void dyn_append(conn *c, const void *data, size_t n) {
    if (c->dynoff == c->dynlen) c->dynoff = c->dynlen = 0;
    if (c->dynlen + n > c->dyncap) {
        size_t cap = c->dyncap ? c->dyncap : 256;
        while (cap < c->dynlen + n) cap *= 2;
        c->dyn = realloc(c->dyn, cap);
        if (!c->dyn) die("out of memory");
        c->dyncap = cap;
    }
    memcpy(c->dyn + c->dynlen, data, n);
    c->dynlen += n;
}

static void dyn_frame(conn *c, int op, const uint8_t *data, size_t n) {
    uint8_t tmp[256];
    if (n > 125 + 100) die("control frame too large");
    dyn_append(c, tmp, encode_frame(tmp, op, data, n));
}

/* ------------------------------------------------------------------ */
/* Connection lifecycle                                                */

static void conn_close(conn *c) {
    if (c->state == C_FREE) return;
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) g.connecting--;
    else g.opened--, g.port_open[c->portidx]--;
    close(c->fd);
    c->fd = -1;
    c->state = C_FREE;
    free(c->head);
    c->head = NULL;
    c->headlen = 0;
    c->dynoff = c->dynlen = 0;
    c->pend = c->spos = c->rpos = 0;
    c->fst = F_HDR;
    c->hdrlen = 0;
    c->hdrneed = 2;
    c->left = c->msgpos = c->msglen = c->wirepos = 0;
    c->caplen = c->ctllen = 0;
    c->synced = 0;
    c->zmsg = c->zstop = c->bad = c->zkeep = 0;
    if (c->zin) {
        inflateEnd(c->zin);
        free(c->zin);
        c->zin = NULL;
    }
    free(c->zbuf);
    c->zbuf = NULL;
    c->zbuflen = c->zbufcap = 0;
}

/* Start connecting c; returns 0 if connect() failed at once. */
static int conn_start(conn *c, int role) {
    static uint32_t next_source;
    /* Connection i goes to port i mod nports; the broadcast sender (the
     * last slot) to the first port. */
    int idx = role == R_SENDER ? 0 : (int)(c - conns) % opt.nports;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(opt.ports[idx])};
    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt.sources > 0) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000002u + (next_source++ % opt.sources));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
            die("bind 127.0.0.x: %s", strerror(errno));
    }
    c->fd = fd;
    c->role = role;
    c->portidx = (uint8_t)idx;
    c->state = C_CONNECTING;
    c->fst = F_HDR;
    c->hdrneed = 2;
    g.connecting++;
    g.started++;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        g.errors++;
        conn_close(c);
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
    ev.data.u32 = (uint32_t)(c - conns);
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    return 1;
}

static int flush(conn *c);
static void on_open(conn *c);
static void slot_done(conn *c, int ok);

/* Handshakes mode: the server refused c (see the top comment). */
static void refuse(conn *c, const char *fmt, ...) {
    if (!g.refused++) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g.refusal, sizeof g.refusal, fmt, ap);
        va_end(ap);
        for (char *p = g.refusal; *p; p++) /* it goes into the JSON */
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '?';
    }
    slot_done(c, 0);
}

/* ------------------------------------------------------------------ */
/* Messages received                                                    */

static uint64_t parse_hex(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        uint8_t ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) return UINT64_MAX;
        v = v << 4 | d;
    }
    return v;
}

/* Write kind and seq as SEQ_FIELD bytes at p. */
static void put_seq(uint8_t *p, char kind, uint64_t seq) {
    static const char hex[] = "0123456789abcdef";
    p[0] = kind;
    for (int i = 0; i < 16; i++) p[1 + i] = hex[seq >> (60 - 4 * i) & 15];
}

/* Queue one broadcast message on the sender: its template with kind and
 * seq put in.  With --deflate the payload is, in DEFLATE terms (RFC 1951),
 * a stored block holding the message up to the end of the sequence field,
 * then the template's rest as deflated once at start-up (a deflate stream
 * may go on from any block boundary; RFC 7692 section 7.2.3.3 shows a
 * stored block as a message): so a message costs no zlib call and is
 * still a different compressed message each time. */
static void broadcast_send(conn *s, char kind, uint64_t seq) {
    static uint8_t msg[MAX_BCAST], frame[MAX_BCAST + 16];
    const tmpl_t *t = &tmpls[seq % ntmpl];
    size_t n;
    if (opt.deflate) {
        msg[0] = 0x00; /* BFINAL 0, BTYPE 00 (stored), padding */
        msg[1] = capn & 0xff;
        msg[2] = capn >> 8;
        msg[3] = ~capn & 0xff;
        msg[4] = (~capn >> 8) & 0xff;
        memcpy(msg + 5, t->plain, capn);
        put_seq(msg + 5 + seqoff, kind, seq);
        memcpy(msg + 5 + capn, t->z, t->zlen);
        n = 5 + capn + t->zlen;
    } else {
        memcpy(msg, t->plain, t->len);
        put_seq(msg + seqoff, kind, seq);
        n = t->len;
    }
    if (opt.raw) dyn_append(s, msg, n);
    else dyn_append(s, frame, encode_frame(frame, OP_TEXT | (opt.deflate ? RSV1 : 0), msg, n));
}

static void broadcast_fill(double now) {
    while (g.outstanding < (uint64_t)opt.window && g.phase >= P_WARMUP && g.phase <= P_MEASURE) {
        int i = g.seq % g.ring;
        g.sent_at[i] = now;
        g.got[i] = 0;
        broadcast_send(g.sender, 'm', g.seq);
        g.seq++;
        g.outstanding++;
    }
    flush(g.sender);
}

/* A receiver got a whole broadcast message of len bytes: its first capn
 * bytes are in cap, the rest was compared with its template as it came. */
static void on_broadcast(conn *c, uint64_t len, double now) {
    if (c->caplen < capn || c->cap[0] != 'B') {
        g.protocol_errors++;
        return;
    }
    if (c->bad || c->tidx < 0 || len != tmpls[c->tidx].len ||
        (opt.verify && memcmp(c->cap + 1, tmpls[c->tidx].plain + 1, seqoff - 1) != 0)) {
        g.verify_errors++;
        return;
    }
    const uint8_t *field = c->cap + seqoff;
    uint64_t seq = parse_hex(field + 1, 16);
    if (field[0] == 's') {
        if (!c->synced) {
            c->synced = 1;
            g.synced++;
        }
        return;
    }
    if (field[0] != 'm' || seq >= g.seq || seq + g.ring <= g.seq) {
        g.protocol_errors++;
        return;
    }
    g.deliveries++;
    g.port_deliveries[c->portidx]++;
    int i = seq % g.ring;
    if (++g.got[i] == opt.conns) {
        g.outstanding--;
        g.lastprogress = now;
        if (g.phase == P_MEASURE && g.nlat < MAX_LATENCIES)
            g.lat[g.nlat++] = (now - g.sent_at[i]) * 1e3;
        broadcast_fill(now);
    }
}

static void on_message(conn *c, uint64_t len) {
    g.rx++;
    g.rxz += c->zmsg;
    g.wire += c->wirepos;
    g.plain += len;
    switch (c->role) {
    case R_ECHO:
        c->msgs++;
        g.msgs++;
        g.bytes += len;
        if (len != opt.size) g.verify_errors++;
        if (g.phase == P_WARMUP || g.phase == P_MEASURE) c->pend += flen;
        break;
    case R_RECEIVER:
        on_broadcast(c, len, now_s());
        break;
    default:
        break;
    }
}

/* A new data message starts (raw: a new record). */
static void begin_message(conn *c) {
    c->msgpos = c->wirepos = 0;
    c->caplen = 0;
    c->bad = 0;
    c->tidx = -1;
}

/* Bytes of a message's payload as the application sees them (inflated). */
static void on_plain(conn *c, const uint8_t *p, size_t n) {
    uint64_t end = c->msgpos + n;
    if (c->role == R_ECHO) {
        if (opt.verify && (c->msgpos + n > opt.size || memcmp(p, payload + c->msgpos, n) != 0))
            g.verify_errors++;
    } else if (c->role == R_RECEIVER) {
        uint64_t pos = c->msgpos;
        if (pos < capn) {
            size_t k = capn - pos < n ? capn - pos : n;
            memcpy(c->cap + pos, p, k);
            c->caplen = pos + k;
            if (c->caplen == capn) {
                uint64_t seq = parse_hex(c->cap + seqoff + 1, 16);
                c->tidx = seq == UINT64_MAX ? -1 : (int)(seq % ntmpl);
            }
            pos += k;
            p += k;
            n -= k;
        }
        if (n && opt.verify &&
            (c->tidx < 0 || pos + n > tmpls[c->tidx].len ||
             memcmp(p, tmpls[c->tidx].plain + pos, n) != 0))
            c->bad = 1;
    }
    c->msgpos = end;
}

/* Inflate n bytes of a compressed message into on_plain. */
static void inflate_some(conn *c, const uint8_t *p, size_t n) {
    if (c->zstop) return;
    z_stream *z = c->zin;
    z->next_in = (Bytef *)p;
    z->avail_in = n;
    do {
        z->next_out = zout;
        z->avail_out = INFLATE_CHUNK;
        int r = inflate(z, Z_SYNC_FLUSH);
        size_t k = INFLATE_CHUNK - z->avail_out;
        if (k) on_plain(c, zout, k);
        if (r == Z_STREAM_END) {
            /* A final block (BFINAL): legal; what follows is ignored. */
            c->zstop = 1;
            return;
        }
        if ((r != Z_OK && r != Z_BUF_ERROR) || c->msgpos > maxmsg) {
            /* Corrupt, or longer than anything the server should send. */
            if (c->role == R_RECEIVER) c->bad = 1;
            else g.verify_errors++;
            c->zstop = 1;
            return;
        }
    } while (z->avail_out == 0);
}

/* A compressed message starts: (re)set the inflater. */
static void inflate_begin(conn *c) {
    c->zstop = 0;
    if (!c->zin) {
        c->zin = calloc(1, sizeof *c->zin);
        if (!c->zin || inflateInit2(c->zin, -15) != Z_OK) die("inflateInit2 failed");
    } else {
        inflateReset(c->zin); /* the server keeps no context */
    }
}

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* A receiver has a whole compressed message in zbuf.  Inflating costs about
 * 2 us per chat message here, once per receiver: with 200 receivers that
 * would make the generator the bottleneck.  But without context takeover
 * a message's inflated bytes depend on its compressed bytes alone, and the
 * servers send every receiver the same compressed bytes: so a message
 * byte-for-byte equal to one already inflated and verified here has the
 * same inflated bytes, and only its head (sequence number) is replayed for
 * on_broadcast's checks.  Any other message is inflated and verified in
 * full, and remembered if right.  --inflate-all turns this off. */
static void memo_finish(conn *c) {
    size_t n = c->zbuflen;
    if (c->bad) return; /* too long to keep */
    uint64_t h = hash_bytes(c->zbuf, n);
    memo_t *m = NULL;
    for (int k = 0; k < MEMO_WAYS; k++) {
        memo_t *e = &memo[(h + k) & (MEMO_SIZE - 1)];
        if (e->bytes && e->hash == h && e->len == n && memcmp(e->bytes, c->zbuf, n) == 0) {
            e->used = ++memo_clock;
            memcpy(c->cap, e->cap, capn);
            c->caplen = capn;
            c->tidx = e->tidx;
            c->msgpos = e->plainlen;
            g.memo++;
            return;
        }
        if (!m || e->used < m->used) m = e;
    }
    inflate_begin(c);
    inflate_some(c, c->zbuf, n);
    inflate_some(c, DEFLATE_TAIL, 4);
    if (c->bad || c->tidx < 0 || c->caplen < capn || c->msgpos != tmpls[c->tidx].len) return;
    if (m->len < n || !m->bytes) {
        free(m->bytes);
        m->bytes = xmalloc(n);
    }
    memcpy(m->bytes, c->zbuf, n);
    m->hash = h;
    m->used = ++memo_clock;
    m->len = n;
    m->plainlen = c->msgpos;
    memcpy(m->cap, c->cap, capn);
    m->tidx = c->tidx;
}

/* Payload bytes of a data frame, as received. */
static void on_payload(conn *c, const uint8_t *p, size_t n) {
    c->wirepos += n;
    if (!c->zmsg) {
        on_plain(c, p, n);
    } else if (!c->zkeep) {
        inflate_some(c, p, n);
    } else if (!c->bad) {
        if (c->zbuflen + n > c->zbufcap) {
            size_t cap = c->zbufcap ? c->zbufcap : 512;
            while (cap < c->zbuflen + n) cap *= 2;
            if (cap > 2 * maxmsg + 1024) {
                c->bad = 1; /* far longer than any message deflated */
                return;
            }
            c->zbuf = realloc(c->zbuf, cap);
            if (!c->zbuf) die("out of memory");
            c->zbufcap = cap;
        }
        memcpy(c->zbuf + c->zbuflen, p, n);
        c->zbuflen += n;
    }
}

static void on_control(conn *c) {
    if (c->op == OP_PING) {
        dyn_frame(c, OP_PONG, c->ctl, c->ctllen);
    } else if (c->op == OP_CLOSE) {
        int code = c->ctllen >= 2 ? c->ctl[0] << 8 | c->ctl[1] : 1000;
        if (c->state == C_CLOSING && opt.mode == M_HANDSHAKES && code != 1000) {
            /* Not the answer to our close: the application closed it. */
            refuse(c, "closed by the server with code %d", code);
        } else if (c->state == C_CLOSING) {
            slot_done(c, 1);
        } else {
            /* The server closes on us: answer, and count it. */
            g.dropped++;
            dyn_frame(c, OP_CLOSE, c->ctl, c->ctllen >= 2 ? 2 : 0);
            if (flush(c)) slot_done(c, 0);
        }
    }
}

/* Parse server frames (never masked) in place.  Returns 0 if c was closed. */
static int parse_frames(conn *c, const uint8_t *p, size_t n) {
    const uint8_t *end = p + n;
    while (p < end) {
        if (c->fst == F_HDR) {
            while (c->hdrlen < c->hdrneed && p < end) c->hdr[c->hdrlen++] = *p++;
            if (c->hdrlen < c->hdrneed) break;
            if (c->hdrlen == 2) {
                if (c->hdr[1] & 0x80) {
                    g.protocol_errors++;
                    fail("server sent a masked frame");
                    return 0;
                }
                uint8_t l7 = c->hdr[1] & 0x7f;
                c->hdrneed = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
                if (c->hdrlen < c->hdrneed) continue;
            }
            uint8_t l7 = c->hdr[1] & 0x7f;
            uint64_t len = l7;
            if (l7 == 126) len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
            else if (l7 == 127) {
                len = 0;
                for (int i = 2; i < 10; i++) len = len << 8 | c->hdr[i];
            }
            c->fin = c->hdr[0] >> 7;
            c->op = c->hdr[0] & 0x0f;
            c->left = len;
            c->hdrlen = 0;
            c->hdrneed = 2;
            /* RSV1 only with --deflate, and only on a message's first frame. */
            int rsv = c->hdr[0] & 0x70;
            if (rsv && (rsv != RSV1 || !opt.deflate || c->op == OP_CONT || c->op >= 0x8)) {
                g.protocol_errors++;
                fail("frame with RSV bits %#x, opcode %d", rsv, c->op);
                return 0;
            }
            if (c->op >= 0x8) {
                if (len > 125) {
                    g.protocol_errors++;
                    fail("control frame of %llu bytes", (unsigned long long)len);
                    return 0;
                }
                c->ctllen = 0;
            } else if (c->op != OP_CONT) {
                c->msgop = c->op;
                begin_message(c);
                c->zmsg = rsv != 0;
                c->zkeep = c->zmsg && c->role == R_RECEIVER && opt.memo;
                c->zbuflen = 0;
                if (c->zmsg && !c->zkeep) inflate_begin(c);
            }
            c->fst = F_PAYLOAD;
        }
        /* F_PAYLOAD */
        size_t k = c->left < (uint64_t)(end - p) ? (size_t)c->left : (size_t)(end - p);
        if (c->op >= 0x8) {
            memcpy(c->ctl + c->ctllen, p, k);
            c->ctllen += k;
        } else if (k) {
            on_payload(c, p, k);
        }
        p += k;
        c->left -= k;
        if (c->left == 0) {
            c->fst = F_HDR;
            if (c->op >= 0x8) {
                on_control(c);
                if (c->state == C_FREE) return 0;
            } else if (c->fin) {
                if (c->zkeep) memo_finish(c);
                else if (c->zmsg) inflate_some(c, DEFLATE_TAIL, 4);
                uint64_t len = c->msgpos;
                if (c->role == R_ECHO && opt.verify &&
                    c->msgop != (opt.binary ? OP_BINARY : OP_TEXT))
                    g.verify_errors++;
                on_message(c, len);
            }
        }
    }
    return 1;
}

/* Raw TCP: the stream is SIZE-byte records. */
static void parse_raw(conn *c, const uint8_t *p, size_t n) {
    size_t S = opt.size;
    while (n > 0) {
        size_t off = c->rpos % S;
        size_t k = S - off < n ? S - off : n;
        if (off == 0) begin_message(c);
        on_payload(c, p, k);
        c->rpos += k;
        p += k;
        n -= k;
        if (c->rpos % S == 0) on_message(c, S);
    }
}

/* The server's Sec-WebSocket-Extensions, from a NUL-terminated response
 * head: NULL if it accepted none, else "" if it accepted permessage-deflate
 * as offered (server_no_context_takeover; optionally
 * client_no_context_takeover and server_max_window_bits), else what is
 * wrong.  The client never offered client_max_window_bits, so the server
 * cannot answer with it. */
static const char *check_extensions(const char *head) {
    static char why[160];
    const char *h = strcasestr(head, "\r\nSec-WebSocket-Extensions:");
    if (!h) return NULL;
    const char *v = h + strlen("\r\nSec-WebSocket-Extensions:");
    size_t vl = strcspn(v, "\r");
    if (strcasestr(v + vl, "\r\nSec-WebSocket-Extensions:")) return "the header twice";
    char val[256];
    if (vl >= sizeof val) return "a header too long";
    memcpy(val, v, vl);
    val[vl] = 0;
    if (strchr(val, ',')) return "more than one extension";
    int first = 1, nct = 0;
    for (char *save = NULL, *tok = strtok_r(val, ";", &save); tok;
         tok = strtok_r(NULL, ";", &save), first = 0) {
        while (*tok == ' ' || *tok == '\t') tok++;
        size_t tl = strlen(tok);
        while (tl && (tok[tl - 1] == ' ' || tok[tl - 1] == '\t')) tok[--tl] = 0;
        if (first) {
            if (strcasecmp(tok, "permessage-deflate") != 0) {
                snprintf(why, sizeof why, "extension %.60s", tok);
                return why;
            }
        } else if (!strcasecmp(tok, "server_no_context_takeover")) {
            nct = 1;
        } else if (!strcasecmp(tok, "client_no_context_takeover")) {
            /* we do not keep context anyway */
        } else if (!strncasecmp(tok, "server_max_window_bits=", 23)) {
            const char *b = tok + 23;
            if (*b == '"') b++;
            int bits = atoi(b);
            if (bits < 8 || bits > 15) {
                snprintf(why, sizeof why, "parameter %.60s", tok);
                return why;
            }
        } else {
            snprintf(why, sizeof why, "parameter %.60s", tok);
            return why;
        }
    }
    return nct ? "" : "permessage-deflate without server_no_context_takeover";
}

/* Bytes of the handshake response; returns bytes used, or -1 if c closed. */
static ssize_t feed_head(conn *c, const uint8_t *p, size_t n) {
    if (opt.raw) {
        size_t k = c->rawhs < n ? c->rawhs : n;
        if (memcmp(p, request + (requestlen - c->rawhs), k) != 0) g.verify_errors++;
        c->rawhs -= k;
        if (c->rawhs == 0) on_open(c);
        return k;
    }
    size_t had = c->headlen;
    size_t room = MAX_HEAD - had;
    size_t k = n < room ? n : room;
    if (!c->head) c->head = xmalloc(MAX_HEAD + 1);
    memcpy(c->head + had, p, k);
    c->headlen += k;
    c->head[c->headlen] = 0;
    char *e = strstr(c->head + (had > 3 ? had - 3 : 0), "\r\n\r\n");
    if (!e) {
        if (c->headlen == MAX_HEAD) {
            fail("handshake response head too large");
            return -1;
        }
        return k;
    }
    size_t headend = (e - c->head) + 4;
    *e = 0;
    if (strncmp(c->head, "HTTP/1.1 101", 12) != 0 || !strstr(c->head, WS_ACCEPT)) {
        char *nl = strchr(c->head, '\r');
        if (nl) *nl = 0;
        if (opt.mode == M_HANDSHAKES && strncmp(c->head, "HTTP/1.1 101", 12) != 0)
            refuse(c, "%.100s", c->head);
        else
            fail("bad handshake response: %.100s", c->head);
        return -1;
    }
    const char *ext = check_extensions(c->head);
    if (opt.deflate && !ext) {
        fail("the server did not accept permessage-deflate");
        return -1;
    } else if (ext && !opt.deflate) {
        fail("the server answered an extension that was not offered");
        return -1;
    } else if (ext && *ext) {
        fail("the server's permessage-deflate answer: %s", ext);
        return -1;
    }
    free(c->head);
    c->head = NULL;
    c->headlen = 0;
    on_open(c);
    return headend - had;
}

static void on_eof(conn *c) {
    if (c->state == C_CLOSING) {
        slot_done(c, 1); /* the server closed TCP first: fine */
    } else {
        g.dropped++;
        slot_done(c, 0);
    }
}

static void do_read(conn *c) {
    for (;;) {
        ssize_t n = read(c->fd, rbuf, READ_BUF_SIZE);
        if (n > 0) {
            if (opt.quickack) {
                int one = 1;
                setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
            }
            const uint8_t *p = rbuf;
            size_t left = n;
            if (c->state == C_HANDSHAKE) {
                ssize_t used = feed_head(c, p, left);
                if (used < 0 || c->state == C_FREE) return;
                p += used;
                left -= used;
            }
            if (left && (c->state == C_OPEN || c->state == C_CLOSING)) {
                if (opt.raw) parse_raw(c, p, left);
                else if (!parse_frames(c, p, left)) return;
                if (c->state == C_FREE) return;
            }
        } else if (n == 0) {
            on_eof(c);
            return;
        } else {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            if (c->state == C_CLOSING) slot_done(c, 1);
            else {
                g.dropped++;
                slot_done(c, 0);
            }
            return;
        }
    }
}

/* Write what is pending: one-off bytes at frame boundaries, else the
 * repeated frame stream.  Returns 0 if the connection was closed. */
static int flush(conn *c) {
    for (;;) {
        ssize_t n;
        if (c->dynlen > c->dynoff && c->spos == 0) {
            n = send(c->fd, c->dyn + c->dynoff, c->dynlen - c->dynoff, MSG_NOSIGNAL);
            if (n > 0) {
                c->dynoff += n;
                continue;
            }
        } else if (c->pend > 0) {
            size_t avail = burstlen - c->spos;
            size_t k = c->pend < avail ? c->pend : avail;
            n = send(c->fd, burst + c->spos, k, MSG_NOSIGNAL);
            if (n > 0) {
                c->pend -= n;
                c->spos = (c->spos + n) % flen;
                continue;
            }
        } else {
            return 1;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 1;
        if (n < 0 && errno == EINTR) continue;
        if (c->state == C_CLOSING) slot_done(c, 1);
        else {
            g.dropped++;
            slot_done(c, 0);
        }
        return 0;
    }
}

static void on_connected(conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        g.errors++;
        slot_done(c, 0);
        return;
    }
    c->state = C_HANDSHAKE;
    c->rawhs = requestlen;
    if (opt.cookie) {
        /* The request without its blank line, the cookie, the blank line. */
        char line[600];
        uint64_t id = g.next_session++ % (uint64_t)opt.sessions;
        int n = opt.sessions > 1
                    ? snprintf(line, sizeof line, "Cookie: %s%08llu\r\n\r\n", opt.cookie,
                               (unsigned long long)id)
                    : snprintf(line, sizeof line, "Cookie: %s\r\n\r\n", opt.cookie);
        dyn_append(c, request, requestlen - 2);
        dyn_append(c, line, n);
    } else {
        dyn_append(c, request, requestlen);
    }
    flush(c);
}

/* ------------------------------------------------------------------ */
/* Phases                                                              */

static void print_phase(const char *what) {
    printf("phase %s\n", what);
    fflush(stdout);
}

static void start_traffic(double now) {
    g.phase = P_WARMUP;
    g.tphase = now;
    g.deadline = now + opt.warmup;
    g.lastprogress = now;
    if (opt.mode == M_BROADCAST) {
        broadcast_fill(now);
        return;
    }
    if (opt.mode == M_HANDSHAKES) return;
    for (int i = 0; i < nconns; i++) {
        conn *c = &conns[i];
        if (c->state != C_OPEN) continue;
        c->pend += (uint64_t)opt.inflight * flen;
        flush(c);
    }
}

static void on_open(conn *c) {
    g.connecting--;
    g.opened++;
    g.port_open[c->portidx]++;
    c->state = C_OPEN;
    if (opt.mode == M_HANDSHAKES) {
        if (opt.raw) {
            slot_done(c, 1);
        } else {
            c->state = C_CLOSING;
            dyn_append(c, closeframe, sizeof closeframe);
            flush(c);
        }
    }
}

/* A connection is over.  In handshakes mode it is counted, and refill()
 * starts the next one; while connecting, the slot is tried again. */
static void slot_done(conn *c, int ok) {
    int role = c->role;
    conn_close(c);
    if (opt.mode == M_HANDSHAKES) {
        if (ok) g.cycles++;
        else g.failed++;
    } else if (g.phase == P_CONNECT) {
        g.failed++;
        if (g.errors + g.failed > MAX_ERRORS) fail("too many failed connections");
        else conn_start(c, role);
    } else if (g.phase != P_DONE && g.phase != P_HOLD) {
        fail("the server dropped a connection");
    }
}

/* Handshakes mode: a new connection in every free slot. */
static void refill(void) {
    if (g.phase != P_WARMUP && g.phase != P_MEASURE) return;
    if (g.errors + g.failed > MAX_ERRORS && (uint64_t)(g.errors + g.failed) * 100 > g.cycles) {
        fail("too many failed connections: %d failed (%d refused: %s), %d connect errors",
             g.failed, g.refused, g.refused ? g.refusal : "-", g.errors);
        return;
    }
    for (int i = 0; i < nconns; i++)
        if (conns[i].state == C_FREE) conn_start(&conns[i], R_CYCLE);
}

static void begin_measure(double now) {
    g.phase = P_MEASURE;
    g.tmeasure = now;
    g.deadline = now + opt.duration;
    g.cpu_measure0 = cpu_s();
    g.m_msgs = g.msgs;
    g.m_bytes = g.bytes;
    g.m_deliveries = g.deliveries;
    memcpy(g.m_port_deliveries, g.port_deliveries, sizeof g.port_deliveries);
    g.m_cycles = g.cycles;
    g.m_rx = g.rx;
    g.m_rxz = g.rxz;
    g.m_wire = g.wire;
    g.m_plain = g.plain;
    g.m_memo = g.memo;
    print_phase("measure");
}

static void end_measure(double now) {
    g.tend = now;
    g.cpu_measure = cpu_s() - g.cpu_measure0;
    g.m_msgs = g.msgs - g.m_msgs;
    g.m_bytes = g.bytes - g.m_bytes;
    g.m_deliveries = g.deliveries - g.m_deliveries;
    for (int i = 0; i < opt.nports; i++)
        g.m_port_deliveries[i] = g.port_deliveries[i] - g.m_port_deliveries[i];
    g.m_cycles = g.cycles - g.m_cycles;
    g.m_rx = g.rx - g.m_rx;
    g.m_rxz = g.rxz - g.m_rxz;
    g.m_wire = g.wire - g.m_wire;
    g.m_plain = g.plain - g.m_plain;
    g.m_memo = g.memo - g.m_memo;
    print_phase("end");
    g.phase = P_DONE;
}

/* Start connecting slots, in order, while fewer than --concurrency are in
 * progress.  The broadcast sender (the last slot) waits for every receiver. */
static void connect_more(void) {
    static int cursor;
    while (cursor < nconns && g.connecting < opt.concurrency && g.phase == P_CONNECT) {
        conn *c = &conns[cursor];
        int role = R_ECHO;
        if (opt.mode == M_IDLE) role = R_IDLE;
        else if (opt.mode == M_BROADCAST) {
            if (cursor == nconns - 1 && g.opened < nconns - 1) break;
            role = cursor == nconns - 1 ? R_SENDER : R_RECEIVER;
        }
        if (conn_start(c, role)) cursor++;
        else if (g.errors > MAX_ERRORS) fail("too many connect errors: %s", strerror(errno));
        else break;
    }
}

static void tick(double now) {
    if (now - g.t0 > opt.timeout) {
        fail("timed out after %.0f s in phase %d", opt.timeout, g.phase);
        return;
    }
    switch (g.phase) {
    case P_CONNECT:
        if (g.opened == nconns) {
            if (opt.mode == M_IDLE) {
                g.phase = P_HOLD;
                g.deadline = now + opt.hold;
                printf("ready %d\n", g.opened);
                fflush(stdout);
            } else if (opt.mode == M_BROADCAST) {
                g.phase = P_SYNC;
                g.sender = &conns[nconns - 1];
                g.synclast = 0;
            } else {
                start_traffic(now);
            }
        } else {
            connect_more();
        }
        break;
    case P_SYNC:
        if (g.synced == opt.conns) {
            start_traffic(now);
        } else if (now - g.synclast >= SYNC_RESEND_S) {
            g.synclast = now;
            broadcast_send(g.sender, 's', g.syncseq++);
            flush(g.sender);
        }
        break;
    case P_WARMUP:
        if (now >= g.deadline) begin_measure(now);
        break;
    case P_MEASURE:
        if (now >= g.deadline) end_measure(now);
        break;
    case P_HOLD:
        if (now >= g.deadline || !g.stdin_open) g.phase = P_DONE;
        break;
    case P_DONE:
        break;
    }
    if (opt.mode == M_BROADCAST && (g.phase == P_WARMUP || g.phase == P_MEASURE) &&
        now - g.lastprogress > STALL_S)
        fail("broadcast stalled: no message reached every receiver for %.0f s", STALL_S);
}

static int next_timeout_ms(double now) {
    double t = 0.05;
    if (g.phase == P_WARMUP || g.phase == P_MEASURE || g.phase == P_HOLD) {
        double d = g.deadline - now;
        if (d < t) t = d;
    }
    if (t < 0) t = 0;
    return (int)(t * 1000) + 1;
}

/* ------------------------------------------------------------------ */
/* Results                                                             */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p) {
    if (!g.nlat) return 0;
    size_t i = (size_t)(p * (g.nlat - 1) + 0.5);
    return g.lat[i];
}

static const char *mode_name(void) {
    static const char *names[] = {"echo", "large", "broadcast", "idle", "handshakes", "serve"};
    return names[opt.mode];
}

static void print_result(void) {
    double secs = g.tend > g.tmeasure ? g.tend - g.tmeasure : 0;
    if (g.nlat) qsort(g.lat, g.nlat, sizeof *g.lat, cmp_double);
    printf("result {\"mode\": \"%s\", \"raw\": %s, \"ok\": %s, \"error\": \"%s\", "
           "\"connections\": %d, \"open\": %d, \"size\": %zu, \"inflight\": %d, "
           "\"window\": %d, \"seconds\": %.4f, \"messages\": %llu, \"bytes\": %llu, "
           "\"messages_per_s\": %.1f, \"mib_per_s\": %.2f, \"deliveries\": %llu, "
           "\"deliveries_per_s\": %.1f, \"latency_ms\": {\"n\": %zu, \"p50\": %.3f, "
           "\"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}, \"handshakes\": %llu, "
           "\"handshakes_per_s\": %.1f, \"connect_errors\": %d, \"failed\": %d, "
           "\"dropped\": %d, \"verify_errors\": %d, \"protocol_errors\": %d, "
           "\"refused\": %d, \"refusal\": \"%s\", \"cookie_values\": %d, "
           "\"generator_cpu\": %.4f, \"generator_cpu_total_s\": %.3f, ",
           mode_name(), opt.raw ? "true" : "false", g.error[0] ? "false" : "true", g.error,
           opt.mode == M_HANDSHAKES ? opt.concurrency : nconns, g.opened,
           (size_t)(client_plain + 0.5), /* the mean with --chat */
           opt.inflight, opt.window, secs, (unsigned long long)g.m_msgs,
           (unsigned long long)g.m_bytes, secs ? g.m_msgs / secs : 0,
           secs ? g.m_bytes / secs / 1048576.0 : 0, (unsigned long long)g.m_deliveries,
           secs ? g.m_deliveries / secs : 0, g.nlat, pct(0.5), pct(0.9), pct(0.99),
           g.nlat ? g.lat[g.nlat - 1] : 0, (unsigned long long)g.m_cycles,
           secs ? g.m_cycles / secs : 0, g.errors, g.failed, g.dropped, g.verify_errors,
           g.protocol_errors, g.refused, g.refusal, opt.cookie ? opt.sessions : 0, secs ? g.cpu_measure / secs : 0, cpu_s());
    /* What the clients received in the measured window: data messages,
     * how many were compressed (and of those, how many were found in the
     * memo instead of inflated), and their payload bytes on the wire (frame
     * headers not counted) and as the application sees them (inflated). */
    /* Per server port: its number, the connections open on it at the end
     * (the broadcast sender counted on the first), broadcast deliveries to
     * its receivers in the measured window. */
    printf("\"ports\": [");
    for (int i = 0; i < opt.nports; i++)
        printf("%s{\"port\": %d, \"open\": %d, \"deliveries\": %llu}", i ? ", " : "",
               opt.ports[i], g.port_open[i], (unsigned long long)g.m_port_deliveries[i]);
    printf("], ");
    double rx = g.m_rx ? (double)g.m_rx : 1;
    printf("\"deflate\": %s, \"payload\": \"%s\", \"client_wire_bytes_per_message\": %.1f, "
           "\"client_payload_bytes_per_message\": %.1f, \"received_messages\": %llu, "
           "\"compressed_messages\": %llu, \"memo_hits\": %llu, \"wire_bytes\": %llu, "
           "\"payload_bytes\": %llu, \"wire_bytes_per_message\": %.1f, "
           "\"payload_bytes_per_message\": %.1f, \"compression_ratio\": %.3f}\n",
           opt.deflate ? "true" : "false", opt.chat ? "chat" : "letters", client_wire,
           client_plain, (unsigned long long)g.m_rx, (unsigned long long)g.m_rxz,
           (unsigned long long)g.m_memo, (unsigned long long)g.m_wire,
           (unsigned long long)g.m_plain, g.m_wire / rx, g.m_plain / rx,
           g.m_wire ? (double)g.m_plain / g.m_wire : 0);
    fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* serve: a minimal WebSocket echo/broadcast server in C, to measure the
 * generator against something faster than any Python server.  It speaks
 * just enough RFC 6455 for loadgen (no fragmentation, no UTF-8 checks). */

typedef struct {
    uint32_t h[5];
    uint64_t len;
    uint8_t buf[64];
    size_t n;
} sha1_ctx;

#define ROL(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

static void sha1_block(sha1_ctx *s, const uint8_t *p) {
    uint32_t w[80], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 | p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = ROL(a, 5) + f + e + k + w[i];
        e = d, d = c, c = ROL(b, 30), b = a, a = t;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e;
}

static void sha1(const uint8_t *p, size_t n, uint8_t out[20]) {
    sha1_ctx s = {{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}, 0, {0}, 0};
    uint64_t bits = (uint64_t)n * 8;
    for (; n >= 64; n -= 64, p += 64) sha1_block(&s, p);
    uint8_t last[128] = {0};
    memcpy(last, p, n);
    last[n] = 0x80;
    size_t tot = n + 9 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) last[tot - 1 - i] = bits >> (8 * i);
    sha1_block(&s, last);
    if (tot == 128) sha1_block(&s, last + 64);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = s.h[i] >> (24 - 8 * j);
}

static void base64(const uint8_t *p, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = 0;
}

typedef struct sconn {
    int fd, open, closing;
    int pmd;       /* permessage-deflate agreed */
    z_stream *zin; /* pmd: to read a compressed message's first byte */
    uint8_t *in;
    size_t inlen, incap;
    uint8_t *out;
    size_t outoff, outlen, outcap;
    struct sconn *prev, *next;
} sconn;

static sconn *s_all; /* open connections, for broadcast */

static void s_append(sconn *c, const void *p, size_t n) {
    if (c->outoff == c->outlen) c->outoff = c->outlen = 0;
    if (c->outlen + n > c->outcap) {
        if (c->outoff) {
            memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
            c->outlen -= c->outoff;
            c->outoff = 0;
        }
        size_t cap = c->outcap ? c->outcap : 4096;
        while (cap < c->outlen + n) cap *= 2;
        if (cap != c->outcap) {
            c->out = realloc(c->out, cap);
            if (!c->out) die("out of memory");
            c->outcap = cap;
        }
    }
    memcpy(c->out + c->outlen, p, n);
    c->outlen += n;
}

static void s_close(sconn *c) {
    if (c->open) {
        if (c->prev) c->prev->next = c->next;
        else s_all = c->next;
        if (c->next) c->next->prev = c->prev;
    }
    close(c->fd);
    if (c->zin) {
        inflateEnd(c->zin);
        free(c->zin);
    }
    free(c->in);
    free(c->out);
    free(c);
}

/* The first byte of a compressed message (n bytes, without the sync tail),
 * or -1: all the stub needs to tell a broadcast ("B") from an echo. */
static int s_first_byte(sconn *c, const uint8_t *d, uint64_t n) {
    if (!c->zin) {
        c->zin = calloc(1, sizeof *c->zin);
        if (!c->zin || inflateInit2(c->zin, -15) != Z_OK) die("inflateInit2 failed");
    } else {
        inflateReset(c->zin);
    }
    uint8_t b;
    c->zin->next_in = (Bytef *)d;
    c->zin->avail_in = n;
    c->zin->next_out = &b;
    c->zin->avail_out = 1;
    int r = inflate(c->zin, Z_SYNC_FLUSH);
    if ((r != Z_OK && r != Z_STREAM_END) || c->zin->avail_out) return -1;
    return b;
}

static int s_flush(sconn *c) {
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (n > 0) c->outoff += n;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 1;
        else if (n < 0 && errno == EINTR) continue;
        else return 0;
    }
    if (c->closing) return 0;
    return 1;
}

static void s_frame_header(uint8_t *h, size_t *hl, int op, uint64_t n) {
    size_t k = 0;
    h[k++] = 0x80 | op;
    if (n < 126) h[k++] = n;
    else if (n < 65536) h[k++] = 126, h[k++] = n >> 8, h[k++] = n & 0xff;
    else {
        h[k++] = 127;
        for (int i = 7; i >= 0; i--) h[k++] = n >> (8 * i);
    }
    *hl = k;
}

static void unmask(uint8_t *d, uint64_t n, const uint8_t m[4]) {
    uint32_t m32;
    memcpy(&m32, m, 4);
    uint64_t m64 = (uint64_t)m32 << 32 | m32, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, d + i, 8);
        v ^= m64;
        memcpy(d + i, &v, 8);
    }
    for (; i < n; i++) d[i] ^= m[i & 3];
}

/* Handle buffered input; returns 0 to close. */
static int s_process(sconn *c, sconn **touched, int *ntouched, int maxtouched) {
    size_t pos = 0;
    if (!c->open) {
        c->in[c->inlen] = 0;
        char *e = strstr((char *)c->in, "\r\n\r\n");
        if (!e) return c->inlen < MAX_HEAD;
        char *k = strcasestr((char *)c->in, "\r\nSec-WebSocket-Key:");
        if (!k || k > e) return 0;
        k += 20;
        while (*k == ' ') k++;
        char key[128];
        size_t kl = strcspn(k, "\r\n ");
        if (kl > 60) return 0;
        memcpy(key, k, kl);
        memcpy(key + kl, WS_GUID, sizeof WS_GUID - 1);
        uint8_t dig[20];
        char acc[40], resp[384];
        sha1((uint8_t *)key, kl + sizeof WS_GUID - 1, dig);
        base64(dig, 20, acc);
        /* serve --deflate: accept permessage-deflate unless the client
         * limits our window (we forward its compressed payloads as they
         * are, which is right only with no context takeover either way). */
        char *x = strcasestr((char *)c->in, "\r\nSec-WebSocket-Extensions:");
        if (opt.deflate && x && x < e) {
            size_t xl = strcspn(x + 2, "\r");
            char val[512];
            snprintf(val, sizeof val, "%.*s", (int)(xl < 511 ? xl : 511), x + 2);
            c->pmd = strcasestr(val, "permessage-deflate") && !strcasestr(val, "server_max_window_bits");
        }
        int rl = snprintf(resp, sizeof resp,
                          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                          acc, c->pmd ? "Sec-WebSocket-Extensions: " : "",
                          c->pmd ? DEFLATE_OFFER : "", c->pmd ? "\r\n" : "");
        s_append(c, resp, rl);
        pos = (uint8_t *)e + 4 - c->in;
        c->open = 1;
        c->next = s_all;
        if (s_all) s_all->prev = c;
        s_all = c;
    }
    for (;;) {
        size_t avail = c->inlen - pos;
        if (avail < 2) break;
        uint8_t *p = c->in + pos;
        int op = p[0] & 0x0f, masked = p[1] >> 7, rsv = p[0] & 0x70;
        if (rsv && (rsv != RSV1 || !c->pmd || op == OP_CONT || op >= 0x8)) return 0;
        uint64_t n = p[1] & 0x7f;
        size_t h = 2;
        if (n == 126) {
            if (avail < 4) break;
            n = p[2] << 8 | p[3], h = 4;
        } else if (n == 127) {
            if (avail < 10) break;
            n = 0;
            for (int i = 2; i < 10; i++) n = n << 8 | p[i];
            h = 10;
        }
        if (!masked || n > (64u << 20)) return 0;
        if (avail < h + 4 + n) break;
        uint8_t *m = p + h, *d = p + h + 4;
        unmask(d, n, m);
        pos += h + 4 + n;
        uint8_t hdr[10];
        size_t hl;
        if (op == OP_CLOSE) {
            s_frame_header(hdr, &hl, OP_CLOSE, n >= 2 ? 2 : 0);
            s_append(c, hdr, hl);
            s_append(c, d, n >= 2 ? 2 : 0);
            c->closing = 1;
            break;
        } else if (op == OP_PING) {
            s_frame_header(hdr, &hl, OP_PONG, n);
            s_append(c, hdr, hl);
            s_append(c, d, n);
        } else if (op == OP_TEXT && n > 0 && (rsv ? s_first_byte(c, d, n) : d[0]) == 'B') {
            s_frame_header(hdr, &hl, op | rsv, n);
            for (sconn *o = s_all; o; o = o->next) {
                if (o == c || o->closing) continue;
                int fresh = o->outoff == o->outlen;
                s_append(o, hdr, hl);
                s_append(o, d, n);
                if (fresh && *ntouched < maxtouched) touched[(*ntouched)++] = o;
            }
        } else if (op == OP_TEXT || op == OP_BINARY || op == OP_CONT) {
            s_frame_header(hdr, &hl, op | rsv, n);
            s_append(c, hdr, hl);
            s_append(c, d, n);
        }
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    return 1;
}

static void serve(void) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(opt.port)};
    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind: %s", strerror(errno));
    if (listen(ls, 1024) < 0) die("listen: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[MAX_EVENTS];
    enum { MAXT = 65536 };
    static sconn *touched[MAXT];
    double t_end = now_s() + opt.timeout;
    while (now_s() < t_end) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, 1000);
        for (int i = 0; i < n; i++) {
            sconn *c = evs[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    sconn *s = calloc(1, sizeof *s);
                    if (!s) die("out of memory");
                    s->fd = fd;
                    struct epoll_event e2 = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                             .data.ptr = s};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e2);
                }
                continue;
            }
            int ok = 1, nt = 0;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    if (c->incap - c->inlen < 65536 + 1) {
                        c->incap = c->incap ? c->incap * 2 : 131072;
                        c->in = realloc(c->in, c->incap);
                        if (!c->in) die("out of memory");
                    }
                    ssize_t r = read(c->fd, c->in + c->inlen, c->incap - c->inlen - 1);
                    if (r > 0) {
                        c->inlen += r;
                        if (!s_process(c, touched, &nt, MAXT)) {
                            ok = 0;
                            break;
                        }
                        if (c->closing) break;
                    } else if (r == 0) {
                        ok = 0;
                        break;
                    } else {
                        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ok = 0;
                        if (errno != EINTR) break;
                    }
                }
            }
            for (int t = 0; t < nt; t++)
                if (!s_flush(touched[t])) touched[t]->closing = 1;
            if (ok) ok = s_flush(c);
            if (!ok) s_close(c);
        }
    }
}

/* ------------------------------------------------------------------ */
/* --chat: chat-like messages                                          */

/* JSON as a chat service would send it, one line of a conversation each,
 * with a sequence field first; the texts vary in length, and one has
 * non-ASCII text and escaped quotes.  Deflated on its own, each shrinks to
 * about 0.7 of its size: chat compresses little without context takeover. */
#define CHAT_TEXTS 8
static const char CHAT_FORMAT[] =
    "B{\"seq\":\"m0000000000000000\",\"type\":\"message\",\"room\":\"lobby\","
    "\"from\":\"%s\",\"sent\":\"2026-11-24T%sZ\",\"text\":\"%s\"}";
static const char *const CHAT[CHAT_TEXTS][3] = {
    {"user-0042", "09:41:07",
     "morning all! did anyone else see the 502s on the staging dashboard around 9:30? it came "
     "back after a minute, but I'd like to know if it was just me"},
    {"user-1377", "09:41:52",
     "same here. I think the deploy restarted the proxy before the new workers were ready; "
     "I'll add a readiness check to the rollout script today"},
    {"user-0815", "09:43:10",
     "thanks! lunch at 12:30? the new ramen place on the corner has a queue but it moves fast"},
    {"user-0042", "09:44:31",
     "reminder: the retro moved to Thursday 3pm because of the release. please add your notes "
     "to the board before then, even short ones help a lot"},
    {"user-2203", "09:46:05",
     "can someone review my PR for the search filters? it's small, mostly tests, and it fixes "
     "the bug where the date range ignored the user's time zone"},
    {"user-1377", "09:46:48",
     "\xf0\x9f\x91\x8d" /* U+1F44D thumbs up */
     " looking now. one question: should \\\"last 7 days\\\" include today? the old code did "
     "and two tests rely on it"},
    {"user-0815", "09:48:22",
     "heads up: the office wifi is down from 6 to 7 tonight for maintenance, so the build "
     "agents in the lab will pause too"},
    {"user-3141", "09:49:59",
     "does anyone have the link to the on-call handbook? the one in the wiki points to a page "
     "that no longer exists"},
};

static void chat_templates(void) {
    ntmpl = CHAT_TEXTS;
    tmpls = calloc(ntmpl, sizeof *tmpls);
    if (!tmpls) die("out of memory");
    for (int i = 0; i < ntmpl; i++) {
        char buf[1024];
        int n = snprintf(buf, sizeof buf, CHAT_FORMAT, CHAT[i][0], CHAT[i][1], CHAT[i][2]);
        if (n < 0 || n >= (int)sizeof buf) die("chat message too long");
        tmpls[i].plain = xmalloc(n);
        memcpy(tmpls[i].plain, buf, n);
        tmpls[i].len = n;
    }
    seqoff = (uint8_t *)strstr(CHAT_FORMAT, "\"seq\":\"") + 7 - (uint8_t *)CHAT_FORMAT;
}

/* ------------------------------------------------------------------ */

static void usage(void);

/* --port P or --port P1,P2,...: the first is opt.port. */
static void parse_ports(const char *arg) {
    opt.nports = 0;
    for (const char *p = arg; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > 65535 || opt.nports == MAX_PORTS) usage();
        opt.ports[opt.nports++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') usage();
    }
    opt.port = opt.nports ? opt.ports[0] : 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen MODE --port P [options]\n"
            "modes: echo large broadcast idle handshakes serve\n"
            "  --host H          server address (127.0.0.1)\n"
            "  --port P[,P2...]  server port; with several, connection i goes to the\n"
            "                    (i mod n)th, the broadcast sender to the first\n"
            "  --path PATH       request path (/)\n"
            "  --raw             raw TCP, no WebSocket\n"
            "  --conns N         connections (echo 64, large 4, idle 10000);\n"
            "                    broadcast: receivers (1000)\n"
            "  --size S          message bytes (32; large 1 MiB; broadcast 64)\n"
            "  --inflight K      echo: messages in flight per connection (16; large 1)\n"
            "  --binary          binary messages (large: always)\n"
            "  --window W        broadcast: messages in flight (16)\n"
            "  --warmup S        seconds before measuring (1)\n"
            "  --duration S      seconds measured (5)\n"
            "  --concurrency C   connects/handshakes at a time (32)\n"
            "  --sources K       source addresses 127.0.0.2.. (16; 0: kernel's choice)\n"
            "  --hold S          idle: longest hold (30)\n"
            "  --timeout S       bound on the whole run (120)\n"
            "  --quickack        acknowledge every read at once (TCP_QUICKACK)\n"
            "  --deflate         offer permessage-deflate, no context takeover either way,\n"
            "                    and fail unless the server accepts it (serve: accept it)\n"
            "  --chat            chat-like JSON text instead of --size letters: broadcast,\n"
            "                    8 different messages of 206-266 bytes (243 on average);\n"
            "                    echo, the first of them without its \"B\" (265 bytes)\n"
            "  --inflate-all     --deflate, broadcast: inflate every message received\n"
            "                    (default: a message byte-for-byte equal to one inflated\n"
            "                    and verified already is not inflated again)\n"
            "  --cookie NAME=V   handshakes: send Cookie: NAME=V in every request\n"
            "  --sessions N      --cookie: N different values, V + 8 digits (0..N-1)\n"
            "                    in turn (1: V as it is)\n"
            "  --no-verify       do not compare echoed payloads\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *m = argv[1];
    int size_set = 0, conns_set = 0, inflight_set = 0;
    if (!strcmp(m, "echo")) opt.mode = M_ECHO;
    else if (!strcmp(m, "large")) opt.mode = M_LARGE;
    else if (!strcmp(m, "broadcast")) opt.mode = M_BROADCAST;
    else if (!strcmp(m, "idle")) opt.mode = M_IDLE;
    else if (!strcmp(m, "handshakes")) opt.mode = M_HANDSHAKES;
    else if (!strcmp(m, "serve")) opt.mode = M_SERVE;
    else usage();
    static struct option longopts[] = {
        {"host", 1, 0, 'H'},     {"port", 1, 0, 'p'},     {"path", 1, 0, 'P'},
        {"raw", 0, 0, 'r'},      {"conns", 1, 0, 'n'},    {"size", 1, 0, 's'},
        {"inflight", 1, 0, 'k'}, {"binary", 0, 0, 'b'},   {"window", 1, 0, 'w'},
        {"warmup", 1, 0, 'W'},   {"duration", 1, 0, 'd'}, {"concurrency", 1, 0, 'c'},
        {"sources", 1, 0, 'S'},  {"hold", 1, 0, 'h'},     {"timeout", 1, 0, 't'},
        {"no-verify", 0, 0, 'V'}, {"quickack", 0, 0, 'Q'}, {"deflate", 0, 0, 'D'},
        {"chat", 0, 0, 'C'},     {"inflate-all", 0, 0, 'I'}, {"cookie", 1, 0, 'K'},
        {"sessions", 1, 0, 'N'}, {0, 0, 0, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': opt.host = optarg; break;
        case 'p': parse_ports(optarg); break;
        case 'P': opt.path = optarg; break;
        case 'r': opt.raw = 1; break;
        case 'n': opt.conns = atoi(optarg), conns_set = 1; break;
        case 's': opt.size = strtoull(optarg, NULL, 10), size_set = 1; break;
        case 'k': opt.inflight = atoi(optarg), inflight_set = 1; break;
        case 'b': opt.binary = 1; break;
        case 'w': opt.window = atoi(optarg); break;
        case 'W': opt.warmup = atof(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'c': opt.concurrency = atoi(optarg); break;
        case 'S': opt.sources = atoi(optarg); break;
        case 'h': opt.hold = atof(optarg); break;
        case 't': opt.timeout = atof(optarg); break;
        case 'V': opt.verify = 0; break;
        case 'Q': opt.quickack = 1; break;
        case 'D': opt.deflate = 1; break;
        case 'C': opt.chat = 1; break;
        case 'I': opt.memo = 0; break;
        case 'K': opt.cookie = optarg; break;
        case 'N': opt.sessions = atoi(optarg); break;
        default: usage();
        }
    }
    if (opt.port <= 0 || opt.port > 65535) usage();
    if (opt.raw && (opt.deflate || opt.chat)) die("--raw: no --deflate, no --chat");
    if (opt.chat && size_set) die("--chat: the messages' size is fixed, no --size");
    if (opt.cookie && (opt.raw || opt.mode != M_HANDSHAKES))
        die("--cookie: handshakes mode, not --raw");
    if (opt.cookie && (!strchr(opt.cookie, '=') || strlen(opt.cookie) > 500 ||
                       strpbrk(opt.cookie, "\r\n")))
        die("--cookie takes NAME=VALUE (up to 500 bytes, one line)");
    if (opt.sessions < 0 || opt.sessions > 100000000) die("--sessions: 1..10^8");
    if (!opt.sessions) opt.sessions = 1;
    if (opt.chat && opt.mode != M_ECHO && opt.mode != M_BROADCAST)
        die("--chat: echo and broadcast only");
    signal(SIGPIPE, SIG_IGN);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (opt.mode == M_SERVE) {
        serve();
        return 0;
    }
    if (opt.mode == M_LARGE) {
        opt.binary = 1;
        if (!size_set) opt.size = 1 << 20;
        if (!conns_set) opt.conns = 4;
        if (!inflight_set) opt.inflight = 1;
    } else if (opt.mode == M_BROADCAST) {
        if (!size_set) opt.size = 64;
        if (!conns_set) opt.conns = 1000;
        if (opt.size < SEQ_CAPTURE || opt.size > 4000) die("broadcast --size: 18..4000");
    } else if (opt.mode == M_IDLE) {
        if (!conns_set) opt.conns = 10000;
    }
    if (opt.size < 1 || opt.conns < 1 || opt.inflight < 1 || opt.window < 1 ||
        opt.concurrency < 1)
        usage();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)opt.conns + 64 > rl.rlim_cur && opt.mode != M_HANDSHAKES)
        die("--conns %d exceeds RLIMIT_NOFILE %llu", opt.conns, (unsigned long long)rl.rlim_cur);

    /* The messages: broadcast templates, or the one payload of echo. */
    if (opt.chat) chat_templates();
    if (opt.chat && opt.mode == M_ECHO) {
        /* The first chat message, without its "B" (echo, not broadcast). */
        opt.size = tmpls[0].len - 1;
        payload = xmalloc(opt.size);
        memcpy(payload, tmpls[0].plain + 1, opt.size);
    } else {
        payload = xmalloc(opt.size);
        for (size_t i = 0; i < opt.size; i++) payload[i] = 'a' + i % 26;
    }
    maxmsg = opt.size;
    client_plain = opt.size;
    client_wire = opt.size;
    if (opt.mode == M_BROADCAST) {
        if (!opt.chat) {
            ntmpl = 1;
            tmpls = calloc(1, sizeof *tmpls);
            if (!tmpls) die("out of memory");
            tmpls[0].plain = xmalloc(opt.size);
            memcpy(tmpls[0].plain, payload, opt.size);
            tmpls[0].plain[0] = 'B';
            tmpls[0].len = opt.size;
        }
        capn = seqoff + SEQ_FIELD;
        if (capn > MAX_CAPTURE) die("sequence field too far into the message");
        maxmsg = client_plain = client_wire = 0;
        for (int i = 0; i < ntmpl; i++) {
            tmpl_t *t = &tmpls[i];
            if (t->len < capn || t->plain[0] != 'B') die("bad broadcast template");
            if (opt.deflate) t->z = deflate_message(t->plain + capn, t->len - capn, &t->zlen);
            size_t wire = opt.deflate ? 5 + capn + t->zlen : t->len;
            if (wire > MAX_BCAST || t->len > MAX_BCAST) die("broadcast message too long");
            if (t->len > maxmsg) maxmsg = t->len;
            client_plain += (double)t->len / ntmpl;
            client_wire += (double)wire / ntmpl;
        }
    }

    /* The frame, the burst (echo, large). */
    uint8_t *wire = payload;
    size_t wlen = opt.size;
    if (opt.deflate && opt.mode != M_BROADCAST) {
        wire = deflate_message(payload, opt.size, &wlen);
        client_wire = wlen;
    }
    size_t hl = wlen < 126 ? 6 : wlen < 65536 ? 8 : 14;
    flen = opt.raw ? opt.size : hl + wlen;
    size_t copies = BURST_MIN_BYTES / flen + 1;
    if (copies < (size_t)opt.inflight && (size_t)opt.inflight * flen <= (16u << 20))
        copies = opt.inflight;
    burstlen = copies * flen;
    burst = xmalloc(burstlen);
    int op = (opt.binary ? OP_BINARY : OP_TEXT) | (opt.deflate ? RSV1 : 0);
    for (size_t i = 0; i < copies; i++) {
        if (opt.raw) memcpy(burst + i * flen, payload, flen);
        else encode_frame(burst + i * flen, op, wire, wlen);
    }
    if (wire != payload) free(wire);
    if (opt.deflate) zout = xmalloc(INFLATE_CHUNK);
    request = xmalloc(1024);
    requestlen = snprintf(request, 1024,
                          "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                          opt.path, opt.host, opt.port, WS_KEY,
                          opt.deflate ? "Sec-WebSocket-Extensions: " : "",
                          opt.deflate ? DEFLATE_OFFER : "", opt.deflate ? "\r\n" : "");
    uint8_t code[2] = {1000 >> 8, 1000 & 0xff};
    encode_frame(closeframe, OP_CLOSE, code, 2);

    nconns = opt.mode == M_HANDSHAKES ? opt.concurrency
             : opt.mode == M_BROADCAST ? opt.conns + 1 : opt.conns;
    conns = calloc(nconns, sizeof *conns);
    rbuf = xmalloc(READ_BUF_SIZE);
    for (int i = 0; i < nconns; i++) conns[i].fd = -1;
    if (opt.mode == M_BROADCAST) {
        g.ring = 1;
        while (g.ring < 2 * opt.window) g.ring *= 2;
        g.sent_at = calloc(g.ring, sizeof *g.sent_at);
        g.got = calloc(g.ring, sizeof *g.got);
        g.lat = xmalloc(MAX_LATENCIES * sizeof *g.lat);
    }
    if (opt.mode == M_IDLE) {
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = UINT32_MAX};
        g.stdin_open = epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) == 0;
    }

    g.t0 = now_s();
    g.phase = P_CONNECT;
    if (opt.mode == M_HANDSHAKES) {
        double t = now_s();
        g.phase = P_WARMUP;
        g.tphase = t;
        g.deadline = t + opt.warmup;
        refill();
    } else {
        connect_more();
    }

    struct epoll_event evs[MAX_EVENTS];
    while (g.phase != P_DONE) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, next_timeout_ms(now_s()));
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n && g.phase != P_DONE; i++) {
            uint32_t idx = evs[i].data.u32;
            uint32_t e = evs[i].events;
            if (idx == UINT32_MAX) {
                char buf[256];
                ssize_t r = read(0, buf, sizeof buf);
                if (r >= 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
                    g.stdin_open = 0;
                }
                continue;
            }
            conn *c = &conns[idx];
            if (c->state == C_FREE) continue;
            if (c->state == C_CONNECTING) {
                if (!(e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                on_connected(c);
                if (c->state == C_FREE) continue;
                e &= ~EPOLLOUT;
            }
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                do_read(c);
                if (c->state == C_FREE) continue;
            }
            flush(c);
        }
        tick(now_s());
        if (opt.mode == M_HANDSHAKES) refill();
    }
    if (!g.tend) g.tend = g.tmeasure;
    print_result();
    for (int i = 0; i < nconns; i++)
        if (conns[i].state != C_FREE) close(conns[i].fd);
    return g.error[0] ? 1 : 0;
}
