// Converting between JavaScript values and C++ ones, for every file of the addon. A value of the
// wrong type reads as the zero value: src/engine/native.ts is the only caller, and typed.
#pragma once

#include <string>
#include <vector>

#include "engine.h"

namespace gt {

inline int32_t ToInt(napi_env env, napi_value v) {
  int32_t n = 0;
  napi_get_value_int32(env, v, &n);
  return n;
}

inline double ToDouble(napi_env env, napi_value v) {
  double n = 0;
  napi_get_value_double(env, v, &n);
  return n;
}

inline bool ToBool(napi_env env, napi_value v) {
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

inline std::string ToString(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return {};
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, v, s.data(), len + 1, &len);
  return s;
}

inline std::vector<std::string> ToStrings(napi_env env, napi_value v) {
  std::vector<std::string> out;
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  if (!is_array) return out;
  uint32_t n = 0;
  napi_get_array_length(env, v, &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, v, i, &item);
    out.push_back(ToString(env, item));
  }
  return out;
}

inline napi_value JsString(napi_env env, const std::string& s) {
  napi_value v;
  napi_create_string_utf8(env, s.data(), s.size(), &v);
  return v;
}

inline napi_value JsNumber(napi_env env, double n) {
  napi_value v;
  napi_create_double(env, n, &v);
  return v;
}

inline napi_value JsBool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

inline napi_value JsNull(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

inline napi_value JsUndefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

}  // namespace gt
