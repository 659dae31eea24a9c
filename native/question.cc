// Asking JavaScript from inside a TLS handshake. Some decisions fall in the middle of OpenSSL's
// handshake: whether the peer's certificate is admitted (both modes, full handshakes and resumed
// sessions) and which certificate answers a TLS-ALPN-01 validation. A refusal must be a TLS alert
// sent there and then, and a verdict may take a while (an OPA policy on a worker thread).
//
// Every handshake runs as an OpenSSL async job (SSL_MODE_ASYNC), on a stack of its own. A callback
// that needs an answer records its question in the Connection and pauses the job:
// SSL_do_handshake returns SSL_ERROR_WANT_ASYNC to the engine, which asks JavaScript on the loop's
// own stack (JavaScript never runs on a job's stack), then resumes the job where it paused, at once
// or when the answer comes. SSL_set_retry_verify would do for a client alone: OpenSSL ignores it on
// a server.
#include <dlfcn.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mutex>

#include "engine.h"

namespace gt {

namespace {

/** A job's stack. A handshake uses a few tens of KiB; pages never touched are never resident. */
constexpr size_t kStackSize = 256 * 1024;

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

/** Stacks with a guard page below them: an overflow faults instead of writing over the heap. */
void* AllocateStack(size_t* size) {
  size_t page = PageSize();
  void* base = mmap(nullptr, kStackSize + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  mprotect(base, page, PROT_NONE);
  *size = kStackSize;
  return static_cast<char*>(base) + page;
}

void FreeStack(void* stack) {
  if (stack != nullptr) munmap(static_cast<char*>(stack) - PageSize(), kStackSize + PageSize());
}

using SetMemFunctions = int (*)(void* (*)(size_t*), void (*)(void*));

/** Waits inside the job for the answer; false when there is no job to pause (the question cannot be asked). */
bool Pause(Connection* c, Question q) {
  if (ASYNC_get_current_job() == nullptr) return false;
  c->asking.question = q;
  c->asking.verdict = kPending;
  // The engine reads SSL_get_error on its side of the pause: nothing may be left in this thread's
  // error queue, or the pause would read as a failure.
  ERR_clear_error();
  bool resumed = ASYNC_pause_job() == 1;
  c->asking.question = Question::None;
  return resumed;
}

Watch* TlsWatch(Connection* c) { return c->mode == Mode::Server ? &c->accepted : &c->dialed; }

}  // namespace

bool PrepareQuestions() {
  static std::once_flag once;
  std::call_once(once, [] {
    // OpenSSL 3.2 and later take the stack allocator; the headers the addon may be built with are
    // older, so it is looked up in the running OpenSSL (Node's). Without it, OpenSSL's own 32 KiB.
    auto set = reinterpret_cast<SetMemFunctions>(dlsym(RTLD_DEFAULT, "ASYNC_set_mem_functions"));
    if (set != nullptr) set(AllocateStack, FreeStack);
  });
  return ASYNC_is_capable() == 1;
}

int AskVerdict(Connection* c, X509* cert, long chain_error, bool resumed) {
  X509_up_ref(cert);
  c->asking.cert = cert;
  c->asking.chain_error = chain_error;
  c->asking.resumed = resumed;
  bool answered = Pause(c, Question::Verify);
  X509_free(c->asking.cert);
  c->asking.cert = nullptr;
  // Fails closed: a question that could not be asked refuses the peer.
  return answered && c->asking.verdict != kPending ? c->asking.verdict : SSL_AD_INTERNAL_ERROR;
}

/** The context comes with a reference the caller releases. */
SSL_CTX* AskChallenge(Connection* c, const std::string& server_name) {
  c->asking.server_name = server_name;
  c->asking.challenge_context = nullptr;
  bool answered = Pause(c, Question::Challenge);
  SSL_CTX* context = c->asking.challenge_context;
  c->asking.challenge_context = nullptr;
  if (!answered && context != nullptr) SSL_CTX_free(context);
  return answered ? context : nullptr;
}

bool PutQuestion(Connection* c) {
  switch (c->asking.question) {
    case Question::Verify:
      EmitVerify(c);
      break;
    case Question::Challenge:
      EmitChallenge(c);
      c->asking.verdict = kAdmit;
      break;
    case Question::None:
      // A pause that is not ours (none is expected): resume it.
      return true;
  }
  if (c->phase == Phase::Closed) return false;
  if (c->asking.verdict != kPending) return true;
  // The answer comes later (Answer); meanwhile only a hang-up of the peer matters.
  c->phase = Phase::AwaitVerdict;
  SetInterest(c->engine, TlsWatch(c), 0);
  return false;
}

bool Answer(Connection* c, int verdict) {
  if (c->asking.question != Question::Verify || c->asking.verdict != kPending) return false;
  c->asking.verdict = verdict;
  // Given while JavaScript was still being asked (PutQuestion goes on), or later: resume here.
  if (c->phase == Phase::AwaitVerdict) {
    c->phase = c->mode == Mode::Server ? Phase::Handshake : Phase::ClientHandshake;
    DriveHandshake(c);
  }
  return true;
}

void AbandonQuestion(Connection* c) {
  if (c->ssl == nullptr || SSL_waiting_for_async(c->ssl) != 1) return;
  // The job must run to its end to give back its stack: refused, its alert written to nowhere.
  SSL_set0_wbio(c->ssl, BIO_new(BIO_s_null()));
  c->asking.verdict = SSL_AD_INTERNAL_ERROR;
  if (c->asking.challenge_context != nullptr) SSL_CTX_free(c->asking.challenge_context);
  c->asking.challenge_context = nullptr;
  while (SSL_do_handshake(c->ssl) < 0 && SSL_get_error(c->ssl, -1) == SSL_ERROR_WANT_ASYNC) {
  }
  ERR_clear_error();
}

}  // namespace gt
