// elfuse's command line: parse_options turns the arguments into Options, or
// into the message a usage error prints. Pure (no host call, no exit), so
// that the unit tests check every form and every refusal
// (tests/unit/test_options.cc); src/main.cc acts on the result, and
// src/sandbox/ applies the sandbox controls (issue 17: --env, --clear-env,
// --workdir, --timeout, --cpu-time, --max-file-size, --nofile, --report).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hv/hypervisor.h"

namespace elfuse {

struct Options {
  bool trace = false;
  std::string trace_file;
  bool no_aslr = false;
  bool no_vdso = false;
  std::string sysroot;             // --sysroot DIR; empty: the host's root
  std::optional<Backend> backend;  // --backend=KIND, when given

  // Sandbox controls; all unset by default, and then elfuse behaves as
  // without them.
  std::vector<std::string> env;        // --env NAME=VALUE, in order
  bool clear_env = false;              // --clear-env
  std::string workdir;                 // --workdir DIR; empty: elfuse's own cwd (or the root's /)
  std::optional<uint64_t> timeout_ns;  // --timeout SECONDS (wall clock)
  std::optional<uint64_t> cpu_time_s;  // --cpu-time SECONDS (RLIMIT_CPU soft)
  std::optional<uint64_t> max_file_size;  // --max-file-size SIZE (RLIMIT_FSIZE, bytes)
  std::optional<uint64_t> nofile;         // --nofile N (RLIMIT_NOFILE soft = hard)
  std::string report;                     // --report=FILE; empty: none

  std::vector<std::string> argv;  // PROGRAM ARGS...

  // --timeout and --report need a supervising elfuse process above the
  // sandbox (src/sandbox/supervisor.h).
  bool supervised() const { return timeout_ns.has_value() || !report.empty(); }
};

struct ParsedCommandLine {
  enum class Action {
    kRun,      // options holds what to run
    kHelp,     // --help: usage on stdout, exit 0
    kVersion,  // --version: exit 0
    kUsage,    // no PROGRAM: usage on stderr, exit 2
    kError,    // error holds the message (without "elfuse: "), exit 2
  };
  Action action = Action::kRun;
  Options options;  // the options before --help/--version are in it too
  std::string error;
};

// args: argv[1..]. Options stop at the first word that is not one, or
// after "--"; the rest is PROGRAM ARGS.
ParsedCommandLine parse_options(const std::vector<std::string>& args);

// The guest's first environment: `inherited` (elfuse's own), or nothing
// with clear_env, then each NAME=VALUE of `set` replacing a variable of
// that name in place or appended, as env(1) does.
std::vector<std::string> guest_environment(const std::vector<std::string>& inherited,
                                           bool clear_env, const std::vector<std::string>& set);

}  // namespace elfuse
