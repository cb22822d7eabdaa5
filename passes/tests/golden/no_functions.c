// A unit with no functions still carries a fragment (its globals matter).
// CHECK-SITES: 0
// CHECK-WRAPPERS: 0
// CHECK-IR: @__lucc_fragment = private constant
int table[4] = {1, 2, 3, 4};
const char *name = "units";
