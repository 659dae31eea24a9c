// Verifying the peer's certificate, inside the handshake. OpenSSL checks the chain and records its
// verdict without stopping; then JavaScript decides (src/tunnel/), and a refusal aborts the
// handshake with the alert JavaScript chose: the peer sees a TLS alert, gets no session ticket, and
// in client mode never receives our certificate or Finished. A resumed session presents no
// certificate: the one it was established with is decided again, under the rules current now, when
// its ticket is opened, and one that is no longer admitted falls back to a full handshake.
//
// A context remembers the chains that passed, so that a peer reconnecting with the same
// certificates skips chain building and the issuers' signature checks, about a ninth of a full mTLS
// handshake's CPU. Why remembering is sound: with these contexts X509_verify_cert depends on the
// presented chain, the context's trust store and the time, nothing else. The store is filled once,
// when the context is made (a reload makes a new context, with an empty memo); there are no CRLs and
// no per-connection verification parameters (host names are checked in JavaScript). So an entry
// keyed by the exact bytes of the presented chain holds for as long as every certificate of the
// chain that was built is within its validity period, and is looked up only then. Failures are not
// remembered.
#include "engine.h"

#include <openssl/x509.h>

#include <ctime>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace gt {

namespace {

/** Whether the chain being verified on this thread met an error; set by RecordAndGoOn. */
thread_local bool chain_failed = false;

int RecordAndGoOn(int ok, X509_STORE_CTX*) {
  if (ok != 1) chain_failed = true;
  return 1;
}

/** Chains that passed, by the bytes the peer presented, with the times between which that holds. */
class VerifiedChains {
 public:
  bool Holds(const std::string& chain, time_t now) {
    std::lock_guard<std::mutex> guard(lock_);
    auto it = windows_.find(chain);
    return it != windows_.end() && now >= it->second.from && now < it->second.until;
  }

  void Add(std::string chain, time_t from, time_t until) {
    std::lock_guard<std::mutex> guard(lock_);
    if (windows_.count(chain) != 0) return;
    // Oldest first out: a bounded memo (at most a few hundred KiB) for any number of peers.
    if (order_.size() >= kEntries) {
      windows_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(chain);
    windows_.emplace(std::move(chain), Window{from, until});
  }

 private:
  static constexpr size_t kEntries = 256;
  struct Window {
    time_t from;
    time_t until;
  };
  // An SSL_CTX may serve several threads, as OpenSSL allows; each --workers thread builds its own
  // today, so the lock is uncontended.
  std::mutex lock_;
  std::unordered_map<std::string, Window> windows_;
  std::deque<std::string> order_;
};

/**
 * The DER of every certificate the peer sent, in order: libssl hands X509_verify_cert the whole
 * chain, leaf first, as the untrusted list. Empty (nothing to remember) if one cannot be encoded.
 */
std::string PresentedChain(X509_STORE_CTX* store_ctx) {
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store_ctx);
  std::string bytes;
  for (int i = 0; sent != nullptr && i < sk_X509_num(sent); i++) {
    X509* x = sk_X509_value(sent, i);
    int len = i2d_X509(x, nullptr);
    if (len <= 0) return {};
    size_t at = bytes.size();
    bytes.resize(at + static_cast<size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(&bytes[at]);
    if (i2d_X509(x, &p) != len) return {};
  }
  return bytes;
}

bool ToTime(const ASN1_TIME* t, time_t* out) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return false;
  *out = timegm(&tm);
  return true;
}

/** The latest notBefore and the earliest notAfter of a built chain. */
bool ValidityOf(STACK_OF(X509)* chain, time_t* from, time_t* until) {
  int n = chain == nullptr ? 0 : sk_X509_num(chain);
  for (int i = 0; i < n; i++) {
    X509* x = sk_X509_value(chain, i);
    time_t not_before, not_after;
    if (!ToTime(X509_get0_notBefore(x), &not_before) || !ToTime(X509_get0_notAfter(x), &not_after)) return false;
    if (i == 0 || not_before > *from) *from = not_before;
    if (i == 0 || not_after < *until) *until = not_after;
  }
  return n > 0;
}

/** OpenSSL's own verdict on the presented chain: a remembered pass, or the real check. */
void CheckChain(X509_STORE_CTX* store_ctx, VerifiedChains* memo) {
  std::string presented = PresentedChain(store_ctx);
  if (!presented.empty() && memo->Holds(presented, time(nullptr))) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
    return;
  }
  chain_failed = false;
  int ok = X509_verify_cert(store_ctx);
  time_t from = 0, until = 0;
  if (ok == 1 && !chain_failed && X509_STORE_CTX_get_error(store_ctx) == X509_V_OK && !presented.empty() &&
      ValidityOf(X509_STORE_CTX_get0_chain(store_ctx), &from, &until)) {
    memo->Add(std::move(presented), from, until);
  }
}

/**
 * The verification error that makes OpenSSL send `alert` (ssl_x509err2alert): JavaScript picks the
 * alert, as Go would send it; OpenSSL only knows how to send one for a verification error.
 */
long ErrorForAlert(int alert) {
  switch (alert) {
    case SSL_AD_UNKNOWN_CA:
      return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    case SSL_AD_CERTIFICATE_EXPIRED:
      return X509_V_ERR_CERT_HAS_EXPIRED;
    case SSL_AD_INTERNAL_ERROR:
      return X509_V_ERR_UNSPECIFIED;
    default:
      return X509_V_ERR_CERT_REJECTED;  // bad_certificate
  }
}

/** In place of X509_verify_cert for a context's handshakes: the chain's verdict, then JavaScript's. */
int VerifyPeer(X509_STORE_CTX* store_ctx, void* arg) {
  CheckChain(store_ctx, static_cast<VerifiedChains*>(arg));
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  Connection* c = ssl == nullptr ? nullptr : ConnectionOf(ssl);
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  int verdict = c == nullptr || leaf == nullptr ? SSL_AD_INTERNAL_ERROR : AskVerdict(c, leaf, X509_STORE_CTX_get_error(store_ctx), false);
  if (verdict == kAdmit) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
    return 1;
  }
  X509_STORE_CTX_set_error(store_ctx, ErrorForAlert(verdict));
  return 0;
}

/**
 * A session ticket was opened (server): the session resumes only if its peer is still admitted.
 * Otherwise the ticket is ignored, and the full handshake that follows asks for a certificate.
 */
SSL_TICKET_RETURN OpenedTicket(SSL* ssl, SSL_SESSION* session, const unsigned char*, size_t, SSL_TICKET_STATUS status, void*) {
  switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW:
      break;
    case SSL_TICKET_FATAL_ERR_MALLOC:
    case SSL_TICKET_FATAL_ERR_OTHER:
      return SSL_TICKET_RETURN_ABORT;
    default:
      return SSL_TICKET_RETURN_IGNORE_RENEW;
  }
  Connection* c = ConnectionOf(ssl);
  X509* peer = SSL_SESSION_get0_peer(session);
  if (c == nullptr || peer == nullptr) return SSL_TICKET_RETURN_IGNORE_RENEW;
  // Its chain passed when the ticket was issued, under the same trust store (a reload changes the
  // ticket keys); what time may have changed since is the leaf's validity, as Go checks it.
  long error = X509_cmp_current_time(X509_get0_notAfter(peer)) < 0    ? X509_V_ERR_CERT_HAS_EXPIRED
               : X509_cmp_current_time(X509_get0_notBefore(peer)) > 0 ? X509_V_ERR_CERT_NOT_YET_VALID
                                                                        : X509_V_OK;
  if (AskVerdict(c, peer, error, true) != kAdmit) return SSL_TICKET_RETURN_IGNORE_RENEW;
  return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
}

void FreeMemo(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<VerifiedChains*>(ptr); }

int memo_index = -1;
std::once_flag memo_once;

}  // namespace

void VerifyPeers(SSL_CTX* ctx, int mode) {
  if (mode == SSL_VERIFY_NONE) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_CTX_set_verify(ctx, mode, RecordAndGoOn);
  // The memo lives as long as the context itself (connections hold references to it), not as long
  // as its JavaScript object: OpenSSL frees it with the context.
  std::call_once(memo_once, [] { memo_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeMemo); });
  auto* memo = new VerifiedChains();
  SSL_CTX_set_ex_data(ctx, memo_index, memo);
  SSL_CTX_set_cert_verify_callback(ctx, VerifyPeer, memo);
  SSL_CTX_set_session_ticket_cb(ctx, nullptr, OpenedTicket, nullptr);
}

}  // namespace gt
