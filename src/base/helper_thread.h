// A host thread of elfuse's own that runs no guest code: created detached
// (nobody joins it; it ends with the process) with every host signal
// blocked, so that it never takes a signal meant for the guest's threads
// (the mask is set around pthread_create, which the new thread inherits).
#pragma once

#include <cstddef>

namespace elfuse {

// 0, or pthread_create's error. `stack_size` 0: the default.
int start_helper_thread(void* (*fn)(void*), void* arg, size_t stack_size = 0);

}  // namespace elfuse
