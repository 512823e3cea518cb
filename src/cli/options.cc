#include "cli/options.h"

#include <cstddef>

namespace elfuse {
namespace {

// A decimal number of digits only, no sign, no overflow.
std::optional<uint64_t> parse_unsigned(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// SECONDS as timeout(1) takes it: a decimal number, a fraction allowed,
// then an optional unit s, m, h or d. Nanoseconds; nullopt when malformed,
// zero or above 10^9 seconds.
std::optional<uint64_t> parse_duration_ns(std::string s) {
  constexpr uint64_t kMaxSeconds = 1000000000ull;
  uint64_t unit = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 's':
        unit = 1;
        s.pop_back();
        break;
      case 'm':
        unit = 60;
        s.pop_back();
        break;
      case 'h':
        unit = 3600;
        s.pop_back();
        break;
      case 'd':
        unit = 86400;
        s.pop_back();
        break;
      default:
        break;
    }
  }
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot);
  std::string frac = dot == std::string::npos ? std::string() : s.substr(dot + 1);
  if (whole.empty() && frac.empty()) return std::nullopt;
  std::optional<uint64_t> w = whole.empty() ? std::optional<uint64_t>(0) : parse_unsigned(whole);
  if (!w || *w > kMaxSeconds / unit) return std::nullopt;
  uint64_t ns = 0, scale = 100000000;  // the first digit of the fraction is 10^8 ns
  for (char c : frac) {
    if (c < '0' || c > '9') return std::nullopt;
    ns += static_cast<uint64_t>(c - '0') * scale;
    scale /= 10;
  }
  uint64_t total = (*w * 1000000000ull + ns) * unit;
  if (total == 0) return std::nullopt;
  return total;
}

// SIZE: bytes, or with a suffix K, M, G or T for KiB, MiB, GiB, TiB.
std::optional<uint64_t> parse_size(std::string s) {
  int shift = 0;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        break;
    }
    if (shift) s.pop_back();
  }
  std::optional<uint64_t> v = parse_unsigned(s);
  if (!v || *v > (~0ull >> (shift + 1))) return std::nullopt;
  return *v << shift;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

ParsedCommandLine parse_options(const std::vector<std::string>& args) {
  using Action = ParsedCommandLine::Action;
  ParsedCommandLine r;
  Options& o = r.options;
  auto error = [&](std::string message) {
    r.action = Action::kError;
    r.error = std::move(message) + " (see elfuse --help)";
    return r;
  };
  size_t i = 0;
  // An option with a value: "--name VALUE" or "--name=VALUE". Sets
  // `value` and returns true when args[i] is that option; `missing` then
  // says the value was absent.
  bool missing = false;
  std::string value;
  auto with_value = [&](const std::string& a, const std::string& name) {
    missing = false;
    if (a == name) {
      if (i + 1 >= args.size()) {
        missing = true;
        value.clear();
      } else {
        value = args[++i];
      }
      return true;
    }
    if (starts_with(a, (name + "=").c_str())) {
      value = a.substr(name.size() + 1);
      return true;
    }
    return false;
  };
  for (; i < args.size(); i++) {
    const std::string a = args[i];
    if (a == "--") {
      i++;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    if (a == "--trace") {
      o.trace = true;
    } else if (starts_with(a, "--trace=")) {
      o.trace = true;
      o.trace_file = a.substr(8);
    } else if (a == "--no-aslr") {
      o.no_aslr = true;
    } else if (a == "--no-vdso") {
      o.no_vdso = true;
    } else if (with_value(a, "--sysroot")) {
      if (value.empty()) return error("--sysroot needs a directory");
      o.sysroot = value;
    } else if (with_value(a, "--backend")) {
      if (value == "pvm") {
        o.backend = Backend::kPvm;
      } else if (value == "hardware" || value == "hw") {
        o.backend = Backend::kHardware;
      } else if (value == "auto") {
        o.backend = Backend::kAuto;
      } else {
        return error("--backend needs pvm, hardware or auto");
      }
    } else if (with_value(a, "--env")) {
      size_t eq = value.find('=');
      if (missing || eq == std::string::npos || eq == 0)
        return error("--env needs NAME=VALUE" +
                     (missing ? std::string() : ", not '" + value + "'"));
      o.env.push_back(value);
    } else if (a == "--clear-env") {
      o.clear_env = true;
    } else if (with_value(a, "--workdir")) {
      if (value.empty()) return error("--workdir needs a directory");
      o.workdir = value;
    } else if (with_value(a, "--timeout")) {
      o.timeout_ns = parse_duration_ns(value);
      if (!o.timeout_ns)
        return error(
            "--timeout needs a number of seconds above 0 (a fraction and a unit s, m, h "
            "or d allowed), not '" +
            value + "'");
    } else if (with_value(a, "--cpu-time")) {
      o.cpu_time_s = parse_unsigned(value);
      if (!o.cpu_time_s || *o.cpu_time_s == 0 || *o.cpu_time_s > 1000000000ull)
        return error("--cpu-time needs a whole number of seconds above 0, not '" + value + "'");
    } else if (with_value(a, "--max-file-size")) {
      o.max_file_size = parse_size(value);
      if (missing || !o.max_file_size)
        return error(
            "--max-file-size needs a size in bytes (K, M, G or T for KiB, MiB, GiB, "
            "TiB), not '" +
            value + "'");
    } else if (with_value(a, "--nofile")) {
      o.nofile = parse_unsigned(value);
      if (!o.nofile || *o.nofile > (1u << 30))
        return error("--nofile needs a number of descriptors, not '" + value + "'");
    } else if (with_value(a, "--report")) {
      if (value.empty()) return error("--report needs a file name");
      o.report = value;
    } else if (a == "--help" || a == "-h") {
      r.action = Action::kHelp;
      return r;
    } else if (a == "--version") {
      r.action = Action::kVersion;
      return r;
    } else {
      return error("unknown option '" + a + "'");
    }
  }
  for (; i < args.size(); i++) o.argv.push_back(args[i]);
  if (o.argv.empty()) r.action = Action::kUsage;
  return r;
}

std::vector<std::string> guest_environment(const std::vector<std::string>& inherited,
                                           bool clear_env, const std::vector<std::string>& set) {
  std::vector<std::string> env;
  if (!clear_env) env = inherited;
  for (const std::string& kv : set) {
    std::string name = kv.substr(0, kv.find('=') + 1);  // "NAME="
    bool replaced = false;
    for (std::string& e : env) {
      if (starts_with(e, name.c_str())) {
        e = kv;
        replaced = true;
        break;
      }
    }
    if (!replaced) env.push_back(kv);
  }
  return env;
}

}  // namespace elfuse
