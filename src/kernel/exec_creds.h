// The capability sets and AT_SECURE of an execve (security/commoncap.c
// cap_bprm_creds_from_file), for a file that brings no privilege of its
// own: elfuse treats every executable as on a nosuid mount (fs/exec.c
// bprm_fill_uid and commoncap.c get_file_caps skip the set-user-ID and
// set-group-ID bits and the file capabilities there), since a guest
// process is a host thread whose credentials elfuse can only lower.
#pragma once

#include <cstdint>

namespace elfuse {

struct ExecCredsInput {
  // The thread's sets before the execve (bit n: capability n).
  uint64_t permitted = 0, effective = 0, inheritable = 0, bounding = 0, ambient = 0;
  uint32_t ruid = 0, euid = 0;
  bool noroot = false;        // SECBIT_NOROOT: uid 0 gets no capabilities
  bool no_new_privs = false;  // PR_SET_NO_NEW_PRIVS (LSM_UNSAFE_NO_NEW_PRIVS)
};

struct ExecCredsResult {
  uint64_t permitted = 0, effective = 0, ambient = 0;
  bool secure = false;  // AT_SECURE (bprm->secureexec)
};

// pP' = (root: bounding | pI) | pA, pE' = (euid 0: pP') or pA, pA' = pA;
// with no_new_privs, pP' gains nothing over pP. The inheritable and
// bounding sets do not change. AT_SECURE: a real uid other than 0 with an
// effective uid 0, or permitted capabilities beyond the ambient ones.
inline ExecCredsResult exec_capabilities(const ExecCredsInput& in) {
  ExecCredsResult out;
  uint64_t permitted = 0;
  bool effective = false;
  // handle_privileged_root: uid 0 (real or effective) as if the file had
  // every capability, unless SECBIT_NOROOT; an effective uid 0 makes them
  // effective.
  if (!in.noroot) {
    if (in.euid == 0 || in.ruid == 0) permitted = in.bounding | in.inheritable;
    if (in.euid == 0) effective = true;
  }
  // No new privileges: no more than it had.
  if ((permitted & ~in.permitted) && in.no_new_privs) permitted &= in.permitted;
  out.ambient = in.ambient;  // cleared only by file capabilities or set*id bits
  out.permitted = permitted | out.ambient;
  out.effective = effective ? out.permitted : out.ambient;
  out.secure = in.ruid != 0 && (effective || (out.permitted & ~out.ambient));
  return out;
}

}  // namespace elfuse
