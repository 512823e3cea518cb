// The guest can use every descriptor below the RLIMIT_NOFILE it reads, even
// when elfuse cannot raise its own host limit above the guest's (the lane
// runs this under a hard limit of fs.nr_open, nofile_usable.ulimit):
// elfuse's private descriptors never take part of the guest's range
// (tests/guest/rlimit_nofile.c without the table of other limits, whose
// RLIMIT_NOFILE line then differs from the native one).
#define NOFILE_ONLY 1
#include "rlimit_nofile.c"
