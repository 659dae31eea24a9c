// The few system calls the daemon's lifecycle needs beyond Node.js (src/sys/linux.ts), served by
// this addon, which the data plane loads anyway, instead of an FFI library.
#pragma once

#include <node_api.h>

namespace gt {

/** { fcntl, close, socket, bind, listen, setsockopt, connect, send, getsockname, ifNameToIndex, errno }. */
napi_value SyscallTable(napi_env env);

}  // namespace gt
