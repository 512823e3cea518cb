// A guest test's own directory. own_dir_enter() makes a fresh directory
// (mkdtemp) in the working directory, with the mode mkdir gives, and makes it
// the working directory; it is removed, with what is in it, when the process
// that made it exits (exit or a return from main; a forked child's exit
// leaves it to its parent; after an execve, see own_dir_adopt). A test that creates files with
// relative names calls it first: it then writes only into a directory of its own wherever it is run
// (tests/compare.sh runs it in a fresh empty directory, the same path natively and under elfuse).
// It prints nothing; when the directory cannot be made the test stays where it is.
#ifndef ELFUSE_TESTS_GUEST_OWN_DIR_H
#define ELFUSE_TESTS_GUEST_OWN_DIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char own_dir_path_[4096];
static pid_t own_dir_pid_;

static inline int own_dir_remove_(const char* path, const struct stat* st, int flag,
                                  struct FTW* ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

static inline void own_dir_leave_(void) {
  if (getpid() != own_dir_pid_) return;
  nftw(own_dir_path_, own_dir_remove_, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void own_dir_enter(void) {
  char cwd[4000];
  char name[] = "own.XXXXXX";
  if (!getcwd(cwd, sizeof cwd) || !mkdtemp(name)) return;
  mode_t mask = umask(0);
  umask(mask);
  chmod(name, 0777 & ~mask);
  if (chdir(name) != 0) return;
  snprintf(own_dir_path_, sizeof own_dir_path_, "%s/%s", cwd, name);
  own_dir_pid_ = getpid();
  atexit(own_dir_leave_);
}

// In a program that execs itself from its own directory: the new image
// takes the directory over and removes it when it exits. Only a directory
// own_dir_enter made (named own.*) is taken.
static inline void own_dir_adopt(void) {
  if (!getcwd(own_dir_path_, sizeof own_dir_path_)) return;
  const char* base = strrchr(own_dir_path_, '/');
  if (!base || strncmp(base + 1, "own.", 4) != 0) return;
  own_dir_pid_ = getpid();
  atexit(own_dir_leave_);
}

#endif
