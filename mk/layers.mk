# SPDX-License-Identifier: MIT
# The library's layers (src/README.md): test/layers.sh checks the includes of
# src/, where public fl_* functions are defined, and (from the objects) that
# no layer calls up into a higher one.
#   make test-layers
TEST_STEPS += test-layers
.PHONY: test-layers

test-layers: $(CORE_OBJ) $(OVERRIDE_OBJ)
	@CC="$(CC)" test/layers.sh src $(B)/obj/src
