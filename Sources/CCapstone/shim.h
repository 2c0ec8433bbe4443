// Capstone (Debian's libcapstone-dev): decodes the kernel's x86-64 calls and
// jumps, the evidence behind "tail call" and "called beside the path".
#include <capstone/capstone.h>
