// The addon's surface: createContext(desc) and createEngine(callbacks), whose methods are the
// instructions JavaScript gives the data plane (src/engine/native.ts declares the same in
// TypeScript), and the system calls src/sys/linux.ts needs (syscalls.cc).
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "engine.h"
#include "entry.h"
#include "syscalls.h"
#include "values.h"

namespace gt {

namespace {

constexpr int kBatch = 128;

void OnEpoll(uv_poll_t* handle, int, int) {
  auto* e = static_cast<Engine*>(handle->data);
  Entry entry(e);
  epoll_event events[kBatch];
  int n = epoll_wait(e->epoll_fd, events, kBatch, 0);
  for (int i = 0; i < n; i++) {
    auto* w = static_cast<Watch*>(events[i].data.ptr);
    if (w->kind == Watch::Listening) {
      if (w->fd >= 0) OnAcceptable(static_cast<Listener*>(w->owner));
    } else {
      OnConnectionEvent(static_cast<Connection*>(w->owner), w, events[i].events);
    }
  }
  for (Listener* l : e->stopped) delete l;
  e->stopped.clear();
}

/** A method's arguments and its engine; argv[0] names the connection of a connection method. */
template <size_t N>
struct Args {
  napi_value argv[N];
  Engine* engine;

  Args(napi_env env, napi_callback_info info) {
    size_t argc = N;
    void* data;
    napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
    engine = static_cast<Engine*>(data);
  }

  /** The connection argv[0] names; null once it ended. */
  Connection* connection() const {
    auto it = engine->connections.find(static_cast<uint32_t>(ToDouble(engine->env, argv[0])));
    return it == engine->connections.end() ? nullptr : it->second;
  }
};

/** --close-timeout and --max-conn-lifetime in ms, from two arguments. */
Timeouts ToTimeouts(napi_env env, napi_value close_ms, napi_value life_ms) {
  return {static_cast<int64_t>(ToDouble(env, close_ms)), static_cast<int64_t>(ToDouble(env, life_ms))};
}

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

/** listen(fd, mode): accepts on `fd` (the engine owns it from now on); returns the listener's id. */
napi_value Listen(napi_env env, napi_callback_info info) {
  Args<2> a(env, info);
  Engine* e = a.engine;
  auto* l = new Listener();
  l->engine = e;
  l->id = e->next_listener++;
  l->mode = ToInt(env, a.argv[1]) == 0 ? Mode::Server : Mode::Client;
  l->watch.kind = Watch::Listening;
  l->watch.fd = ToInt(env, a.argv[0]);
  l->watch.owner = l;
  l->watch.shared = true;
  // accept() must never block the loop: a socket bound outside Node (a UNIX path, systemd's) may be blocking.
  fcntl(l->watch.fd, F_SETFL, fcntl(l->watch.fd, F_GETFL) | O_NONBLOCK);
  SetInterest(e, &l->watch, EPOLLIN);
  if (!l->watch.registered) {
    int err = errno;
    close(l->watch.fd);
    delete l;
    napi_throw_error(env, uv_err_name(-err), SyscallError("epoll_ctl", err, "").c_str());
    return nullptr;
  }
  e->listeners[l->id] = l;
  UpdateRef(e);
  napi_value id;
  napi_create_uint32(env, l->id, &id);
  return id;
}

/** unlisten(id): stops accepting and closes the listener's descriptor; queued connections stay queued. */
napi_value Unlisten(napi_env env, napi_callback_info info) {
  Args<1> a(env, info);
  Engine* e = a.engine;
  auto it = e->listeners.find(static_cast<uint32_t>(ToInt(env, a.argv[0])));
  if (it != e->listeners.end()) {
    Listener* l = it->second;
    e->listeners.erase(it);
    StopWatching(e, &l->watch);
    // Events of this batch may still name it.
    e->stopped.push_back(l);
    UpdateRef(e);
  }
  return JsUndefined(env);
}

/** setContext(ctx): the TLS context of the server connections accepted from now on. */
napi_value SetContext(napi_env env, napi_callback_info info) {
  Args<1> a(env, info);
  SSL_CTX* ctx = UnwrapContext(env, a.argv[0]);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_up_ref(ctx);
  if (a.engine->server_context != nullptr) SSL_CTX_free(a.engine->server_context);
  a.engine->server_context = ctx;
  return JsUndefined(env);
}

/**
 * connectPlain(id, hosts, port, unixPath, header, closeMs, lifeMs): server mode, after the access
 * check: dials the target (each address in turn, or the UNIX path), writes `header` first, pipes.
 */
napi_value ConnectPlain(napi_env env, napi_callback_info info) {
  Args<7> a(env, info);
  Connection* c = a.connection();
  if (c == nullptr) return JsBool(env, false);
  void* header = nullptr;
  size_t header_len = 0;
  bool is_buffer = false;
  napi_is_buffer(env, a.argv[4], &is_buffer);
  if (is_buffer) napi_get_buffer_info(env, a.argv[4], &header, &header_len);
  std::string error;
  if (!StartPlainDial(c, ToStrings(env, a.argv[1]), ToInt(env, a.argv[2]), ToString(env, a.argv[3]), static_cast<const char*>(header), header_len, ToTimeouts(env, a.argv[5], a.argv[6]), &error)) {
    return Throw(env, error);
  }
  return JsBool(env, true);
}

/**
 * connectTls(id, hosts, port, adoptedFd, ctx, serverName, noFin): client mode: dials the target
 * (or takes a duplicate of `adoptedFd`, a socket JavaScript connected through a proxy) and runs the
 * TLS handshake; `handshake` reports it, and pipe() starts the copying once JavaScript verified it.
 */
napi_value ConnectTls(napi_env env, napi_callback_info info) {
  Args<7> a(env, info);
  Connection* c = a.connection();
  if (c == nullptr) return JsBool(env, false);
  SSL_CTX* ctx = UnwrapContext(env, a.argv[4]);
  if (ctx == nullptr) return nullptr;
  std::string error;
  if (!StartTlsDial(c, ToStrings(env, a.argv[1]), ToInt(env, a.argv[2]), ToInt(env, a.argv[3]), ctx, ToString(env, a.argv[5]), ToBool(env, a.argv[6]), &error)) return Throw(env, error);
  return JsBool(env, true);
}

/** pipe(id, closeMs, lifeMs): client mode, once the target's certificate passed. */
napi_value Pipe(napi_env env, napi_callback_info info) {
  Args<3> a(env, info);
  Connection* c = a.connection();
  if (c == nullptr || c->phase != Phase::AwaitPipe) return JsBool(env, false);
  StartPiping(c, ToTimeouts(env, a.argv[1], a.argv[2]));
  return JsBool(env, true);
}

/** verdict(id, verdict): the answer to verify() given later (0 admits, else the alert that refuses). */
napi_value Verdict(napi_env env, napi_callback_info info) {
  Args<2> a(env, info);
  Connection* c = a.connection();
  return JsBool(env, c != nullptr && Answer(c, ToInt(env, a.argv[1])));
}

/** close(id): ends a connection at once (denied, drained, re-authorized away); `end` reports it. */
napi_value Close(napi_env env, napi_callback_info info) {
  Args<1> a(env, info);
  Connection* c = a.connection();
  if (c != nullptr) Abort(c);
  return JsBool(env, c != nullptr);
}

void Shutdown(Engine* e) {
  e->quiet = true;
  DestroyAll(e);
  for (auto& [id, l] : e->listeners) StopWatching(e, &l->watch), delete l;
  e->listeners.clear();
  if (e->server_context != nullptr) SSL_CTX_free(e->server_context);
  e->server_context = nullptr;
}

/** At the end of the thread (a worker that exits): descriptors closed, handles released. */
void Cleanup(void* arg) {
  auto* e = static_cast<Engine*>(arg);
  Shutdown(e);
  uv_poll_stop(&e->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&e->poll), [](uv_handle_t* h) {
    auto* engine = static_cast<Engine*>(h->data);
    close(engine->epoll_fd);
    delete engine;
  });
}

napi_ref Callback(napi_env env, napi_value callbacks, const char* name, bool required) {
  napi_value fn;
  napi_valuetype t = napi_undefined;
  if (napi_get_named_property(env, callbacks, name, &fn) == napi_ok) napi_typeof(env, fn, &t);
  if (t != napi_function) {
    if (required) napi_throw_type_error(env, nullptr, (std::string("createEngine: callbacks.") + name + " must be a function").c_str());
    return nullptr;
  }
  napi_ref ref;
  napi_create_reference(env, fn, 1, &ref);
  return ref;
}

/** createEngine({ accept, verify, handshake, piping, end, acceptError, challenge? }): one per thread. */
napi_value CreateEngine(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value callbacks;
  napi_get_cb_info(env, info, &argc, &callbacks, nullptr, nullptr);
  if (!PrepareQuestions()) return Throw(env, "this OpenSSL cannot run async jobs, which the data plane needs to decide on a peer inside the TLS handshake");
  auto* e = new Engine();
  e->env = env;
  e->on_accept = Callback(env, callbacks, "accept", true);
  e->on_verify = Callback(env, callbacks, "verify", true);
  e->on_handshake = Callback(env, callbacks, "handshake", true);
  e->on_piping = Callback(env, callbacks, "piping", true);
  e->on_end = Callback(env, callbacks, "end", true);
  e->on_accept_error = Callback(env, callbacks, "acceptError", true);
  e->on_challenge = Callback(env, callbacks, "challenge", false);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    delete e;
    return nullptr;
  }
  e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epoll_fd < 0) {
    napi_throw_error(env, nullptr, SyscallError("epoll_create1", errno, "").c_str());
    delete e;
    return nullptr;
  }
  napi_get_uv_event_loop(env, &e->loop);
  uv_poll_init(e->loop, &e->poll, e->epoll_fd);
  e->poll.data = e;
  uv_poll_start(&e->poll, UV_READABLE, OnEpoll);
  UpdateRef(e);

  napi_value obj;
  napi_create_object(env, &obj);
  napi_property_descriptor methods[] = {
      {"listen", nullptr, Listen, nullptr, nullptr, nullptr, napi_default, e},
      {"unlisten", nullptr, Unlisten, nullptr, nullptr, nullptr, napi_default, e},
      {"setContext", nullptr, SetContext, nullptr, nullptr, nullptr, napi_default, e},
      {"connectPlain", nullptr, ConnectPlain, nullptr, nullptr, nullptr, napi_default, e},
      {"connectTls", nullptr, ConnectTls, nullptr, nullptr, nullptr, napi_default, e},
      {"verdict", nullptr, Verdict, nullptr, nullptr, nullptr, napi_default, e},
      {"pipe", nullptr, Pipe, nullptr, nullptr, nullptr, napi_default, e},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, e},
  };
  napi_define_properties(env, obj, sizeof methods / sizeof methods[0], methods);
  napi_create_reference(env, obj, 1, &e->self);
  napi_value name;
  napi_create_string_utf8(env, "ghostunnel:engine", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, obj, name, &e->async_context);
  napi_add_env_cleanup_hook(env, Cleanup, e);
  return obj;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"createEngine", nullptr, CreateEngine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"createContext", nullptr, CreateContext, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 2, fns);
  napi_set_named_property(env, exports, "syscalls", SyscallTable(env));
  return exports;
}

}  // namespace

}  // namespace gt

NAPI_MODULE_INIT() { return gt::Init(env, exports); }
