// AddressSpace: the guest's VMAs, kept sorted and non-overlapping. Pure
// bookkeeping: no page tables, no physical memory. Splitting and merging
// follow Linux (mm/vma.c vma_merge / split_vma, mm/mprotect.c).
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/checked.h"
#include "base/result.h"

namespace elfuse {

inline constexpr int kProtRWX = PROT_READ | PROT_WRITE | PROT_EXEC;

struct Vma {
  // kHost: read-only host memory outside the reservation, at guest-physical
  // `phys` (a memslot over it; MemoryManager::map_special): the host
  // vDSO's data pages.
  enum Backing { kAnon, kSharedAnon, kFile, kShm, kHost };
  // mlock state (the kernel's VM_LOCKED and VM_LOCKONFAULT).
  enum Lock { kUnlocked = 0, kLocked = 1, kLockedOnFault = 2 };

  uint64_t start = 0, end = 0;  // [start, end), page aligned
  int prot = PROT_NONE;
  // mprotect beyond this is EACCES (mm/mprotect.c: VM_MAY* bits). A shared
  // mapping of a file not open for writing lacks PROT_WRITE; a file on a
  // noexec mount lacks PROT_EXEC. Copied to every piece on split, compared
  // on merge, carried by mremap and (as host memory) by fork.
  int max_prot = kProtRWX;
  int flags = MAP_PRIVATE;  // MAP_PRIVATE / MAP_SHARED / MAP_GROWSDOWN / MAP_NORESERVE
  // kFile and kSharedAnon runs are overlaid by a host mapping of the file
  // (kSharedAnon: a host memfd); see docs/internals.md "File mappings".
  // kShm runs are a host shmat(2) of a System V segment ("System V shared
  // memory" there).
  Backing backing = kAnon;
  uint64_t phys = 0;  // guest-physical address of `start`; the run is contiguous
  // The file of a kFile / kSharedAnon VMA (st_dev, st_ino of the host file
  // or memfd): two VMAs merge only when they map the same file.
  uint64_t file_dev = 0, file_ino = 0;
  uint64_t file_offset = 0;  // offset in the file of `start` (kFile, kSharedAnon)
  std::string name;          // "[heap]", "[stack]", a path, or ""
  // A mapping the kernel made itself (install_special_mapping: [vvar],
  // [vvar_vclock], [vdso]): never merged, never split (EINVAL), never
  // grown (EFAULT); it keeps its name wherever mremap moves it.
  bool special = false;
  // kShm: which shmat call made this VMA (the kernel's per-attach struct
  // file: shmdt(2) only detaches the pieces of one attach) and the
  // segment's size (shm_segsz) at that attach.
  uint64_t shm_attach = 0, shm_size = 0;
  Lock lock = kUnlocked;
  // madvise fork advice (mm/madvise.c): VM_WIPEONFORK (a private anonymous
  // VMA whose pages a forked child gets as zeros) and VM_DONTCOPY (a VMA
  // a forked child does not get at all). Applied in the child by
  // MemoryManager::fork_advice_in_child; copied on split, compared on merge.
  bool wipe_on_fork = false;
  bool dont_fork = false;
  // mseal(2) (VM_SEALED): munmap, mremap, mmap(MAP_FIXED) over it,
  // mprotect and discarding madvise on it are EPERM (mm/mseal.c). Never
  // cleared; kept by fork (the child's memory is a copy of the parent's
  // VMAs), gone at execve (a new address space). Copied on split, compared
  // on merge.
  bool sealed = false;

  uint64_t len() const { return end - start; }
  bool contains(uint64_t addr) const { return addr >= start && addr < end; }
  uint64_t phys_of(uint64_t va) const { return phys + (va - start); }
  // True when the run is a host mapping of a file or memfd, not a piece of
  // the anonymous reservation.
  bool overlay() const { return backing != kAnon && backing != kHost; }
  // The part of this VMA inside [s, e) (which must intersect it), with phys
  // and file_offset shifted to match.
  Vma clipped(uint64_t s, uint64_t e) const;
};

// True when b can follow a directly as one VMA (Linux is_mergeable_vma plus
// our contiguity of the physical run).
bool vmas_mergeable(const Vma& a, const Vma& b);

class AddressSpace {
 public:
  using Map = std::map<uint64_t, Vma>;  // keyed by start

  class const_iterator {
   public:
    explicit const_iterator(Map::const_iterator it) : it_(it) {}
    const Vma& operator*() const { return it_->second; }
    const Vma* operator->() const { return &it_->second; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return it_ == o.it_; }
    bool operator!=(const const_iterator& o) const { return it_ != o.it_; }

   private:
    Map::const_iterator it_;
  };

  const_iterator begin() const { return const_iterator(vmas_.begin()); }
  const_iterator end() const { return const_iterator(vmas_.end()); }
  size_t size() const { return vmas_.size(); }
  bool empty() const { return vmas_.empty(); }

  // The VMA containing addr, or nullptr.
  const Vma* find(uint64_t addr) const;
  // The first VMA with end > addr (Linux find_vma), or nullptr.
  const Vma* find_next(uint64_t addr) const;
  // The last VMA with start < addr, or nullptr.
  const Vma* find_prev(uint64_t addr) const;

  // Adds v; [v.start, v.end) must be free (checked: returns EEXIST otherwise,
  // EINVAL for an empty or unaligned range). Merges with neighbours.
  Result<void> insert(Vma v);
  // Removes [start, end), splitting VMAs at the edges. Returns the removed
  // pieces (clipped), in address order. Holes are fine.
  std::vector<Vma> remove(uint64_t start, uint64_t end);
  // Sets prot on [start, end). ENOMEM if any page is unmapped, EACCES if prot
  // exceeds a piece's max_prot; both are checked before anything changes
  // (Linux mprotect may have changed earlier VMAs by then; we do not).
  // Returns the pieces with their old state, clipped to [start, end).
  Result<std::vector<Vma>> protect(uint64_t start, uint64_t end, int prot);

  // Sets the mlock state of [start, end), which must be fully mapped
  // (mm/mlock.c mlock_fixup: splits at the edges, merges where it can
  // unless !merge: fork's dup_mmap clears the locks VMA by VMA).
  // Returns the pieces with their old state, clipped to [start, end).
  std::vector<Vma> set_lock(uint64_t start, uint64_t end, Vma::Lock lock, bool merge = true);

  // Sets a flag of every VMA piece in [start, end) (madvise's fork
  // advice): splits at the edges, merges where it can.
  void set_flag(uint64_t start, uint64_t end, bool Vma::*flag, bool value);

  // remap_file_pages: [start, end), fully mapped, maps its file from
  // `offset` on (split at the edges, merged where offsets continue).
  void set_file_offset(uint64_t start, uint64_t end, uint64_t offset);

  // Highest a with [a, a+len) inside [low, high), free, and
  // a % align == offset % align (align a power of two >= 4 KiB).
  std::optional<uint64_t> find_gap_top_down(uint64_t len, uint64_t low, uint64_t high,
                                            uint64_t align = kPageSize, uint64_t offset = 0) const;
  bool range_free(uint64_t start, uint64_t end) const;
  bool range_fully_mapped(uint64_t start, uint64_t end) const;
  // Copies of the VMAs intersecting [start, end), clipped to it.
  std::vector<Vma> pieces(uint64_t start, uint64_t end) const;

 private:
  // Splits the VMA containing addr so that a VMA starts at addr (no-op when
  // addr is a boundary or unmapped).
  void split_at(uint64_t addr);
  // Merges each VMA touching [start, end] (and its neighbours) where possible.
  void merge_around(uint64_t start, uint64_t end);

  Map vmas_;
};

}  // namespace elfuse
