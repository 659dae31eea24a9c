// Calls from the engine into JavaScript. The engine runs from libuv callbacks, outside any
// JavaScript frame: the first call of such a callback opens a callback scope (see Entry), and
// closing it at the end runs the promise jobs the JavaScript side queued, as Node does after
// every I/O callback. A call made while JavaScript is on the stack (it closed a connection, say)
// goes straight through.
#include <openssl/x509_vfy.h>

#include "engine.h"
#include "entry.h"
#include "values.h"

namespace gt {

namespace {

/** Calls a callback (after MayCallJs); an exception it throws goes to 'uncaughtException', as from any event handler. */
napi_value Call(Engine* e, napi_ref fn, size_t argc, const napi_value* argv) {
  napi_env env = e->env;
  napi_value f, recv, result = nullptr;
  napi_get_reference_value(env, fn, &f);
  napi_get_undefined(env, &recv);
  if (napi_call_function(env, recv, f, argc, argv, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
    return nullptr;
  }
  return result;
}

/** Node's names for certificate verification errors (err.code of authorizationError). */
const char* VerifyCode(long code) {
  switch (code) {
#define CASE(name) \
  case X509_V_ERR_##name: return #name;
    CASE(UNABLE_TO_GET_ISSUER_CERT)
    CASE(UNABLE_TO_GET_CRL)
    CASE(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    CASE(UNABLE_TO_DECRYPT_CRL_SIGNATURE)
    CASE(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)
    CASE(CERT_SIGNATURE_FAILURE)
    CASE(CRL_SIGNATURE_FAILURE)
    CASE(CERT_NOT_YET_VALID)
    CASE(CERT_HAS_EXPIRED)
    CASE(CRL_NOT_YET_VALID)
    CASE(CRL_HAS_EXPIRED)
    CASE(ERROR_IN_CERT_NOT_BEFORE_FIELD)
    CASE(ERROR_IN_CERT_NOT_AFTER_FIELD)
    CASE(ERROR_IN_CRL_LAST_UPDATE_FIELD)
    CASE(ERROR_IN_CRL_NEXT_UPDATE_FIELD)
    CASE(OUT_OF_MEM)
    CASE(DEPTH_ZERO_SELF_SIGNED_CERT)
    CASE(SELF_SIGNED_CERT_IN_CHAIN)
    CASE(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    CASE(UNABLE_TO_VERIFY_LEAF_SIGNATURE)
    CASE(CERT_CHAIN_TOO_LONG)
    CASE(CERT_REVOKED)
    CASE(INVALID_CA)
    CASE(PATH_LENGTH_EXCEEDED)
    CASE(INVALID_PURPOSE)
    CASE(CERT_UNTRUSTED)
    CASE(CERT_REJECTED)
    CASE(HOSTNAME_MISMATCH)
#undef CASE
  }
  return "UNSPECIFIED";
}

/** A buffer holding the certificate's DER, or null. */
napi_value JsCertificate(napi_env env, X509* cert) {
  int len = i2d_X509(cert, nullptr);
  void* data;
  napi_value der;
  if (len <= 0 || napi_create_buffer(env, static_cast<size_t>(len), &data, &der) != napi_ok) return JsNull(env);
  auto* p = static_cast<unsigned char*>(data);
  i2d_X509(cert, &p);
  return der;
}

}  // namespace

double EmitAccept(Connection* c, uint32_t listener, const std::string& remote, int remote_port, const std::string& local, int local_port) {
  Engine* e = c->engine;
  if (!MayCallJs(e)) return 0;
  napi_env env = e->env;
  napi_value argv[] = {JsNumber(env, c->id), JsNumber(env, listener), JsString(env, remote), JsNumber(env, remote_port), JsString(env, local), JsNumber(env, local_port)};
  napi_value r = Call(e, e->on_accept, 6, argv);
  double timeout = 0;
  if (r != nullptr) napi_get_value_double(env, r, &timeout);
  return timeout;
}

/** verify(id, verifyCode, verifyText, peerDer, resumed): a number is the verdict now; undefined, later. */
void EmitVerify(Connection* c) {
  Engine* e = c->engine;
  if (!MayCallJs(e)) return;
  napi_env env = e->env;
  Asking& a = c->asking;
  bool failed = a.chain_error != X509_V_OK;
  napi_value argv[] = {
      JsNumber(env, c->id),
      failed ? JsString(env, VerifyCode(a.chain_error)) : JsNull(env),
      failed ? JsString(env, X509_verify_cert_error_string(a.chain_error)) : JsNull(env),
      JsCertificate(env, a.cert),
      JsBool(env, a.resumed),
  };
  napi_value r = Call(e, e->on_verify, 5, argv);
  napi_valuetype t = napi_undefined;
  if (r != nullptr) napi_typeof(env, r, &t);
  // Answer() may have recorded it already, if JavaScript gave it through verdict().
  if (t == napi_number && a.verdict == kPending) a.verdict = ToInt(env, r);
}

/** handshake(id, version, sni, alpn, resumed, challenge) */
void EmitHandshake(Connection* c) {
  Engine* e = c->engine;
  if (!MayCallJs(e)) return;
  napi_env env = e->env;
  SSL* ssl = c->ssl;
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const unsigned char* alpn;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  napi_value argv[] = {
      JsNumber(env, c->id),
      JsString(env, SSL_get_version(ssl)),
      sni ? JsString(env, sni) : JsNull(env),
      alpn_len ? JsString(env, std::string(reinterpret_cast<const char*>(alpn), alpn_len)) : JsNull(env),
      JsBool(env, SSL_session_reused(ssl) == 1),
      JsBool(env, c->challenge),
  };
  Call(e, e->on_handshake, 6, argv);
}

void EmitPiping(Connection* c) {
  Engine* e = c->engine;
  if (!MayCallJs(e)) return;
  napi_value argv[] = {JsNumber(e->env, c->id)};
  Call(e, e->on_piping, 1, argv);
}

/** end(id, kind, message, forwarded, returned, timedOut): byte counts are plaintext, each way. */
void EmitEnd(Connection* c, End kind, const std::string& message) {
  Engine* e = c->engine;
  if (!MayCallJs(e)) return;
  napi_env env = e->env;
  bool server = c->mode == Mode::Server;
  double forwarded = static_cast<double>(server ? c->plain_written : c->plain_read);
  double returned = static_cast<double>(server ? c->plain_read : c->plain_written);
  napi_value argv[] = {JsNumber(env, c->id), JsNumber(env, kind), message.empty() ? JsNull(env) : JsString(env, message), JsNumber(env, forwarded), JsNumber(env, returned), JsBool(env, c->timed_out)};
  Call(e, e->on_end, 6, argv);
}

void EmitAcceptError(Engine* e, uint32_t listener, int err) {
  if (!MayCallJs(e)) return;
  napi_env env = e->env;
  napi_value argv[] = {JsNumber(env, listener), JsString(env, uv_err_name(-err)), JsString(env, SyscallError("accept", err, ""))};
  Call(e, e->on_accept_error, 3, argv);
}

void EmitChallenge(Connection* c) {
  Engine* e = c->engine;
  if (e->on_challenge == nullptr || !MayCallJs(e)) return;
  napi_env env = e->env;
  napi_value argv[] = {JsNumber(env, c->id), JsString(env, c->asking.server_name)};
  napi_value r = Call(e, e->on_challenge, 2, argv);
  napi_valuetype t = napi_undefined;
  if (r != nullptr) napi_typeof(env, r, &t);
  if (t != napi_object) return;
  SSL_CTX* ctx = UnwrapContext(env, r);
  if (ctx == nullptr) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    return;
  }
  // Held until the handshake has switched to it: JavaScript may drop its object meanwhile.
  SSL_CTX_up_ref(ctx);
  c->asking.challenge_context = ctx;
}

}  // namespace gt
