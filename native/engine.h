// The data plane: accepting, TLS, dialing and moving bytes, in C++ on the thread's own event loop.
// It decides nothing. Every policy (who is allowed, where to dial, what to log, when to give up)
// lives in TypeScript (src/engine/, src/tunnel/), which the engine asks through a handful of
// callbacks, one or two per connection phase; the bytes themselves never cross into JavaScript.
#pragma once

#define NAPI_VERSION 9
#define OPENSSL_SUPPRESS_DEPRECATED

#include <node_api.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace gt {

struct Engine;
struct Connection;

/** Server mode: TLS on the accepted side, plain on the dialed one. Client mode: the reverse. */
enum class Mode : uint8_t { Server = 0, Client = 1 };

/** A descriptor in the engine's epoll set: a listening socket, or one side of a connection. */
struct Watch {
  enum Kind : uint8_t { Listening, Accepted, Dialed };
  Kind kind;
  int fd = -1;
  /** The epoll mask registered now (EPOLLIN / EPOLLOUT); errors and hang-ups are always reported. */
  uint32_t events = 0;
  bool registered = false;
  /** epoll said readable / writable since the last operation on this side stopped for want of it. */
  bool readable = true;
  bool writable = true;
  /** Another descriptor shares the socket (adopted from JavaScript): leave epoll explicitly. */
  bool shared = false;
  /** The Listener or Connection it belongs to. */
  void* owner = nullptr;
};

struct Listener {
  Watch watch;
  Engine* engine;
  uint32_t id;
  Mode mode;
};

/** What an operation on a side is waiting for before it can go on. */
enum Need : uint8_t { None = 0, NeedRead = 1, NeedWrite = 2 };

/** One direction of a piping connection: bytes read from one side, not yet written to the other. */
struct Flow {
  char* buf = nullptr;
  uint32_t len = 0;
  uint32_t off = 0;
  Need src_needs = None;
  Need dst_needs = None;
  /** The source ended its writes (FIN, or TLS close_notify). */
  bool src_ended = false;
  /** That end was passed on to the destination. */
  bool end_passed = false;
};

enum class Phase : uint8_t {
  Handshake,        // server: TLS handshake on the accepted side
  AwaitVerdict,     // either mode: the handshake is paused until JavaScript answers its question (question.cc)
  AwaitDecision,    // server: handshake done, JavaScript names the target; client: accepted, JavaScript dials
  Dialing,          // connecting the dialed side
  ClientHandshake,  // client: TLS handshake on the dialed side
  AwaitPipe,        // client: handshake done (the target was verified during it), JavaScript starts piping
  Piping,
  Closed,
};

/** How a connection ended, as the `end` callback reports it (src/engine/native.ts mirrors these). */
enum End : int32_t {
  EndClosed = 0,    // piped, then closed (message: an unusual copy error, or none)
  EndTls = 1,       // the TLS handshake failed (message: OpenSSL's reason)
  EndEof = 2,       // a peer closed the connection before piping began (message: "accepted" or "dialed")
  EndTimeout = 3,   // the connect deadline passed before piping began
  EndDial = 4,      // every address of the target refused (message: "connect ECONNREFUSED 1.2.3.4:80")
  EndAborted = 5,   // JavaScript closed it
};

/**
 * What a handshake, paused inside OpenSSL, asks JavaScript (question.cc): the verdict on the peer's
 * certificate, or the context that answers a TLS-ALPN-01 validation.
 */
enum class Question : uint8_t { None, Verify, Challenge };

/** Answers to a Verify question: 0 admits the peer; any other value is the TLS alert that refuses it. */
constexpr int kAdmit = 0;
constexpr int kPending = -1;

/** The question a paused handshake waits on, and its answer. */
struct Asking {
  Question question = Question::None;
  int verdict = kPending;
  /** Verify: the peer's leaf (a reference held while asked), OpenSSL's verdict on its chain, and whether it comes from a resumed session. */
  X509* cert = nullptr;
  long chain_error = 0;
  bool resumed = false;
  /** Challenge: the SNI of the validation, and the context that answers it (null: none pending). */
  std::string server_name;
  SSL_CTX* challenge_context = nullptr;
};

/** What JavaScript gives a connection for its piping phase: --close-timeout and --max-conn-lifetime (0: none). */
struct Timeouts {
  int64_t close_ms = 0;
  int64_t life_ms = 0;
};

struct Connection {
  Engine* engine;
  uint32_t id;
  Mode mode;
  Phase phase;
  Watch accepted{Watch::Accepted};
  Watch dialed{Watch::Dialed};
  /** On the accepted side in server mode, on the dialed side in client mode. */
  SSL* ssl = nullptr;
  Flow up;    // accepted → dialed
  Flow down;  // dialed → accepted
  uv_timer_t timer;
  uint64_t connect_deadline = 0;  // uv_now milliseconds; 0: none
  uint64_t close_deadline = 0;
  uint64_t life_deadline = 0;
  Timeouts pipe;
  /** Plaintext byte counts: read from / written to the plain side. */
  uint64_t plain_read = 0;
  uint64_t plain_written = 0;
  /** TLS half-close with close_notify alone, no FIN (through an HTTP CONNECT or SOCKS proxy). */
  bool no_fin = false;
  bool timed_out = false;
  /** A TLS-ALPN-01 validation answered with a challenge certificate. */
  bool challenge = false;
  Asking asking;
  /** The copy error worth reporting (not a reset or a broken pipe), or empty. */
  std::string copy_error;
  /** Where to dial, tried in order; `unix_path` instead for a UNIX target. */
  std::vector<sockaddr_storage> targets;
  std::string unix_path;
  size_t next_target = 0;
  std::string dial_error;
  /** Sent to the TLS server as SNI (client mode). */
  std::string server_name;
  SSL_CTX* client_context = nullptr;
};

/** The callback scope of the libuv callback running now (see entry.h, MayCallJs). */
struct Scope {
  bool entered = false;
  bool open = false;
  napi_handle_scope handles;
  napi_callback_scope callback;
};

struct Engine {
  napi_env env;
  uv_loop_t* loop;
  int epoll_fd = -1;
  uv_poll_t poll;
  napi_ref self = nullptr;
  napi_async_context async_context = nullptr;
  /** JavaScript callbacks: accept, verify, handshake, piping, end, acceptError, challenge. */
  napi_ref on_accept = nullptr, on_verify = nullptr, on_handshake = nullptr, on_piping = nullptr, on_end = nullptr, on_accept_error = nullptr, on_challenge = nullptr;
  SSL_CTX* server_context = nullptr;
  uint32_t next_id = 1;
  std::unordered_map<uint32_t, Connection*> connections;
  std::unordered_map<uint32_t, Listener*> listeners;
  uint32_t next_listener = 1;
  /** Listeners stopped while events may still name them: freed after the current batch. */
  std::vector<Listener*> stopped;
  Scope scope;
  /** The thread is ending: connections close without reports (no JavaScript may run). */
  bool quiet = false;
};

// context.cc
napi_value CreateContext(napi_env env, napi_callback_info info);
/** The SSL_CTX inside a context object made by CreateContext; throws and returns null otherwise. */
SSL_CTX* UnwrapContext(napi_env env, napi_value value);
/** ex_data slot of an SSL holding its Connection. */
int ConnectionIndex();

/** The Connection an SSL of the engine belongs to (null for any other SSL). */
Connection* ConnectionOf(const SSL* ssl);

// verify.cc
/**
 * Sets how a context verifies its peers (SSL_VERIFY_*): OpenSSL checks the chain, then JavaScript
 * decides during the handshake, for a full handshake and for a resumed session alike.
 */
void VerifyPeers(SSL_CTX* ctx, int mode);

// question.cc: a handshake asks JavaScript from inside OpenSSL by pausing its async job.
/** Once per process: the async jobs' stacks (with a guard page). False when OpenSSL cannot run async jobs. */
bool PrepareQuestions();
/** Inside the handshake: the verdict on `cert`, once JavaScript has given it (kAdmit, or an alert). */
int AskVerdict(Connection* c, X509* cert, long chain_error, bool resumed);
/** Inside the handshake: the context answering a TLS-ALPN-01 validation of `server_name`, or null. */
SSL_CTX* AskChallenge(Connection* c, const std::string& server_name);
/** On the loop's stack, the handshake paused: puts its question to JavaScript; true when answered at once. */
bool PutQuestion(Connection* c);
/** JavaScript's later answer to a Verify question; resumes the handshake if it was waiting for it. */
bool Answer(Connection* c, int verdict);
/** A paused handshake whose answer will not come (the connection is ending) runs to its end, sending nothing. */
void AbandonQuestion(Connection* c);

// connection.cc
Connection* NewConnection(Engine* e, Mode mode, int fd);
void OnConnectionEvent(Connection* c, Watch* w, uint32_t events);
void OnAcceptable(Listener* l);
void StartServerHandshake(Connection* c);
bool StartPlainDial(Connection* c, std::vector<std::string> hosts, int port, const std::string& unix_path, const char* header, size_t header_len, Timeouts pipe, std::string* error);
bool StartTlsDial(Connection* c, std::vector<std::string> hosts, int port, int adopted_fd, SSL_CTX* ctx, const std::string& server_name, bool no_fin, std::string* error);
void StartPiping(Connection* c, Timeouts pipe);
void DriveHandshake(Connection* c);
void Abort(Connection* c);
void DestroyAll(Engine* e);
void SetInterest(Engine* e, Watch* w, uint32_t events);
/** The loop stays alive while the engine listens or carries a connection, as a net.Server does. */
void UpdateRef(Engine* e);
void StopWatching(Engine* e, Watch* w);

// callbacks.cc: calls into JavaScript, each inside a callback scope so promises settle after it.
double EmitAccept(Connection* c, uint32_t listener, const std::string& remote, int remote_port, const std::string& local, int local_port);
/** Asks for the verdict on the certificate in c->asking; records it there when given at once. */
void EmitVerify(Connection* c);
void EmitHandshake(Connection* c);
void EmitPiping(Connection* c);
void EmitEnd(Connection* c, End kind, const std::string& message);
void EmitAcceptError(Engine* e, uint32_t listener, int err);
/** Asks for the challenge context of the validation in c->asking; records it there. */
void EmitChallenge(Connection* c);

/** The message Node gives a failed system call: "connect ECONNREFUSED 127.0.0.1:9". */
std::string SyscallError(const char* syscall, int err, const std::string& what);

}  // namespace gt
