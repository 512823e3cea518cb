// The guest's syscall entry as the host sees it: values it answers getpid &
// co with, and the exitless channel through which it hands a syscall to a
// host worker thread without leaving the guest (docs/internals.md,
// "Syscalls without an exit"). The memory lives in guest-physical pages the
// backend places (PVM: src/shim/shim_abi.h); this header is the protocol.
// A backend without such an entry returns nullptr from Vcpu::entry() and
// Vm::process_page(), and every syscall takes the exit.
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <cstring>

#include "shim/shim_abi.h"

namespace elfuse {

// Per-thread ids the entry answers with. Negative: the host answers.
struct GuestIds {
  int64_t tid = -1, uid = -1, euid = -1, gid = -1, egid = -1;
};

// One syscall as the worker read it from the request page (once).
struct ChannelCall {
  uint64_t nr;
  uint64_t a[6];
};

// The process page: pid and ppid answers, and the count of threads in a
// host futex wait, which the entry's FUTEX_WAKE_PRIVATE answer depends on.
// Read by the guest, written by the host only.
class GuestProcessPage {
 public:
  explicit GuestProcessPage(uint8_t* page) : page_(page) {}
  void set_pid(int64_t pid) { word64(SHIM_P_PID).store(pid, std::memory_order_release); }
  void set_ppid(int64_t ppid) { word64(SHIM_P_PPID).store(ppid, std::memory_order_release); }
  int64_t ppid() const { return word64(SHIM_P_PPID).load(std::memory_order_relaxed); }
  // Raised around every host futex wait of a guest thread; bit 31 keeps the
  // entry from answering FUTEX_WAKE_PRIVATE at all.
  std::atomic<uint32_t>& futex_waiters() {
    return *reinterpret_cast<std::atomic<uint32_t>*>(page_ + SHIM_P_FUTEX_WAITERS);
  }
  static constexpr uint32_t kFutexHostOnly = 1u << 31;

 private:
  std::atomic<int64_t>& word64(uint64_t off) const {
    return *reinterpret_cast<std::atomic<int64_t>*>(page_ + off);
  }
  uint8_t* page_;
};

// One vCPU's entry data (read-only to the guest) and request page
// (guest-writable: every field is hostile input, read once).
class GuestEntry {
 public:
  GuestEntry(uint8_t* entry_page, uint8_t* request_page) : entry_(entry_page), req_(request_page) {}

  // Host settings.
  void set_ids(const GuestIds& ids) {
    e64(SHIM_E_TID).store(ids.tid, std::memory_order_relaxed);
    e64(SHIM_E_UID).store(ids.uid, std::memory_order_relaxed);
    e64(SHIM_E_EUID).store(ids.euid, std::memory_order_relaxed);
    e64(SHIM_E_GID).store(ids.gid, std::memory_order_relaxed);
    e64(SHIM_E_EGID).store(ids.egid, std::memory_order_release);
  }
  // The syscalls the entry may post; none: every call takes the exit.
  void set_allowed(const std::bitset<SHIM_CHANNEL_NRS>& nrs) {
    for (unsigned w = 0; w < SHIM_CHANNEL_NRS / 64; w++) {
      uint64_t bits = 0;
      for (unsigned b = 0; b < 64; b++)
        if (nrs[w * 64 + b]) bits |= uint64_t{1} << b;
      reinterpret_cast<std::atomic<uint64_t>*>(entry_ + SHIM_E_ALLOW)[w].store(
          bits, std::memory_order_release);
    }
  }
  // How long the entry waits for an answer before it exits (the guest's
  // TSC counts at tsc_khz, which the backend reports; 0: unknown, and the
  // entry waits 1 tick: it exits at once unless the answer is there).
  void set_tsc_khz(uint64_t khz) { tsc_khz_ = khz; }
  void set_spin_us(uint64_t us) {
    uint64_t ticks = tsc_khz_ ? us * tsc_khz_ / 1000 : 1;
    reinterpret_cast<std::atomic<uint64_t>*>(entry_ + SHIM_E_SPIN_TICKS)
        ->store(ticks, std::memory_order_release);
  }
  void set_ppid_budget(int32_t n) { r32(SHIM_R_PPID_BUDGET).store(n, std::memory_order_relaxed); }

  // Worker side.
  void set_worker_awake(bool awake) {
    r32(SHIM_R_AWAKE).store(awake ? 1 : 0, std::memory_order_seq_cst);
  }
  bool posted() const {
    return r32(SHIM_R_STATE).load(std::memory_order_acquire) == SHIM_REQ_POSTED;
  }
  // Takes a posted call; false when there is none (or the entry took it
  // back first). The number and arguments are copied out once.
  bool claim(ChannelCall* call) {
    uint32_t expect = SHIM_REQ_POSTED;
    if (!r32(SHIM_R_STATE)
             .compare_exchange_strong(expect, SHIM_REQ_CLAIMED, std::memory_order_acq_rel))
      return false;
    call->nr = r64(SHIM_R_NR).load(std::memory_order_relaxed);
    for (int i = 0; i < 6; i++)
      call->a[i] = r64(SHIM_R_ARGS + 8 * i).load(std::memory_order_relaxed);
    return true;
  }
  void answer(int64_t result) {
    r64(SHIM_R_RESULT).store(static_cast<uint64_t>(result), std::memory_order_relaxed);
    r32(SHIM_R_STATE).store(SHIM_REQ_DONE, std::memory_order_release);
  }
  void refuse() { r32(SHIM_R_STATE).store(SHIM_REQ_REFUSED, std::memory_order_release); }

  // vCPU thread side, at an exit.
  uint32_t state() const { return r32(SHIM_R_STATE).load(std::memory_order_acquire); }
  void reset() { r32(SHIM_R_STATE).store(SHIM_REQ_IDLE, std::memory_order_release); }

  // Back to a fresh vCPU's state (nothing allowed, nothing posted).
  void clear() {
    memset(entry_ + SHIM_E_DATA, 0, 4096 - SHIM_E_DATA);
    set_ids(GuestIds{});
    memset(req_, 0, 4096);
  }

 private:
  std::atomic<int64_t>& e64(uint64_t off) {
    return *reinterpret_cast<std::atomic<int64_t>*>(entry_ + off);
  }
  std::atomic<uint64_t>& r64(uint64_t off) const {
    return *reinterpret_cast<std::atomic<uint64_t>*>(req_ + off);
  }
  std::atomic<uint32_t>& r32(uint64_t off) const {
    return *reinterpret_cast<std::atomic<uint32_t>*>(req_ + off);
  }
  uint8_t* entry_;
  uint8_t* req_;
  uint64_t tsc_khz_ = 0;
};

}  // namespace elfuse
