// libelf and libdw (elfutils): ELF symbols, DWARF lines and libdwfl unwinding
// for the user side of a trace.
#include <elfutils/libdwfl.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <gelf.h>
#include <libelf.h>
