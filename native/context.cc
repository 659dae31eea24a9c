// TLS contexts for the data plane, built from a description the credential store makes (the same
// PEM, settings and ticket keys its Node.js SecureContext is built from, and validated with).
#include "engine.h"
#include "values.h"

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <mutex>

// Built against older OpenSSL headers (a Node.js 22 install's), the options still reach the
// OpenSSL 3.5 of the Node.js 24 that runs the daemon: their bits are the same in every 3.x.
#ifndef SSL_OP_NO_TX_CERTIFICATE_COMPRESSION
#define SSL_OP_NO_TX_CERTIFICATE_COMPRESSION SSL_OP_BIT(32)
#define SSL_OP_NO_RX_CERTIFICATE_COMPRESSION SSL_OP_BIT(33)
#endif

namespace gt {

namespace {

int connection_index = -1;
std::once_flag index_once;

/** The last OpenSSL error as Node words it (its reason string), for errors thrown to JavaScript. */
std::string OpenSslError(const char* what) {
  unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  ERR_clear_error();
  return std::string(what) + (reason ? std::string(": ") + reason : std::string());
}

struct Builder {
  napi_env env;
  napi_value desc;
  std::string error;

  /** The description's field (undefined when absent). */
  napi_value Get(const char* name) {
    napi_value v;
    napi_get_named_property(env, desc, name, &v);
    return v;
  }
  bool Has(const char* name) {
    napi_valuetype t;
    napi_typeof(env, Get(name), &t);
    return t != napi_undefined && t != napi_null;
  }
  std::string String(const char* name) { return ToString(env, Get(name)); }
  int32_t Int(const char* name, int32_t fallback) { return Has(name) ? ToInt(env, Get(name)) : fallback; }
  bool Bool(const char* name) { return ToBool(env, Get(name)); }
  std::vector<std::string> Strings(const char* name) { return ToStrings(env, Get(name)); }
  bool Fail(const std::string& message) {
    error = message;
    return false;
  }
};

/** Every certificate in a PEM text, in order. */
bool ReadCertificates(const std::string& pem, std::vector<X509*>* out) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  for (;;) {
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (x == nullptr) break;
    out->push_back(x);
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the text reads as "no start line"
  return !out->empty();
}

bool UseIdentity(Builder& b, SSL_CTX* ctx) {
  if (!b.Has("chain")) return true;
  std::vector<X509*> chain;
  if (!ReadCertificates(b.String("chain"), &chain)) return b.Fail("no certificate in the chain");
  bool ok = SSL_CTX_use_certificate(ctx, chain[0]) == 1;
  for (size_t i = 1; ok && i < chain.size(); i++) ok = SSL_CTX_add1_chain_cert(ctx, chain[i]) == 1;
  for (X509* x : chain) X509_free(x);
  if (!ok) return b.Fail(OpenSslError("using the certificate chain"));

  EVP_PKEY* key = nullptr;
  if (b.Has("key")) {
    std::string pem = b.String("key");
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (key == nullptr) return b.Fail(OpenSslError("reading the private key"));
  } else if (b.Has("engine")) {
    // A key that stays on a PKCS#11 token, through OpenSSL's engine, as Node's privateKeyEngine.
    std::string id = b.String("engine"), uri = b.String("keyUri");
    ENGINE* e = ENGINE_by_id(id.c_str());
    if (e == nullptr) return b.Fail(OpenSslError(("loading the OpenSSL engine " + id).c_str()));
    if (ENGINE_init(e) != 1) {
      ENGINE_free(e);
      return b.Fail(OpenSslError(("initializing the OpenSSL engine " + id).c_str()));
    }
    key = ENGINE_load_private_key(e, uri.c_str(), nullptr, nullptr);
    ENGINE_finish(e);
    ENGINE_free(e);
    if (key == nullptr) return b.Fail(OpenSslError("loading the private key from the token"));
  } else {
    return b.Fail("a certificate chain needs a key");
  }
  ok = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  return ok ? true : b.Fail(OpenSslError("using the private key"));
}

bool UseTrust(Builder& b, SSL_CTX* ctx) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  bool names = b.Bool("caNames");
  for (const std::string& pem : b.Strings("cas")) {
    std::vector<X509*> certs;
    ReadCertificates(pem, &certs);
    for (X509* x : certs) {
      bool ok = X509_STORE_add_cert(store, x) == 1;
      // Names in the CertificateRequest, as Node's `ca` option adds them.
      if (ok && names) ok = SSL_CTX_add_client_CA(ctx, x) == 1;
      X509_free(x);
      if (!ok) {
        // The same CA twice is no error.
        unsigned long code = ERR_peek_last_error();
        if (ERR_GET_REASON(code) != X509_R_CERT_ALREADY_IN_HASH_TABLE) return b.Fail(OpenSslError("adding a CA certificate"));
        ERR_clear_error();
      }
    }
  }
  return true;
}

/**
 * Per ClientHello (server contexts): a TLS-ALPN-01 validation gets the challenge context, and a
 * client that cannot resume (no psk_key_exchange_modes, so no use for tickets) gets no session
 * ticket, which saves a sixth of a handshake's cost; others get one, as from Go.
 */
int OnClientHello(SSL* ssl, int* alert, void*) {
  const unsigned char* data;
  size_t len;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk_kex_modes, &data, &len) != 1) SSL_set_num_tickets(ssl, 0);
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &data, &len) != 1) return SSL_CLIENT_HELLO_SUCCESS;
  // ALPN: a 2-byte list length, then length-prefixed names. Exactly ["acme-tls/1"] is a validation.
  static const unsigned char kAcme[] = {0, 11, 10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
  if (len != sizeof kAcme || memcmp(data, kAcme, len) != 0) return SSL_CLIENT_HELLO_SUCCESS;
  Connection* c = ConnectionOf(ssl);
  std::string name;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &data, &len) == 1 && len > 5 && data[2] == TLSEXT_NAMETYPE_host_name) {
    size_t n = (static_cast<size_t>(data[3]) << 8) | data[4];
    if (5 + n <= len) name.assign(reinterpret_cast<const char*>(data + 5), n);
  }
  SSL_CTX* challenge = c == nullptr ? nullptr : AskChallenge(c, name);
  if (challenge == nullptr) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  SSL_set_SSL_CTX(ssl, challenge);
  SSL_CTX_free(challenge);  // the reference the question held; the SSL holds its own now
  SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
  SSL_set_num_tickets(ssl, SSL_CTX_get_num_tickets(challenge));
  c->challenge = true;
  return SSL_CLIENT_HELLO_SUCCESS;
}

void FreeAlpn(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(ptr); }

/** ex_data slot of a server context holding its ALPN list in wire format. */
int AlpnIndex() {
  static std::once_flag once;
  static int index = -1;
  std::call_once(once, [] { index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeAlpn); });
  return index;
}

/** Server contexts with `alpn`: select the first of ours the client offers (acme-tls/1 for challenges). */
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen, void* arg) {
  auto* ours = static_cast<std::string*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(ours->data()), static_cast<unsigned int>(ours->size()), in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

bool Configure(Builder& b, SSL_CTX* ctx, bool server) {
  // No compression, no renegotiation (Go has neither), an EOF without close_notify is an ordinary end.
  // No certificate compression either (RFC 8879, on by default since OpenSSL 3.2): an OpenSSL peer
  // would compress its certificate for every handshake, about 3 ms of its CPU, to save a few
  // hundred bytes on a connection that is local or long-lived; Node.js and Go do not offer it.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_SSLv3 | SSL_OP_NO_TX_CERTIFICATE_COMPRESSION | SSL_OP_NO_RX_CERTIFICATE_COMPRESSION);
  // Partial writes so that a full socket never stalls a whole buffer; OpenSSL's buffers go back to
  // the allocator while a connection is idle (about 34 KiB per connection).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // One read() takes up to four records, for bulk transfers.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, 4 * SSL3_RT_MAX_PLAIN_LENGTH);
  if (SSL_CTX_set_min_proto_version(ctx, b.Int("minVersion", TLS1_2_VERSION)) != 1 || SSL_CTX_set_max_proto_version(ctx, b.Int("maxVersion", TLS1_3_VERSION)) != 1) {
    return b.Fail(OpenSslError("setting the TLS versions"));
  }
  std::string ciphers = b.String("ciphers"), suites = b.String("suites"), groups = b.String("groups");
  if (!ciphers.empty() && SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) return b.Fail(OpenSslError("setting the cipher suites"));
  if (!suites.empty() && SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) return b.Fail(OpenSslError("setting the TLS 1.3 cipher suites"));
  if (!groups.empty() && SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) return b.Fail(OpenSslError("setting the key exchange groups"));
  if (!server) {
    VerifyPeers(ctx, SSL_VERIFY_PEER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return true;
  }
  // A client without a certificate gets OpenSSL's alert (certificate_required, or handshake_failure in TLS 1.2).
  VerifyPeers(ctx, b.Bool("requireCertificate") ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE);
  std::string id_context = b.String("sessionIdContext");
  if (!id_context.empty()) SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(id_context.data()), static_cast<unsigned int>(id_context.size()));
  // Resumption by ticket only (keys shared by every loop of the process), no session cache.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, static_cast<size_t>(b.Int("tickets", 1)));
  if (b.Has("ticketKeys")) {
    void* keys;
    size_t len;
    napi_get_buffer_info(b.env, b.Get("ticketKeys"), &keys, &len);
    if (SSL_CTX_set_tlsext_ticket_keys(ctx, keys, static_cast<long>(len)) != 1) return b.Fail("ticketKeys must be 80 bytes");
  }
  SSL_CTX_set_client_hello_cb(ctx, OnClientHello, nullptr);
  std::vector<std::string> alpn = b.Strings("alpn");
  if (!alpn.empty()) {
    auto* wire = new std::string();
    for (const std::string& p : alpn) wire->append(1, static_cast<char>(p.size())).append(p);
    // Lives as long as the context, which a connection still handshaking may hold after its
    // JavaScript object is gone: OpenSSL frees it with the context.
    SSL_CTX_set_ex_data(ctx, AlpnIndex(), wire);
    SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, wire);
  }
  return true;
}

void FreeContext(napi_env, void* data, void*) { SSL_CTX_free(static_cast<SSL_CTX*>(data)); }

const napi_type_tag kContextTag = {0x6768'6f73'7475'6e6eULL, 0x6c2d'7473'2d63'7478ULL};

}  // namespace

int ConnectionIndex() {
  std::call_once(index_once, [] { connection_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr); });
  return connection_index;
}

Connection* ConnectionOf(const SSL* ssl) { return static_cast<Connection*>(SSL_get_ex_data(ssl, ConnectionIndex())); }

/** createContext({ server, chain?, key? | engine+keyUri?, cas, caNames, requireCertificate, minVersion, maxVersion, ciphers, suites, groups, sessionIdContext, ticketKeys?, tickets?, alpn? }) */
napi_value CreateContext(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value desc;
  napi_get_cb_info(env, info, &argc, &desc, nullptr, nullptr);
  Builder b{env, desc, {}};
  bool server = b.Bool("server");
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) {
    napi_throw_error(env, nullptr, OpenSslError("creating a TLS context").c_str());
    return nullptr;
  }
  if (!Configure(b, ctx, server) || !UseIdentity(b, ctx) || !UseTrust(b, ctx)) {
    FreeContext(env, ctx, nullptr);
    napi_throw_error(env, nullptr, b.error.c_str());
    return nullptr;
  }
  napi_value obj;
  napi_create_object(env, &obj);
  napi_wrap(env, obj, ctx, FreeContext, nullptr, nullptr);
  napi_type_tag_object(env, obj, &kContextTag);
  return obj;
}

SSL_CTX* UnwrapContext(napi_env env, napi_value value) {
  bool ours = false;
  napi_valuetype t;
  napi_typeof(env, value, &t);
  if (t == napi_object) napi_check_object_type_tag(env, value, &kContextTag, &ours);
  if (!ours) {
    napi_throw_type_error(env, nullptr, "expected a context made by createContext()");
    return nullptr;
  }
  void* ctx = nullptr;
  napi_unwrap(env, value, &ctx);
  return static_cast<SSL_CTX*>(ctx);
}

}  // namespace gt
