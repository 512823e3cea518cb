#include "kernel/peer.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "base/helper_thread.h"
#include "base/log.h"
#include "kernel/process.h"

namespace elfuse::peer {
namespace {

// Live processes a run can have at once (a fork beyond is EAGAIN), and the
// answer bytes one request carries (a longer answer takes several).
constexpr int kSlots = 512;
constexpr uint32_t kChunk = 64u << 10;
constexpr uint64_t kMaxAnswer = 256ull << 20;
// How long a request waits for an answer in all, and between two looks at
// whether the target still lives.
constexpr auto kAnswerLimit = std::chrono::seconds(5);
constexpr int64_t kLookNs = 20'000'000;

// A slot's word: generation << 3 | state. Every claim of a slot makes a
// new generation, so a compare-exchange on an old word (a stale reclaim)
// fails.
enum State : uint32_t {
  kFree = 0,
  kForking = 1,   // reserved by `parent` for the child it is forking
  kStarting = 2,  // pid known, no server yet
  kLive = 3,      // the server answers
  kExiting = 4,   // the process is ending: requests are ENOENT
};
uint32_t state_of(uint32_t w) {
  return w & 7;
}
uint32_t with_state(uint32_t w, uint32_t s) {
  return (w & ~7u) | s;
}
uint32_t next_generation(uint32_t w, uint32_t s) {
  return (((w >> 3) + 1) << 3) | s;
}

// A slot's request word: sequence << 3 | phase. The requester posts
// (kIdle -> kPosted), the server takes (-> kTaken), then claims the answer
// area (-> kWriting) and publishes (-> kAnswered); the requester gives up
// only from kPosted or kTaken (or from kWriting once the server is dead),
// so a late server never writes into a later request's answer.
enum Phase : uint32_t { kIdle = 0, kPosted = 1, kTaken = 2, kWriting = 3, kAnswered = 4 };

struct alignas(64) Slot {
  std::atomic<uint32_t> word{0};
  std::atomic<int32_t> pid{0};
  std::atomic<int32_t> parent{0};  // kForking: the forking process
  std::atomic<int32_t> fd_floor{0};
  std::atomic<uint64_t> start_time{0};  // the host's starttime of pid (0: not known yet)
  std::atomic<int32_t> server_tid{0};
  std::atomic<uint32_t> doorbell{0};  // bumped by requesters; the server waits on it
  // The request this slot's process makes of another, and its answer.
  std::atomic<uint32_t> req{0};
  std::atomic<int32_t> req_target{0};
  std::atomic<uint32_t> req_query{0};
  std::atomic<uint32_t> req_file{0};
  std::atomic<int32_t> req_tid{0};
  std::atomic<uint32_t> req_thread_level{0};
  std::atomic<uint32_t> req_transfer{0};  // offset > 0: the first request's sequence
  std::atomic<uint64_t> req_offset{0};
  std::atomic<int32_t> resp_err{0};
  std::atomic<uint32_t> resp_len{0};
  std::atomic<uint64_t> resp_total{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct Registry {
  Slot slots[kSlots];
  unsigned char answers[kSlots][kChunk];  // the answer area of each slot's requests
};

Registry* g_reg = nullptr;
int g_self = -1;
Process* g_proc = nullptr;
bool g_server_started = false;
// One request at a time per process (the slot has one request area).
std::mutex* g_ask_mu = new std::mutex;

long futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t ns) {
  struct timespec ts {
    static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)
  };
  // Shared futexes: the words are in a MAP_SHARED region of several processes.
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected,
                 ns >= 0 ? &ts : nullptr, nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// ---- what the host says about a pid ----

struct HostStat {
  bool exists = false;
  char state = 0;
  int ppid = 0;
  uint64_t start = 0;  // field 22, starttime (clock ticks since boot)
};

// fs/proc/array.c do_task_stat: "pid (comm) S ppid ... starttime ...";
// comm may hold anything, so the fields start after the last ')'.
HostStat host_stat(int pid, int tid = 0) {
  HostStat h;
  std::string path = "/proc/" + std::to_string(pid);
  if (tid) path += "/task/" + std::to_string(tid);
  path += "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return h;
  char buf[1024];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return h;
  buf[n] = '\0';
  char* close = strrchr(buf, ')');
  if (!close || close[1] != ' ') return h;
  h.exists = true;
  h.state = close[2];
  char* p = close + 3;
  // Fields 4 (ppid) to 22 (starttime).
  for (int field = 4; field <= 22 && *p; field++) {
    while (*p == ' ') p++;
    unsigned long long v = strtoull(p, &p, 10);
    if (field == 4) h.ppid = static_cast<int>(v);
    if (field == 22) h.start = v;
  }
  return h;
}

}  // namespace

int host_tgid(int tid) {
  std::string path = "/proc/" + std::to_string(tid) + "/status";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* at = strstr(buf, "\nTgid:");
  return at ? atoi(at + 6) : 0;
}

namespace {

// Gone: no such pid, or the pid now names another process than the slot's.
bool gone(const Slot& s, int pid, const HostStat& h) {
  uint64_t want = s.start_time.load(std::memory_order_acquire);
  return !h.exists || (want != 0 && h.start != want);
}
bool dead(char state) {
  return state == 'Z' || state == 'X' || state == 'x';
}

uint64_t own_start_time() {
  return host_stat(static_cast<int>(getpid())).start;
}

// ---- the server ----

// An answer longer than one request carries, kept until its last piece
// is fetched or its requester asks anew (the server thread's own).
struct Transfer {
  int slot;
  uint32_t id;
  std::string text;
};
std::vector<Transfer>* g_transfers = new std::vector<Transfer>;

Result<std::string> answer(Process& proc, Query q, uint32_t file, int tid, bool thread_level) {
  // commit_exec replaces what these read.
  std::lock_guard view(proc.view_mu);
  int pid = proc.pid;
  switch (q) {
    case Query::kFile:
      return answer_file(proc, file, tid, thread_level);
    case Query::kTasks: {
      std::string out = std::to_string(pid) + "\n";
      std::lock_guard lock(proc.threads_mu);
      for (const auto& t : proc.threads)
        if (t && t->tid != pid) out += std::to_string(t->tid) + "\n";
      return out;
    }
    case Query::kExe:
      if (proc.exe_path.empty()) return Errno{ENOENT};
      return proc.exe_path;
  }
  return Errno{EINVAL};
}

void serve(Slot& r, int index, uint32_t posted) {
  uint32_t seq = posted & ~7u;
  uint32_t taken = seq | kTaken;
  if (!r.req.compare_exchange_strong(posted, taken, std::memory_order_acq_rel)) return;
  auto q = static_cast<Query>(r.req_query.load(std::memory_order_relaxed));
  uint32_t file = r.req_file.load(std::memory_order_relaxed);
  int tid = r.req_tid.load(std::memory_order_relaxed);
  bool level = r.req_thread_level.load(std::memory_order_relaxed) != 0;
  uint64_t offset = r.req_offset.load(std::memory_order_relaxed);
  uint32_t transfer = r.req_transfer.load(std::memory_order_relaxed);

  std::vector<Transfer>& kept = *g_transfers;
  auto it =
      std::find_if(kept.begin(), kept.end(), [&](const Transfer& t) { return t.slot == index; });
  int err = 0;
  const std::string* text = nullptr;
  std::string fresh;
  if (offset == 0) {
    if (it != kept.end()) kept.erase(it);
    Result<std::string> a = answer(*g_proc, q, file, tid, level);
    if (!a.ok()) {
      err = a.error();
    } else if (a->size() > kMaxAnswer) {
      err = EFBIG;
    } else if (a->size() > kChunk) {
      kept.push_back(Transfer{index, seq >> 3, std::move(*a)});
      text = &kept.back().text;
    } else {
      fresh = std::move(*a);
      text = &fresh;
    }
  } else if (it != kept.end() && it->id == transfer && offset <= it->text.size()) {
    text = &it->text;
  } else {
    err = EAGAIN;  // the requester starts over
  }
  uint64_t total = text ? text->size() : 0;
  uint64_t len = text ? std::min<uint64_t>(kChunk, total - offset) : 0;
  // The answer area is the requester's only while it still waits.
  if (r.req.compare_exchange_strong(taken, seq | kWriting, std::memory_order_acq_rel)) {
    if (len) memcpy(g_reg->answers[index], text->data() + offset, len);
    r.resp_err.store(err, std::memory_order_relaxed);
    r.resp_total.store(total, std::memory_order_relaxed);
    r.resp_len.store(static_cast<uint32_t>(len), std::memory_order_relaxed);
    r.req.store(seq | kAnswered, std::memory_order_release);
    futex_wake(&r.req);
  }
  if (text && text != &fresh && offset + len >= total) {
    auto done =
        std::find_if(kept.begin(), kept.end(), [&](const Transfer& t) { return t.slot == index; });
    if (done != kept.end()) kept.erase(done);
  }
}

void* server_main(void*) {
  // A table of its own, empty: what it opens never takes a number below
  // the floor in the guest's table, and it holds none of the guest's
  // descriptors (a pipe's write end kept here would keep its reader from
  // seeing EOF).
  if (::syscall(SYS_unshare, CLONE_FILES) == 0)
    ::syscall(SYS_close_range, 0, ~0u, 0);
  else
    log_error("peer server: unshare(CLONE_FILES): %s", strerror(errno));
  Slot& me = g_reg->slots[g_self];
  me.server_tid.store(static_cast<int>(gettid()), std::memory_order_release);
  uint32_t w = me.word.load(std::memory_order_acquire);
  if (state_of(w) == kStarting && me.word.compare_exchange_strong(w, with_state(w, kLive)))
    futex_wake(&me.word);
  const int pid = me.pid.load();
  for (;;) {
    uint32_t bell = me.doorbell.load(std::memory_order_acquire);
    for (int i = 0; i < kSlots; i++) {
      Slot& r = g_reg->slots[i];
      uint32_t rw = r.req.load(std::memory_order_acquire);
      if ((rw & 7) != kPosted || r.req_target.load(std::memory_order_relaxed) != pid) continue;
      serve(r, i, rw);
    }
    futex_wait(&me.doorbell, bell, -1);
  }
  return nullptr;
}

bool start_server() {
  if (g_server_started) return true;
  int err = start_helper_thread(server_main, nullptr, 256 << 10);
  if (err) {
    log_error("peer server: cannot create a host thread: %s", strerror(err));
    return false;
  }
  g_server_started = true;
  return true;
}

// ---- the requester ----

// The slot of live, starting or exiting process `pid`, or -1.
int slot_of(int pid) {
  for (int i = 0; i < kSlots; i++) {
    Slot& s = g_reg->slots[i];
    uint32_t st = state_of(s.word.load(std::memory_order_acquire));
    if ((st == kStarting || st == kLive || st == kExiting) &&
        s.pid.load(std::memory_order_acquire) == pid)
      return i;
  }
  return -1;
}

bool any_forking() {
  for (int i = 0; i < kSlots; i++)
    if (state_of(g_reg->slots[i].word.load(std::memory_order_acquire)) == kForking) return true;
  return false;
}

// Why `pid` (in slot t) cannot answer now, or 0.
int cannot_answer(Slot& t, int pid) {
  if (state_of(t.word.load(std::memory_order_acquire)) != kLive ||
      t.pid.load(std::memory_order_acquire) != pid)
    return ENOENT;
  HostStat h = host_stat(pid);
  if (gone(t, pid, h) || dead(h.state)) return ENOENT;
  if (h.state == 'T' || h.state == 't') return EACCES;  // stopped or traced: no answer soon
  return 0;
}

bool server_gone(Slot& t, int pid) {
  HostStat h = host_stat(pid);
  if (gone(t, pid, h)) return true;
  int tid = t.server_tid.load(std::memory_order_acquire);
  if (tid == 0) return true;
  HostStat s = host_stat(pid, tid);
  return !s.exists || dead(s.state);
}

// One request and its answer: appends the piece at `offset` to `out` and
// returns the whole answer's length; *seq_out gets the request's sequence.
Result<uint64_t> request(int pid, Query q, uint32_t file, int tid, bool level, uint64_t offset,
                         uint32_t transfer, std::string& out, uint32_t* seq_out) {
  int ti = slot_of(pid);
  // A child whose parent has not written its pid yet.
  for (int waited = 0; ti < 0 && waited < 1000 && any_forking(); waited++) {
    usleep(1000);
    ti = slot_of(pid);
  }
  if (ti < 0) return Errno{ENOENT};
  Slot& t = g_reg->slots[ti];
  // A process between its fork and its server's start.
  for (int waited = 0; waited < 50; waited++) {
    uint32_t w = t.word.load(std::memory_order_acquire);
    if (state_of(w) != kStarting) break;
    HostStat h = host_stat(pid);
    if (gone(t, pid, h) || dead(h.state)) return Errno{ENOENT};
    futex_wait(&t.word, w, kLookNs);
  }
  if (int why = cannot_answer(t, pid)) return Errno{why};

  Slot& me = g_reg->slots[g_self];
  uint32_t seq = ((me.req.load(std::memory_order_relaxed) >> 3) + 1) << 3;
  me.req_target.store(pid, std::memory_order_relaxed);
  me.req_query.store(static_cast<uint32_t>(q), std::memory_order_relaxed);
  me.req_file.store(file, std::memory_order_relaxed);
  me.req_tid.store(tid, std::memory_order_relaxed);
  me.req_thread_level.store(level ? 1 : 0, std::memory_order_relaxed);
  me.req_offset.store(offset, std::memory_order_relaxed);
  me.req_transfer.store(transfer, std::memory_order_relaxed);
  me.req.store(seq | kPosted, std::memory_order_release);
  t.doorbell.fetch_add(1, std::memory_order_acq_rel);
  futex_wake(&t.doorbell);
  *seq_out = seq >> 3;

  auto deadline = std::chrono::steady_clock::now() + kAnswerLimit;
  for (;;) {
    uint32_t w = me.req.load(std::memory_order_acquire);
    if (w == (seq | kAnswered)) {
      int err = me.resp_err.load(std::memory_order_relaxed);
      uint64_t total = me.resp_total.load(std::memory_order_relaxed);
      uint32_t len = me.resp_len.load(std::memory_order_relaxed);
      if (!err && (len > kChunk || total > kMaxAnswer || offset + len > total)) err = EIO;
      if (!err) out.append(reinterpret_cast<const char*>(g_reg->answers[g_self]), len);
      me.req.store(seq | kIdle, std::memory_order_release);
      if (err) return Errno{err};
      return total;
    }
    futex_wait(&me.req, w, kLookNs);
    w = me.req.load(std::memory_order_acquire);
    if (w == (seq | kAnswered)) continue;
    int why = cannot_answer(t, pid);
    if (!why && std::chrono::steady_clock::now() > deadline) why = EACCES;
    if (!why) continue;
    uint32_t phase = w & 7;
    if (phase == kPosted || phase == kTaken) {
      if (me.req.compare_exchange_strong(w, seq | kIdle, std::memory_order_acq_rel))
        return Errno{why};
    } else if (phase == kWriting && server_gone(t, pid)) {
      me.req.store(seq | kIdle, std::memory_order_release);
      return Errno{why};
    }
  }
}

}  // namespace

void start_run(Process& proc) {
  void* m = mmap(nullptr, sizeof(Registry), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) fatal("cannot map the process registry: %s", strerror(errno));
  g_reg = new (m) Registry;
  g_proc = &proc;
  g_self = 0;
  Slot& s = g_reg->slots[0];
  s.pid.store(proc.pid, std::memory_order_relaxed);
  s.fd_floor.store(proc.fds.floor, std::memory_order_relaxed);
  s.start_time.store(own_start_time(), std::memory_order_relaxed);
  // No server until the first fork: nobody else can ask before that.
  s.word.store(next_generation(0, kStarting), std::memory_order_release);
}

Result<int> reserve_child_slot(Process& proc) {
  if (!g_reg) return Errno{EAGAIN};
  if (!start_server()) return Errno{EAGAIN};
  // First a free slot; then one whose process is gone; then a zombie's.
  for (int pass = 0; pass < 3; pass++) {
    for (int i = 0; i < kSlots; i++) {
      Slot& s = g_reg->slots[i];
      uint32_t w = s.word.load(std::memory_order_acquire);
      uint32_t st = state_of(w);
      if (pass == 0) {
        if (st != kFree) continue;
      } else if (st == kForking) {
        if (host_stat(s.parent.load()).exists) continue;
      } else if (st != kFree) {
        int pid = s.pid.load();
        HostStat h = host_stat(pid);
        bool reclaim = pass == 1 ? gone(s, pid, h) : !gone(s, pid, h) && dead(h.state);
        if (!reclaim || i == g_self) continue;
      }
      if (!s.word.compare_exchange_strong(w, next_generation(w, kForking))) continue;
      s.pid.store(0, std::memory_order_relaxed);
      s.start_time.store(0, std::memory_order_relaxed);
      s.server_tid.store(0, std::memory_order_relaxed);
      s.parent.store(proc.pid, std::memory_order_relaxed);
      s.fd_floor.store(proc.fds.floor, std::memory_order_relaxed);
      // A new sequence: a late server of the previous owner's request
      // cannot match it.
      uint32_t r = s.req.load(std::memory_order_relaxed);
      s.req.store(((r >> 3) + 1) << 3 | kIdle, std::memory_order_release);
      return i;
    }
  }
  return Errno{EAGAIN};
}

void child_forked(int slot, int pid) {
  if (!g_reg || slot < 0) return;
  Slot& s = g_reg->slots[slot];
  uint32_t w = s.word.load(std::memory_order_acquire);
  if (pid < 0) {
    if (state_of(w) == kForking) s.word.compare_exchange_strong(w, with_state(w, kFree));
    return;
  }
  s.pid.store(pid, std::memory_order_release);
  if (state_of(w) == kForking && s.word.compare_exchange_strong(w, with_state(w, kStarting)))
    futex_wake(&s.word);
}

void become_child(Process& proc, int slot) {
  if (!g_reg || slot < 0) return;
  // The parent's locks and server state are not this process's.
  g_ask_mu = new std::mutex;
  g_transfers = new std::vector<Transfer>;
  g_server_started = false;
  g_self = slot;
  g_proc = &proc;
  Slot& s = g_reg->slots[slot];
  s.start_time.store(own_start_time(), std::memory_order_release);
  s.pid.store(proc.pid, std::memory_order_release);
  uint32_t w = s.word.load(std::memory_order_acquire);
  if (state_of(w) == kForking && s.word.compare_exchange_strong(w, with_state(w, kStarting)))
    futex_wake(&s.word);
  start_server();
}

void leaving() {
  if (!g_reg || g_self < 0) return;
  Slot& s = g_reg->slots[g_self];
  uint32_t w = s.word.load(std::memory_order_acquire);
  if ((state_of(w) == kLive || state_of(w) == kStarting) &&
      s.word.compare_exchange_strong(w, with_state(w, kExiting))) {
    // Requesters waiting for this process look again now.
    int pid = s.pid.load();
    for (int i = 0; i < kSlots; i++) {
      Slot& r = g_reg->slots[i];
      uint32_t phase = r.req.load(std::memory_order_acquire) & 7;
      if ((phase == kPosted || phase == kTaken) && r.req_target.load() == pid) futex_wake(&r.req);
    }
  }
}

bool others_exist() {
  if (!g_reg) return false;
  for (int i = 0; i < kSlots; i++)
    if (i != g_self && state_of(g_reg->slots[i].word.load(std::memory_order_acquire)) != kFree)
      return true;
  return false;
}

std::optional<Peer> find(int pid) {
  if (!g_reg || g_self < 0 || pid <= 0 || pid == g_reg->slots[g_self].pid.load())
    return std::nullopt;
  bool forking = false;
  for (int i = 0; i < kSlots; i++) {
    Slot& s = g_reg->slots[i];
    uint32_t st = state_of(s.word.load(std::memory_order_acquire));
    if (st == kForking) forking = true;
    if ((st != kStarting && st != kLive && st != kExiting) || s.pid.load() != pid) continue;
    HostStat h = host_stat(pid);
    if (!h.exists) return std::nullopt;
    if (gone(s, pid, h)) continue;  // a stale slot: the pid is a host process's now
    return Peer{pid, s.fd_floor.load()};
  }
  if (!forking) return std::nullopt;
  // A child between its host fork and its registration: its host parent is
  // the elfuse that reserved a slot for it.
  HostStat h = host_stat(pid);
  if (!h.exists || host_tgid(pid) != pid) return std::nullopt;
  for (int i = 0; i < kSlots; i++) {
    Slot& s = g_reg->slots[i];
    if (state_of(s.word.load(std::memory_order_acquire)) == kForking && s.parent.load() == h.ppid)
      return Peer{pid, s.fd_floor.load()};
  }
  return std::nullopt;
}

Result<std::string> ask(int pid, Query q, uint32_t file, int tid, bool thread_level) {
  if (!g_reg || g_self < 0) return Errno{ENOENT};
  std::lock_guard lock(*g_ask_mu);
  // An answer that changed under a long transfer (its server dropped it)
  // is asked for again, twice at most.
  for (int attempt = 0; attempt < 3; attempt++) {
    std::string out;
    uint64_t offset = 0;
    uint32_t transfer = 0;
    for (;;) {
      uint32_t seq = 0;
      Result<uint64_t> total =
          request(pid, q, file, tid, thread_level, offset, transfer, out, &seq);
      if (!total.ok()) {
        if (total.error() == EAGAIN) break;
        return Errno{total.error()};
      }
      if (offset == 0) transfer = seq;
      if (out.size() >= *total || out.size() == offset) return out;
      offset = out.size();
    }
  }
  return Errno{EACCES};
}

Result<std::vector<int>> guest_tids(int pid) {
  std::string text = TRY(ask(pid, Query::kTasks));
  std::vector<int> tids;
  const char* p = text.c_str();
  while (*p) {
    char* end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    if (v > 0 && v <= INT_MAX) tids.push_back(static_cast<int>(v));
    p = end;
    while (*p == '\n') p++;
  }
  return tids;
}

}  // namespace elfuse::peer
