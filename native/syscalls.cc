// Thin wrappers: each returns what the system call returns (-1 on failure, the reason then read
// with errno()), so that src/sys/linux.ts words the errors as it does over koffi.
#include "syscalls.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace gt {

namespace {

thread_local int last_errno = 0;

template <size_t N>
bool Argv(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  return napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == N;
}

int32_t Int(napi_env env, napi_value v) {
  int32_t n = -1;
  napi_get_value_int32(env, v, &n);
  return n;
}

/** A Buffer's bytes; an argument that is not one reads as empty. */
struct Bytes {
  void* data = nullptr;
  size_t len = 0;
  Bytes(napi_env env, napi_value v) {
    bool is_buffer = false;
    if (napi_is_buffer(env, v, &is_buffer) == napi_ok && is_buffer) napi_get_buffer_info(env, v, &data, &len);
  }
};

napi_value Result(napi_env env, long result) {
  if (result < 0) last_errno = errno;
  napi_value v;
  napi_create_double(env, static_cast<double>(result), &v);
  return v;
}

napi_value Fcntl(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  return Result(env, fcntl(Int(env, a[0]), Int(env, a[1]), Int(env, a[2])));
}

napi_value Close(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  return Result(env, close(Int(env, a[0])));
}

napi_value Socket(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  return Result(env, socket(Int(env, a[0]), Int(env, a[1]), Int(env, a[2])));
}

napi_value Bind(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  Bytes addr(env, a[1]);
  return Result(env, bind(Int(env, a[0]), static_cast<const sockaddr*>(addr.data), static_cast<socklen_t>(addr.len)));
}

napi_value Listen(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  return Result(env, listen(Int(env, a[0]), Int(env, a[1])));
}

napi_value Setsockopt(napi_env env, napi_callback_info info) {
  napi_value a[4];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  Bytes value(env, a[3]);
  return Result(env, setsockopt(Int(env, a[0]), Int(env, a[1]), Int(env, a[2]), value.data, static_cast<socklen_t>(value.len)));
}

napi_value Connect(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  Bytes addr(env, a[1]);
  return Result(env, connect(Int(env, a[0]), static_cast<const sockaddr*>(addr.data), static_cast<socklen_t>(addr.len)));
}

napi_value Send(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  Bytes data(env, a[1]);
  return Result(env, send(Int(env, a[0]), data.data, data.len, Int(env, a[2])));
}

/** getsockname(fd, buffer): the address's length, or -1. */
napi_value Getsockname(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!Argv(env, info, a)) return Result(env, (errno = EINVAL, -1));
  Bytes addr(env, a[1]);
  socklen_t len = static_cast<socklen_t>(addr.len);
  int r = getsockname(Int(env, a[0]), static_cast<sockaddr*>(addr.data), &len);
  return Result(env, r < 0 ? r : static_cast<long>(len));
}

/** The interface's index, 0 when there is none of that name. */
napi_value IfNameToIndex(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!Argv(env, info, a)) return Result(env, 0);
  size_t len = 0;
  napi_get_value_string_utf8(env, a[0], nullptr, 0, &len);
  std::string name(len, '\0');
  napi_get_value_string_utf8(env, a[0], name.data(), len + 1, &len);
  return Result(env, static_cast<long>(if_nametoindex(name.c_str())));
}

napi_value Errno(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, last_errno, &v);
  return v;
}

}  // namespace

napi_value SyscallTable(napi_env env) {
  napi_property_descriptor fns[] = {
      {"fcntl", nullptr, Fcntl, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"socket", nullptr, Socket, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bind", nullptr, Bind, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"listen", nullptr, Listen, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setsockopt", nullptr, Setsockopt, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"connect", nullptr, Connect, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"send", nullptr, Send, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getsockname", nullptr, Getsockname, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"ifNameToIndex", nullptr, IfNameToIndex, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"errno", nullptr, Errno, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value table;
  napi_create_object(env, &table);
  napi_define_properties(env, table, sizeof fns / sizeof fns[0], fns);
  return table;
}

}  // namespace gt
