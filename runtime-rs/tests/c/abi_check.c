/* What every instrumented object does: reference the ABI check symbol.
 * That alone must pull in the runtime's constructor. */
#include "lucc_rt_abi.h"

char *volatile abi_ref = &__lucc_abi_version_1;

int main(void) { return abi_ref ? 0 : 1; }
