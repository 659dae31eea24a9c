// Entering the engine from libuv: see callbacks.cc.
#pragma once

#include "engine.h"

namespace gt {

/**
 * Whether JavaScript may be called (not once the thread ends, Engine::quiet); opens the callback
 * scope first if a libuv callback of `e` is running and has not opened it yet.
 */
inline bool MayCallJs(Engine* e) {
  if (e->quiet) return false;
  Scope& s = e->scope;
  if (!s.entered || s.open) return true;
  napi_open_handle_scope(e->env, &s.handles);
  napi_value resource;
  napi_get_reference_value(e->env, e->self, &resource);
  napi_open_callback_scope(e->env, resource, e->async_context, &s.callback);
  s.open = true;
  return true;
}

/** Marks a libuv callback of the engine; JavaScript calls within it share one callback scope. */
class Entry {
 public:
  explicit Entry(Engine* e) : e_(e) { e->scope.entered = true; }
  ~Entry() {
    Scope& s = e_->scope;
    if (s.open) {
      napi_close_callback_scope(e_->env, s.callback);
      napi_close_handle_scope(e_->env, s.handles);
    }
    s = Scope{};
  }
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

 private:
  Engine* e_;
};

}  // namespace gt
