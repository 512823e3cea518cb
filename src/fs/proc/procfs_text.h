// The texts of the generated /proc files, shared by the files of src/fs/proc:
// procfs.cc (which file, the gate, the other processes of the run), maps.cc
// (maps, smaps, smaps_rollup, the mm counters) and status.cc (stat, statm,
// status, cmdline). Nothing outside src/fs/proc includes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "fs/proc/procfs.h"

namespace elfuse {

class MemoryManager;
struct Vma;

namespace procfs_text {

inline constexpr uint64_t kPage = 4096;

// ---- procfs.cc ----

// The whole of a host file; false when it cannot be read.
bool read_host_file(const std::string& path, std::string* out);
// The process's pid (the host's when it has none yet).
int own_pid(const Process& p);

// ---- maps.cc ----

// /proc/self/pagemap, on a private fd (none when it cannot be opened).
UniqueFd open_pagemap();
// fs/proc/task_mmu.c show_map_vma: the maps line of VMA `i`.
void show_map_vma(const Process& proc, const std::vector<Vma>& all, size_t i, std::string& out);
// fs/proc/task_mmu.c show_smap: the smaps block of VMA `i`.
void show_smap(const Process& proc, const std::vector<Vma>& all, size_t i, int pagemap_fd,
               std::string& out);
// fs/proc/task_mmu.c show_smaps_rollup.
std::string smaps_rollup_text(const Process& proc, const std::vector<Vma>& all, int pagemap_fd);

struct MmCounters {
  uint64_t total_vm = 0, data_vm = 0, stack_vm = 0, exec_vm = 0;  // pages
  uint64_t anon = 0, file = 0, shmem = 0, swap = 0;               // pages
  uint64_t pte_bytes = 0;
};
MmCounters mm_counters(const Process& proc, const std::vector<Vma>& all);
// The text's bytes, whole pages from start_code to end_code.
uint64_t text_bytes(const ExecLayout& l);

// ---- status.cc ----

std::string stat_text(Process& proc, const Thread& caller, const OwnProcTarget& t,
                      const std::vector<Vma>& all, const MmCounters& c);
std::string statm_text(const Process& proc, const MmCounters& c);
std::string status_text(Process& proc, const Thread& caller, const OwnProcTarget& t,
                        const MmCounters& c);
// access_remote_vm: as many bytes as can be read from [start, start+len).
std::string read_guest(MemoryManager& mm, uint64_t start, uint64_t len);
// fs/proc/base.c get_mm_cmdline.
std::string cmdline_text(Process& proc);

}  // namespace procfs_text
}  // namespace elfuse
