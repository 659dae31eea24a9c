// A connection's life: accept, TLS handshake, dial, piping with backpressure and half-close,
// deadlines, and one `end` report. Level-triggered epoll: an operation that would block records
// what it needs (Need), and the descriptor's epoll mask is exactly the union of those needs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine.h"
#include "entry.h"

namespace gt {

namespace {

/** Bytes one read takes: four TLS records, so a bulk transfer moves in few system calls. */
constexpr uint32_t kBufferSize = 64 * 1024;
/** TCP keep-alive like the Go and Node.js data paths: first probe after 15 s idle. */
constexpr int kKeepAliveSeconds = 15;

enum Io { IoOk, IoAgain, IoEof, IoError };

bool IsTls(const Connection* c, const Watch* w) { return (c->mode == Mode::Server) == (w == &c->accepted); }

void TuneTcp(int fd) {
  int one = 1, idle = kKeepAliveSeconds;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
}

/** "127.0.0.1" and 41234, or "::1"; empty for UNIX sockets. */
void AddressOf(const sockaddr_storage& addr, std::string* host, int* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  } else {
    *port = 0;
  }
  *host = text;
}

/** The reason of the last OpenSSL error, as Node's err.reason gives it ("wrong version number"). */
std::string TlsReason(int ssl_error) {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) return reason;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return buf;
  }
  if (ssl_error == SSL_ERROR_SYSCALL && errno != 0) return uv_strerror(-errno);
  return "unknown TLS error";
}

void Release(Flow* f) {
  free(f->buf);
  f->buf = nullptr;
  f->len = f->off = 0;
}

void FreeConnection(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  delete c;
}

/**
 * Reads and drops what a peer sent that nobody will read: closing a socket with unread input makes
 * the kernel answer with a reset instead of a FIN, and the peer would lose what we sent it last
 * (an alert, say). Bounded: a peer that keeps sending gets the reset.
 */
void DiscardInput(int fd) {
  if (fd < 0) return;
  char scratch[16384];
  for (int i = 0; i < 4 && read(fd, scratch, sizeof scratch) == static_cast<ssize_t>(sizeof scratch); i++) {
  }
}

/** Closes everything and reports how it ended; the memory goes once the timer handle is closed. */
void Finish(Connection* c, End kind, const std::string& message) {
  if (c->phase == Phase::Closed) return;
  Engine* e = c->engine;
  if (!(c->up.src_ended && c->down.src_ended)) {
    DiscardInput(c->accepted.fd);
    DiscardInput(c->dialed.fd);
  }
  c->phase = Phase::Closed;
  AbandonQuestion(c);
  StopWatching(e, &c->accepted);
  StopWatching(e, &c->dialed);
  if (c->ssl != nullptr) SSL_free(c->ssl);
  c->ssl = nullptr;
  if (c->client_context != nullptr) SSL_CTX_free(c->client_context);
  c->client_context = nullptr;
  Release(&c->up);
  Release(&c->down);
  uv_timer_stop(&c->timer);
  e->connections.erase(c->id);
  UpdateRef(e);
  EmitEnd(c, kind, message);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), FreeConnection);
}

void ArmTimer(Connection* c);

void OnTimer(uv_timer_t* t) {
  auto* c = static_cast<Connection*>(t->data);
  Entry entry(c->engine);
  uint64_t now = uv_now(c->engine->loop);
  if (c->phase != Phase::Piping) {
    if (c->connect_deadline != 0 && now >= c->connect_deadline) {
      c->timed_out = true;
      Finish(c, EndTimeout, "");
      return;
    }
  } else if ((c->close_deadline != 0 && now >= c->close_deadline) || (c->life_deadline != 0 && now >= c->life_deadline)) {
    c->timed_out = true;
    Finish(c, EndClosed, "");
    return;
  }
  ArmTimer(c);
}

/** The timer runs to the nearest deadline of the phase. */
void ArmTimer(Connection* c) {
  uint64_t next = 0;
  auto consider = [&next](uint64_t d) {
    if (d != 0 && (next == 0 || d < next)) next = d;
  };
  if (c->phase == Phase::Piping) {
    consider(c->close_deadline);
    consider(c->life_deadline);
  } else {
    consider(c->connect_deadline);
  }
  if (next == 0) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t now = uv_now(c->engine->loop);
  uv_timer_start(&c->timer, OnTimer, next > now ? next - now : 0, 0);
}

/** Reading and writing a side: OpenSSL on the TLS side, plain system calls on the other. */
Io ReadSide(Connection* c, Watch* w, char* buf, size_t cap, size_t* n, Need* need) {
  if (IsTls(c, w)) {
    if (SSL_read_ex(c->ssl, buf, cap, n) == 1) {
      // One record per call: take the others read ahead too, so the plain side gets one large write.
      size_t more = 0;
      while (*n < cap && SSL_has_pending(c->ssl) == 1 && SSL_read_ex(c->ssl, buf + *n, cap - *n, &more) == 1) *n += more;
      ERR_clear_error();
      return IoOk;
    }
    int err = SSL_get_error(c->ssl, 0);
    if (err == SSL_ERROR_WANT_READ) return *need = NeedRead, IoAgain;
    if (err == SSL_ERROR_WANT_WRITE) return *need = NeedWrite, IoAgain;
    if (err == SSL_ERROR_ZERO_RETURN) return IoEof;
    if (err == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET || errno == EPIPE)) {
      ERR_clear_error();
      return errno == 0 ? IoEof : IoError;
    }
    c->copy_error = "tls: " + TlsReason(err);
    return IoError;
  }
  ssize_t r = read(w->fd, buf, cap);
  if (r > 0) {
    *n = static_cast<size_t>(r);
    c->plain_read += *n;
    return IoOk;
  }
  if (r == 0) return IoEof;
  if (errno == EAGAIN || errno == EINTR) return *need = NeedRead, IoAgain;
  if (errno != ECONNRESET && errno != ECONNABORTED) c->copy_error = SyscallError("read", errno, "");
  return IoError;
}

Io WriteSide(Connection* c, Watch* w, const char* buf, size_t len, size_t* n, Need* need) {
  if (IsTls(c, w)) {
    if (SSL_write_ex(c->ssl, buf, len, n) == 1) return IoOk;
    int err = SSL_get_error(c->ssl, 0);
    if (err == SSL_ERROR_WANT_WRITE) return *need = NeedWrite, IoAgain;
    if (err == SSL_ERROR_WANT_READ) return *need = NeedRead, IoAgain;
    if (err == SSL_ERROR_SYSCALL && (errno == EPIPE || errno == ECONNRESET)) {
      ERR_clear_error();
      return IoError;
    }
    c->copy_error = "tls: " + TlsReason(err);
    return IoError;
  }
  ssize_t r = send(w->fd, buf, len, MSG_NOSIGNAL);
  if (r >= 0) {
    *n = static_cast<size_t>(r);
    c->plain_written += *n;
    return IoOk;
  }
  if (errno == EAGAIN || errno == EINTR) return *need = NeedWrite, IoAgain;
  if (errno != EPIPE && errno != ECONNRESET) c->copy_error = SyscallError("write", errno, "");
  return IoError;
}

/** Passes an end on: TLS close_notify (and a FIN unless no_fin), or a FIN on the plain side. */
Io EndSide(Connection* c, Watch* w, Need* need) {
  if (!IsTls(c, w)) {
    shutdown(w->fd, SHUT_WR);
    return IoOk;
  }
  int r = SSL_shutdown(c->ssl);
  if (r < 0) {
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_WRITE) return *need = NeedWrite, IoAgain;
    if (err == SSL_ERROR_WANT_READ) return *need = NeedRead, IoAgain;
    ERR_clear_error();
  }
  if (!c->no_fin) shutdown(w->fd, SHUT_WR);
  return IoOk;
}

bool Ready(const Watch* w, Need need) { return need == None || (need == NeedRead ? w->readable : w->writable); }

void Stalled(Watch* w, Need need) {
  if (need == NeedRead) w->readable = false;
  else if (need == NeedWrite) w->writable = false;
}

/** The first end of a pipe starts --close-timeout for the other direction (0: close at once). */
void OnFirstEnd(Connection* c) {
  if (c->pipe.close_ms <= 0) return Finish(c, EndClosed, c->copy_error);
  c->close_deadline = uv_now(c->engine->loop) + static_cast<uint64_t>(c->pipe.close_ms);
  ArmTimer(c);
}

/** One step of one direction; true when something moved (the caller loops until nothing does). */
bool Step(Connection* c, Flow* f, Watch* src, Watch* dst) {
  if (f->len > f->off) {
    if (!Ready(dst, f->dst_needs)) return false;
    size_t n = 0;
    Need need = None;
    switch (WriteSide(c, dst, f->buf + f->off, f->len - f->off, &n, &need)) {
      case IoOk:
        f->dst_needs = None;
        f->off += static_cast<uint32_t>(n);
        if (f->off == f->len) f->len = f->off = 0;
        else Stalled(dst, f->dst_needs = NeedWrite);
        return true;
      case IoAgain:
        Stalled(dst, f->dst_needs = need);
        return false;
      default:
        Finish(c, EndClosed, c->copy_error);
        return true;
    }
  }
  if (f->src_ended) {
    if (f->end_passed) return false;
    if (!Ready(dst, f->dst_needs)) return false;
    Need need = None;
    if (EndSide(c, dst, &need) == IoAgain) {
      Stalled(dst, f->dst_needs = need);
      return false;
    }
    f->dst_needs = None;
    f->end_passed = true;
    bool other_ended = (f == &c->up ? c->down : c->up).end_passed;
    if (!other_ended) OnFirstEnd(c);
    return true;
  }
  if (!Ready(src, f->src_needs)) return false;
  if (f->buf == nullptr) f->buf = static_cast<char*>(malloc(kBufferSize));
  size_t n = 0;
  Need need = None;
  switch (ReadSide(c, src, f->buf, kBufferSize, &n, &need)) {
    case IoOk:
      f->src_needs = None;
      f->len = static_cast<uint32_t>(n);
      f->off = 0;
      // A short plain read emptied the socket; a TLS read with nothing buffered needs the socket
      // again. Either way epoll says when there is more, which saves a read that would block.
      if (IsTls(c, src) ? SSL_has_pending(c->ssl) == 0 : n < kBufferSize) Stalled(src, f->src_needs = NeedRead);
      return true;
    case IoAgain:
      Stalled(src, f->src_needs = need);
      return false;
    case IoEof:
      f->src_ended = true;
      return true;
    default:
      Finish(c, EndClosed, c->copy_error);
      return true;
  }
}

uint32_t Mask(Need a, Need b) {
  uint32_t m = 0;
  if (a == NeedRead || b == NeedRead) m |= EPOLLIN;
  if (a == NeedWrite || b == NeedWrite) m |= EPOLLOUT;
  return m;
}

void Pump(Connection* c) {
  for (int rounds = 0; rounds < 64; rounds++) {
    bool moved = Step(c, &c->up, &c->accepted, &c->dialed);
    if (c->phase == Phase::Closed) return;
    moved = Step(c, &c->down, &c->dialed, &c->accepted) || moved;
    if (c->phase == Phase::Closed) return;
    if (!moved) break;
  }
  if (c->up.end_passed && c->down.end_passed && c->up.len == 0 && c->down.len == 0) {
    Finish(c, EndClosed, c->copy_error);
    return;
  }
  Flow& up = c->up;
  Flow& down = c->down;
  // Each side: the reads of the flow it feeds, the writes of the flow it drains.
  auto wants = [](const Flow& reading, const Flow& writing, Need* r, Need* w) {
    *r = reading.src_ended || reading.len > reading.off ? None : reading.src_needs;
    *w = writing.len > writing.off || (writing.src_ended && !writing.end_passed) ? writing.dst_needs : None;
  };
  // Idle connections hold no buffer: it is taken for a read and given back once written.
  if (up.len == 0) Release(&up);
  if (down.len == 0) Release(&down);
  Need ar, aw, dr, dw;
  wants(up, down, &ar, &aw);
  wants(down, up, &dr, &dw);
  SetInterest(c->engine, &c->accepted, Mask(ar, aw));
  SetInterest(c->engine, &c->dialed, Mask(dr, dw));
}

void HandshakeDone(Connection* c) {
  // Reads and writes from now on run on the loop's stack, not in an async job.
  SSL_clear_mode(c->ssl, SSL_MODE_ASYNC);
  c->phase = c->mode == Mode::Server ? Phase::AwaitDecision : Phase::AwaitPipe;
  Watch* w = c->mode == Mode::Server ? &c->accepted : &c->dialed;
  SetInterest(c->engine, w, 0);
  EmitHandshake(c);
}

}  // namespace

void DriveHandshake(Connection* c) {
  Watch* w = c->mode == Mode::Server ? &c->accepted : &c->dialed;
  for (;;) {
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) return HandshakeDone(c);
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_ASYNC) {
      // Paused to ask JavaScript (question.cc): resume now if it answered at once.
      if (PutQuestion(c)) continue;
      return;
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      SetInterest(c->engine, w, err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
      return;
    }
    if ((err == SSL_ERROR_SYSCALL && errno == 0) || err == SSL_ERROR_ZERO_RETURN) {
      ERR_clear_error();
      return Finish(c, EndEof, w == &c->accepted ? "accepted" : "dialed");
    }
    return Finish(c, EndTls, TlsReason(err));
  }
}

namespace {

/** The TLS state of a connection, on the side that speaks TLS; false (and finished) if OpenSSL has no memory. */
bool NewTls(Connection* c, SSL_CTX* ctx, int fd) {
  c->ssl = SSL_new(ctx);
  if (c->ssl == nullptr) {
    Finish(c, EndTls, TlsReason(0));
    return false;
  }
  SSL_set_ex_data(c->ssl, ConnectionIndex(), c);
  SSL_set_fd(c->ssl, fd);
  // The handshake runs as an async job, so that it can pause for JavaScript's verdict (question.cc).
  SSL_set_mode(c->ssl, SSL_MODE_ASYNC);
  return true;
}

/** Both sides are connected (and verified): copying starts, under the piping deadlines. */
void BeginPiping(Connection* c) {
  if (c->pipe.life_ms > 0) c->life_deadline = uv_now(c->engine->loop) + static_cast<uint64_t>(c->pipe.life_ms);
  c->phase = Phase::Piping;
  ArmTimer(c);
  EmitPiping(c);
  if (c->phase == Phase::Closed) return;
  Pump(c);
}

void Connected(Connection* c) {
  c->targets.clear();
  c->targets.shrink_to_fit();
  c->next_target = 0;
  if (c->mode == Mode::Server) {
    // The backend has said nothing yet: wait for epoll rather than try a read that would block.
    c->dialed.readable = false;
    c->down.src_needs = NeedRead;
    return BeginPiping(c);
  }
  c->phase = Phase::ClientHandshake;
  if (!NewTls(c, c->client_context, c->dialed.fd)) return;
  SSL_set_connect_state(c->ssl);
  if (!c->server_name.empty()) SSL_set_tlsext_host_name(c->ssl, c->server_name.c_str());
  DriveHandshake(c);
}

/** The address of a target as Node's connect errors print it ("127.0.0.1:9", "::1:9", the path). */
std::string TargetText(const Connection* c, const sockaddr_storage* addr) {
  if (addr == nullptr) return c->unix_path;
  std::string host;
  int port;
  AddressOf(*addr, &host, &port);
  return host + ":" + std::to_string(port);
}

/** Tries the targets in order; a refused one moves on to the next. */
void DialNext(Connection* c) {
  bool unix_target = !c->unix_path.empty();
  while (unix_target ? c->next_target == 0 : c->next_target < c->targets.size()) {
    const sockaddr_storage* addr = unix_target ? nullptr : &c->targets[c->next_target];
    c->next_target++;
    int family = unix_target ? AF_UNIX : addr->ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      c->dial_error = SyscallError("socket", errno, "");
      continue;
    }
    int r;
    if (unix_target) {
      sockaddr_un sun{};
      sun.sun_family = AF_UNIX;
      memcpy(sun.sun_path, c->unix_path.data(), std::min(c->unix_path.size(), sizeof sun.sun_path - 1));
      r = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    } else {
      TuneTcp(fd);
      r = connect(fd, reinterpret_cast<const sockaddr*>(addr), family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    }
    if (r == 0 || errno == EINPROGRESS) {
      c->dialed.fd = fd;
      c->dialed.readable = c->dialed.writable = true;
      if (r == 0) return Connected(c);
      c->phase = Phase::Dialing;
      SetInterest(c->engine, &c->dialed, EPOLLOUT);
      return;
    }
    c->dial_error = SyscallError("connect", errno, TargetText(c, addr));
    close(fd);
  }
  Finish(c, EndDial, c->dial_error.empty() ? "no address to dial" : c->dial_error);
}

void OnDialed(Connection* c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->dialed.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == 0) return Connected(c);
  const sockaddr_storage* addr = c->unix_path.empty() ? &c->targets[c->next_target - 1] : nullptr;
  c->dial_error = SyscallError("connect", err, TargetText(c, addr));
  StopWatching(c->engine, &c->dialed);
  DialNext(c);
}

bool ParseTargets(Connection* c, const std::vector<std::string>& hosts, int port, std::string* error) {
  for (const std::string& h : hosts) {
    sockaddr_storage addr{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
    } else if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
    } else {
      *error = "not an IP address: " + h;
      return false;
    }
    c->targets.push_back(addr);
  }
  return true;
}

}  // namespace

std::string SyscallError(const char* syscall, int err, const std::string& what) {
  std::string s = std::string(syscall) + " " + uv_err_name(-err);
  return what.empty() ? s : s + " " + what;
}

void SetInterest(Engine* e, Watch* w, uint32_t events) {
  if (w->fd < 0 || (w->registered && w->events == events)) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = w;
  if (epoll_ctl(e->epoll_fd, w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) == 0) {
    w->registered = true;
    w->events = events;
  }
}

void UpdateRef(Engine* e) {
  auto* h = reinterpret_cast<uv_handle_t*>(&e->poll);
  if (e->listeners.empty() && e->connections.empty()) uv_unref(h);
  else uv_ref(h);
}

void StopWatching(Engine* e, Watch* w) {
  if (w->fd < 0) return;
  // Closing the descriptor takes it out of the epoll set, unless another one shares the socket.
  if (w->registered && w->shared) epoll_ctl(e->epoll_fd, EPOLL_CTL_DEL, w->fd, nullptr);
  close(w->fd);
  w->fd = -1;
  w->registered = false;
  w->events = 0;
}

Connection* NewConnection(Engine* e, Mode mode, int fd) {
  auto* c = new Connection();
  c->engine = e;
  c->id = e->next_id++;
  if (e->next_id == 0) e->next_id = 1;
  c->mode = mode;
  c->phase = Phase::AwaitDecision;
  c->accepted.fd = fd;
  c->accepted.owner = c;
  c->dialed.owner = c;
  uv_timer_init(e->loop, &c->timer);
  c->timer.data = c;
  e->connections[c->id] = c;
  UpdateRef(e);
  return c;
}

void StartServerHandshake(Connection* c) {
  Engine* e = c->engine;
  if (e->server_context == nullptr) return Finish(c, EndTls, "no TLS context");
  if (!NewTls(c, e->server_context, c->accepted.fd)) return;
  SSL_set_accept_state(c->ssl);
  c->phase = Phase::Handshake;
  DriveHandshake(c);
}

void OnAcceptable(Listener* l) {
  Engine* e = l->engine;
  // A bounded batch per wake-up, so one busy listener cannot starve the connections already open.
  for (int i = 0; i < 64; i++) {
    sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept4(l->watch.fd, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
        if (errno == EAGAIN) return;
        continue;
      }
      EmitAcceptError(e, l->id, errno);
      return;
    }
    std::string remote, local;
    int remote_port = 0, local_port = 0;
    if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
      TuneTcp(fd);
      AddressOf(peer, &remote, &remote_port);
      sockaddr_storage self;
      socklen_t self_len = sizeof self;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) == 0) AddressOf(self, &local, &local_port);
    }
    Connection* c = NewConnection(e, l->mode, fd);
    double timeout_ms = EmitAccept(c, l->id, remote, remote_port, local, local_port);
    if (c->phase == Phase::Closed) continue;
    if (timeout_ms > 0) {
      // uv_now is the loop's time of this batch: the moment of accept, whatever JavaScript did since.
      c->connect_deadline = uv_now(e->loop) + static_cast<uint64_t>(timeout_ms);
      ArmTimer(c);
    }
    // Errors and hang-ups of the accepted side are reported even before it is read.
    SetInterest(e, &c->accepted, 0);
    if (l->mode == Mode::Server) StartServerHandshake(c);
    if (l->watch.fd < 0) return;  // JavaScript stopped the listener from a callback
  }
}

void OnConnectionEvent(Connection* c, Watch* w, uint32_t events) {
  if (c->phase == Phase::Closed || w->fd < 0) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) w->readable = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) w->writable = true;
  switch (c->phase) {
    case Phase::Handshake:
    case Phase::ClientHandshake:
      if (w == (c->mode == Mode::Server ? &c->accepted : &c->dialed)) return DriveHandshake(c);
      break;
    case Phase::Dialing:
      if (w == &c->dialed) return OnDialed(c);
      break;
    case Phase::Piping:
      return Pump(c);
    default:
      break;
  }
  // A side nobody reads yet (waiting for JavaScript, or for the other side's dial or handshake):
  // only its hang-up matters, which ends the connection before it began.
  if (events & (EPOLLHUP | EPOLLERR)) Finish(c, EndEof, w == &c->accepted ? "accepted" : "dialed");
}

bool StartPlainDial(Connection* c, std::vector<std::string> hosts, int port, const std::string& unix_path, const char* header, size_t header_len, Timeouts pipe, std::string* error) {
  if (c->phase != Phase::AwaitDecision) return *error = "connection is not waiting for a decision", false;
  if (unix_path.empty() && !ParseTargets(c, hosts, port, error)) return false;
  c->unix_path = unix_path;
  c->pipe = pipe;
  if (header_len > 0) {
    // The PROXY header goes first, ahead of anything the client sends.
    c->up.buf = static_cast<char*>(malloc(kBufferSize));
    memcpy(c->up.buf, header, std::min<size_t>(header_len, kBufferSize));
    c->up.len = static_cast<uint32_t>(std::min<size_t>(header_len, kBufferSize));
  }
  DialNext(c);
  return true;
}

bool StartTlsDial(Connection* c, std::vector<std::string> hosts, int port, int adopted_fd, SSL_CTX* ctx, const std::string& server_name, bool no_fin, std::string* error) {
  if (c->phase != Phase::AwaitDecision || c->mode != Mode::Client) return *error = "connection is not waiting to be dialed", false;
  if (adopted_fd < 0 && !ParseTargets(c, hosts, port, error)) return false;
  SSL_CTX_up_ref(ctx);
  c->client_context = ctx;
  c->server_name = server_name;
  c->no_fin = no_fin;
  if (adopted_fd >= 0) {
    // A socket JavaScript connected (through a proxy): ours is a duplicate of its descriptor.
    int fd = fcntl(adopted_fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return *error = SyscallError("dup", errno, ""), false;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->dialed.fd = fd;
    c->dialed.shared = true;
    Connected(c);
    return true;
  }
  DialNext(c);
  return true;
}

void StartPiping(Connection* c, Timeouts pipe) {
  c->pipe = pipe;
  BeginPiping(c);
}

/** Ends a connection on JavaScript's word: a piping one as closed, any other as aborted. */
void Abort(Connection* c) {
  if (c->phase == Phase::Piping) Finish(c, EndClosed, c->copy_error);
  else Finish(c, EndAborted, "");
}

void DestroyAll(Engine* e) {
  std::vector<Connection*> all;
  for (auto& [id, c] : e->connections) all.push_back(c);
  for (Connection* c : all) Finish(c, EndAborted, "");
}

}  // namespace gt
