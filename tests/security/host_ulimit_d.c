// host_ulimit_v.c under `ulimit -d 4194304` (host_ulimit_d.ulimit): the
// reservation of guest memory is private writable memory, which the host
// counts against RLIMIT_DATA.
#include "host_ulimit_v.c"
